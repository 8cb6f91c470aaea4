"""Cluster edits over HTTP, on a private copy of the clustered demo corpus: rename, merge, move
and canonical, each recorded as made by the token's name and seen by the next search."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.http.app import create_app
from app.service import Service
from db.cluster_queries import cluster_members, cluster_views, latest_run
from db.models import ClusterEdit, ClusterMember, DuplicateGroup, Question
from db.queries import get_corpus
from indexer.encoder import Encoder
from tests.app.conftest import CLUSTERED, UiCorpus
from tests.app.http.conftest import (
    TEST_HOSTS,
    Tokens,
    bearer,
    make_tokens,
    private_copy,
    service_for,
)


@pytest.fixture(scope="module")
def edited(
    clustered_corpus: UiCorpus, tmp_path_factory: pytest.TempPathFactory, default_encoder: Encoder
) -> Service:
    return service_for(private_copy(clustered_corpus, tmp_path_factory), default_encoder)


@pytest.fixture(scope="module")
def edit_tokens(edited: Service) -> Tokens:
    return make_tokens(edited)


@pytest.fixture(scope="module")
def edit_client(edited: Service) -> Iterator[TestClient]:
    with TestClient(create_app(edited, allowed_hosts=TEST_HOSTS)) as client:
        yield client


def run_id(service: Service) -> int:
    with service.sessions() as session:
        run = latest_run(session, get_corpus(session, CLUSTERED).id)
        assert run is not None
        return run.id


def cluster_keys(service: Service) -> list[int]:
    with service.sessions() as session:
        run = latest_run(session, get_corpus(session, CLUSTERED).id)
        assert run is not None
        return [view.key for view in cluster_views(session, run) if view.key >= 0]


def members(service: Service, key: int) -> list[int]:
    with service.sessions() as session:
        return [m.question_id for m in cluster_members(session, run_id(service), key, limit=1000)]


def edits_by(service: Service) -> set[str]:
    with service.sessions() as session:
        return set(session.scalars(select(ClusterEdit.created_by)))


def test_rename_a_cluster_and_search_shows_the_name(
    edit_client: TestClient, edit_tokens: Tokens, edited: Service
) -> None:
    key = cluster_keys(edited)[0]
    first = members(edited, key)[0]
    url = f"/v1/corpora/{CLUSTERED}/clusters/{key}/name"
    response = edit_client.put(url, json={"name": "Passwords"}, headers=bearer(edit_tokens.write))
    assert response.status_code == 200, response.text
    assert response.json() == {"corpus": CLUSTERED, "cluster": key, "name": "Passwords"}
    with edited.sessions() as session:
        text = session.get_one(Question, first).text
    hit = edited.search(CLUSTERED, text, 1).hits[0]
    assert (hit.cluster, hit.cluster_name) == (key, "Passwords")


def test_rename_an_unknown_cluster_is_a_404(edit_client: TestClient, edit_tokens: Tokens) -> None:
    url = f"/v1/corpora/{CLUSTERED}/clusters/99999/name"
    response = edit_client.put(url, json={"name": "x"}, headers=bearer(edit_tokens.write))
    assert response.status_code == 404
    assert "has no cluster 99999" in response.json()["error"]


def test_merge_two_clusters(edit_client: TestClient, edit_tokens: Tokens, edited: Service) -> None:
    source, target = cluster_keys(edited)[-2:]
    moving = members(edited, source)
    url = f"/v1/corpora/{CLUSTERED}/clusters/{source}/merge"
    response = edit_client.post(url, json={"into": target}, headers=bearer(edit_tokens.write))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "corpus": CLUSTERED,
        "cluster": source,
        "into": target,
        "moved": len(moving),
    }
    assert set(moving) <= set(members(edited, target))
    assert "writer" in edits_by(edited)


def test_merge_into_itself_is_a_400(
    edit_client: TestClient, edit_tokens: Tokens, edited: Service
) -> None:
    key = cluster_keys(edited)[0]
    url = f"/v1/corpora/{CLUSTERED}/clusters/{key}/merge"
    response = edit_client.post(url, json={"into": key}, headers=bearer(edit_tokens.write))
    assert response.status_code == 400
    assert "two different clusters" in response.json()["error"]


def test_move_a_question_out_and_back(
    edit_client: TestClient, edit_tokens: Tokens, edited: Service
) -> None:
    key = cluster_keys(edited)[0]
    question = members(edited, key)[-1]
    url = f"/v1/corpora/{CLUSTERED}/questions/{question}/move"
    response = edit_client.post(url, json={"cluster": -1}, headers=bearer(edit_tokens.write))
    assert response.status_code == 200, response.text
    assert question in members(edited, -1)
    response = edit_client.post(url, json={"cluster": key}, headers=bearer(edit_tokens.write))
    assert response.status_code == 200
    assert question in members(edited, key)


def test_move_an_unknown_question_is_a_404(edit_client: TestClient, edit_tokens: Tokens) -> None:
    url = f"/v1/corpora/{CLUSTERED}/questions/987654/move"
    response = edit_client.post(url, json={"cluster": -1}, headers=bearer(edit_tokens.write))
    assert response.status_code == 404


def test_mark_a_question_canonical(
    edit_client: TestClient, edit_tokens: Tokens, edited: Service
) -> None:
    with edited.sessions() as session:
        group = session.scalars(
            select(DuplicateGroup)
            .where(DuplicateGroup.run_id == run_id(edited), DuplicateGroup.size >= 2)
            .order_by(DuplicateGroup.id)
        ).first()
        assert group is not None, "the demo corpus has near-duplicate groups"
        other = session.scalars(
            select(ClusterMember.question_id).where(
                ClusterMember.group_id == group.id,
                ClusterMember.question_id != group.canonical_id,
            )
        ).first()
        group_id = group.id
    url = f"/v1/corpora/{CLUSTERED}/questions/{other}/canonical"
    response = edit_client.post(url, headers=bearer(edit_tokens.write))
    assert response.status_code == 200, response.text
    assert response.json() == {"corpus": CLUSTERED, "question_id": other, "by": "writer"}
    with edited.sessions() as session:
        assert session.get_one(DuplicateGroup, group_id).canonical_id == other


def test_a_new_cluster_then_undone(
    edit_client: TestClient, edit_tokens: Tokens, edited: Service
) -> None:
    first, second = cluster_keys(edited)[:2]
    chosen = members(edited, first)[:2] + members(edited, second)[:1]
    before = {key: members(edited, key) for key in cluster_keys(edited)}
    write = bearer(edit_tokens.write)
    url = f"/v1/corpora/{CLUSTERED}/clusters"
    response = edit_client.post(url, json={"name": "Picked", "question_ids": chosen}, headers=write)
    assert response.status_code == 201, response.text
    made = response.json()["cluster"]
    assert response.json() == {
        "corpus": CLUSTERED,
        "cluster": made,
        "name": "Picked",
        "questions": 3,
    }
    assert sorted(members(edited, made)) == sorted(chosen)
    assert edited.search(CLUSTERED, "x", 1).hits  # still answers
    unknown = edit_client.post(
        url, json={"name": "x", "question_ids": [chosen[0], 987654]}, headers=write
    )
    assert unknown.status_code == 404
    assert "1 of the chosen questions are not in clustering run" in unknown.json()["error"]
    short = edit_client.post(url, json={"name": "x", "question_ids": [chosen[0]]}, headers=write)
    assert short.status_code == 422

    undo = f"/v1/corpora/{CLUSTERED}/edits/undo"
    assert edit_client.post(undo, headers=bearer(edit_tokens.read)).status_code == 403
    response = edit_client.post(undo, headers=write)
    assert response.status_code == 200, response.text
    assert response.json() == {"corpus": CLUSTERED, "kind": "new", "cluster": made, "questions": 3}
    assert made not in cluster_keys(edited)
    assert {key: members(edited, key) for key in cluster_keys(edited)} == before
