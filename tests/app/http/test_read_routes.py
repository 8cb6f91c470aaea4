"""The read routes answer what the service answers, as JSON, with a read token."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.service import Service
from tests.app.conftest import CORPUS, SUPPORT_QUESTIONS
from tests.app.http.conftest import Tokens, bearer

MATCH_FIELDS = {
    "question_id",
    "external_id",
    "text",
    "score",
    "cluster",
    "cluster_name",
    "canonical_id",
    "canonical_text",
}


def get(client: TestClient, tokens: Tokens, url: str, **params: Any) -> Any:
    response = client.get(url, params=params, headers=bearer(tokens.read))
    assert response.status_code == 200, response.text
    return response.json()


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/v1/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_corpora_lists_sizes_models_and_thresholds(client: TestClient, tokens: Tokens) -> None:
    (corpus,) = get(client, tokens, "/v1/corpora")["corpora"]
    assert corpus["name"] == CORPUS
    assert corpus["questions"] == len(SUPPORT_QUESTIONS)
    assert corpus["model"]
    assert (corpus["threshold"], corpus["threshold_source"]) == (0.8, "default")
    assert corpus["not_encoded"] == 0
    assert corpus["last_ingest"] is not None


def test_search_get_and_post_answer_as_the_service_does(
    client: TestClient, tokens: Tokens, service: Service
) -> None:
    over_get = get(client, tokens, "/v1/search", corpus=CORPUS, q="refund my last payment", k=2)
    response = client.post(
        "/v1/search",
        json={"corpus": CORPUS, "query": "refund my last payment", "k": 2},
        headers=bearer(tokens.read),
    )
    assert response.status_code == 200
    assert response.json() == over_get
    expected = service.search(CORPUS, "refund my last payment", 2)
    assert over_get == asdict(expected)
    assert [hit["external_id"] for hit in over_get["hits"]] == ["s05", expected.hits[1].external_id]
    assert set(over_get["hits"][0]) == MATCH_FIELDS


def test_a_paraphrase_is_a_duplicate_over_get(client: TestClient, tokens: Tokens) -> None:
    question = "How can I stop my subscription renewing?"
    answer = get(client, tokens, "/v1/dupes", corpus=CORPUS, q=question)
    (check,) = answer["results"]
    assert answer["corpus"] == CORPUS
    assert check["verdict"] == "duplicate"
    assert check["threshold_source"] == "default"
    assert check["matches"][0]["external_id"] == "s17"
    assert check["matches"][0]["text"] == SUPPORT_QUESTIONS["s17"]
    assert check["matches"][0]["score"] >= check["threshold"]


def test_many_questions_over_post_with_their_own_threshold(
    client: TestClient, tokens: Tokens, service: Service
) -> None:
    questions = ["How do I reset my password?", "What is the capital of Mongolia?"]
    body = {"corpus": CORPUS, "questions": questions, "threshold": 0.9, "k": 3}
    response = client.post("/v1/dupes", json=body, headers=bearer(tokens.read))
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert (first["verdict"], first["threshold"], first["threshold_source"]) == (
        "duplicate",
        0.9,
        "own",
    )
    assert first["matches"][0]["text"] == "How do I reset my password?"
    assert second["verdict"] == "new"
    assert second["matches"] == []
    assert len(second["nearest"]) == 3
    expected = service.check(CORPUS, questions, k=3, threshold=0.9)
    assert response.json()["results"] == [asdict(check) for check in expected]


def test_threshold_shows_value_and_source(client: TestClient, tokens: Tokens) -> None:
    answer = get(client, tokens, f"/v1/corpora/{CORPUS}/threshold")
    assert answer == {
        "corpus": CORPUS,
        "threshold": 0.8,
        "possible_threshold": 0.7,
        "source": "default",
        "labelled_pairs": 0,
    }


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v1/search?corpus=nope&q=hello", None),
        ("POST", "/v1/search", {"corpus": "nope", "query": "hello"}),
        ("GET", "/v1/dupes?corpus=nope&q=hello", None),
        ("POST", "/v1/dupes", {"corpus": "nope", "questions": ["hello"]}),
        ("GET", "/v1/corpora/nope/threshold", None),
    ],
)
def test_an_unknown_corpus_is_a_json_404(
    client: TestClient, tokens: Tokens, method: str, url: str, body: Any
) -> None:
    response = client.request(method, url, json=body, headers=bearer(tokens.read))
    assert response.status_code == 404
    answer = response.json()
    assert answer["status"] == 404
    assert answer["code"] == "corpus_not_found"
    assert "corpus 'nope' does not exist" in answer["error"]
    assert CORPUS in answer["error"]  # the known ones are named


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/v1/health",
        "/v1/corpora",
        "/v1/search",
        "/v1/dupes",
        "/v1/corpora/{corpus}/threshold",
        "/v1/corpora/{corpus}/questions",
        "/v1/corpora/{corpus}/labels",
        "/v1/corpora/{corpus}/clusters/{key}/name",
        "/v1/corpora/{corpus}/clusters/{key}/merge",
        "/v1/corpora/{corpus}/questions/{question_id}/move",
        "/v1/corpora/{corpus}/questions/{question_id}/canonical",
    }
    validation = spec["paths"]["/v1/search"]["get"]["responses"]["422"]
    assert validation["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_export_in_each_format(client: TestClient, tokens: Tokens) -> None:
    import io

    import pandas as pd

    frames = {}
    for kind in ("csv", "parquet", "jsonl"):
        response = client.get(
            f"/v1/corpora/{CORPUS}/export", params={"format": kind}, headers=bearer(tokens.read)
        )
        assert response.status_code == 200, response.text
        assert f'filename="{CORPUS}-clusters.{kind}"' in response.headers["content-disposition"]
        data = io.BytesIO(response.content)
        frames[kind] = (
            pd.read_csv(data) if kind == "csv"
            else pd.read_parquet(data) if kind == "parquet"
            else pd.read_json(data, lines=True)
        )  # fmt: skip
    for frame in frames.values():
        assert sorted(frame["external_id"]) == sorted(SUPPORT_QUESTIONS)
        assert {"cluster", "cluster_name", "canonical_question"} <= set(frame.columns)
    unknown = client.get("/v1/corpora/nope/export", headers=bearer(tokens.read))
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    bad = client.get(f"/v1/corpora/{CORPUS}/export?format=xlsx", headers=bearer(tokens.read))
    assert bad.status_code == 422
    assert client.get(f"/v1/corpora/{CORPUS}/export").status_code == 401
