"""`qclust cluster-rename`, `cluster-merge`, `move`, `canonical`, `cluster-new`, `undo` on a
private copy of the clustered demo corpus: each edit lands in the run, is recorded with its
analyst, and says what it did naming clusters by key and name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from db.cluster_queries import latest_run
from db.models import ClusterEdit, ClusterMember, DuplicateGroup, EditKind, Question
from db.queries import get_corpus
from db.session import open_database
from db.settings import Settings
from tests.app.conftest import CLUSTERED, CORPUS, UiCorpus


@pytest.fixture
def cli(own_clustered_env: UiCorpus, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(own_clustered_env.settings)


def run_ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def clusters(cli: CliRunner) -> dict[int, dict[str, Any]]:
    listing = json.loads(run_ok(cli, "clusters", "-c", CLUSTERED, "--limit", "1000", "--json"))
    return {view["key"]: view for view in listing["clusters"]}


def member_ids(cli: CliRunner, key: int) -> set[int]:
    shown = run_ok(cli, "cluster-show", str(key), "-c", CLUSTERED, "--limit", "1000", "--json")
    return {member["question_id"] for member in json.loads(shown)["members"]}


def edits(corpus: UiCorpus) -> list[ClusterEdit]:
    with open_database(corpus.database_url)() as session:
        return list(session.scalars(select(ClusterEdit).order_by(ClusterEdit.id)))


def test_rename_names_a_cluster_and_an_empty_name_gives_back_the_automatic_one(
    cli: CliRunner,
) -> None:
    key, view = next(iter(clusters(cli).items()))
    said = run_ok(cli, "cluster-rename", CLUSTERED, str(key), "Plans, SSO and invites")
    assert f"cluster {key} is now named 'Plans, SSO and invites' (was '{view['name']}')" in said
    assert clusters(cli)[key]["name"] == "Plans, SSO and invites"
    cleared = run_ok(cli, "cluster-rename", CLUSTERED, str(key), "")
    assert f"cluster {key} has its automatic name again: '{view['auto_name']}'" in cleared
    assert clusters(cli)[key]["name"] == view["auto_name"]


def test_merge_moves_every_question_and_records_who(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    before = clusters(cli)
    (target, into), *_, (source, gone) = before.items()  # the smallest into the largest
    moving = member_ids(cli, source)
    said = run_ok(cli, "cluster-merge", CLUSTERED, str(source), str(target), "--by", "ana")
    assert (
        f"merged cluster {source} '{gone['name']}' into cluster {target} '{into['name']}': "
        f"{len(moving)} questions moved; it now holds {into['size'] + gone['size']} questions"
    ) in said
    after = clusters(cli)
    assert source not in after
    assert after[target]["size"] == into["size"] + gone["size"]
    assert moving <= member_ids(cli, target)
    (edit,) = edits(own_clustered_env)
    assert (edit.kind, edit.target_key, edit.created_by) == (EditKind.MERGE, target, "ana")


def test_move_to_a_cluster_and_out_of_every_cluster(
    cli: CliRunner, own_clustered_env: UiCorpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCLUST_ANALYST", "bob")  # the default analyst, when --by is not given
    (first, one), (second, other), *_ = clusters(cli).items()
    question = min(member_ids(cli, first))
    with open_database(own_clustered_env.database_url)() as session:
        text = session.get_one(Question, question).text
    said = run_ok(cli, "move", CLUSTERED, str(question), str(second))
    assert (
        f"moved question {question} '{text}' from cluster {first} '{one['name']}' "
        f"to cluster {second} '{other['name']}'"
    ) in said
    assert question in member_ids(cli, second)

    out = run_ok(cli, "move", CLUSTERED, str(question), "-1")  # -1: a value, not an option
    assert f"from cluster {second} '{other['name']}' out of every cluster" in out
    assert question in member_ids(cli, -1)
    assert [(e.kind, e.target_key, e.created_by) for e in edits(own_clustered_env)] == [
        (EditKind.MOVE, second, "bob"),
        (EditKind.MOVE, -1, "bob"),
    ]


def test_canonical_becomes_the_answer_dupes_gives(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    with open_database(own_clustered_env.database_url)() as session:
        run = latest_run(session, get_corpus(session, CLUSTERED).id)
        assert run is not None
        group_id, old = session.execute(
            select(DuplicateGroup.id, DuplicateGroup.canonical_id)
            .where(DuplicateGroup.run_id == run.id)
            .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
            .limit(1)
        ).one()
        chosen, text = session.execute(
            select(Question.id, Question.text)
            .join(ClusterMember, ClusterMember.question_id == Question.id)
            .where(
                ClusterMember.run_id == run.id,
                ClusterMember.group_id == group_id,
                Question.id != old,
            )
            .limit(1)
        ).one()
        old_text = session.get_one(Question, old).text
    said = run_ok(cli, "canonical", CLUSTERED, str(chosen), "--by", "cy")
    assert f"question {chosen} '{text}' is now the canonical question" in said
    with open_database(own_clustered_env.database_url)() as session:
        assert session.get_one(DuplicateGroup, group_id).canonical_id == chosen

    answer = json.loads(run_ok(cli, "dupes", old_text, "-c", CLUSTERED, "--json"))
    best = answer["nearest"][0]
    assert (best["question_id"], best["canonical_id"]) == (old, chosen)
    assert best["canonical_text"] == text
    assert best["cluster"] is not None
    assert best["cluster_name"]
    assert answer["threshold_source"] == "default"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cluster-rename", CLUSTERED, "999", "x"], f"corpus '{CLUSTERED}' has no cluster 999"),
        (["cluster-merge", CLUSTERED, "999", "0"], "has no cluster 999"),
        (["cluster-merge", CLUSTERED, "0", "0"], "pick two different clusters"),
        (["move", CLUSTERED, "99999", "0"], "question 99999 is not in clustering run"),
        (["canonical", CLUSTERED, "99999"], "question 99999 is in no near-duplicate group"),
        (["move", CORPUS, "1", "0"], f"corpus '{CORPUS}' has no clustering yet"),
        (["canonical", "nope", "1"], "corpus 'nope' does not exist"),
    ],
)
def test_an_edit_that_does_not_fit_is_one_line(
    cli: CliRunner, own_clustered_env: UiCorpus, args: list[str], message: str
) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert edits(own_clustered_env) == []


def test_a_new_cluster_of_chosen_questions_then_undone(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    before = clusters(cli)
    (first, _), (second, _), *_ = before.items()
    chosen = sorted(member_ids(cli, first))[:2] + sorted(member_ids(cli, second))[:1]
    said = run_ok(
        cli, "cluster-new", CLUSTERED, " Refund timing ", *map(str, chosen), "--by", "ana"
    )
    made = max(clusters(cli))
    assert f"made cluster {made} 'Refund timing' of 3 questions" in said
    assert made not in before
    assert member_ids(cli, made) == set(chosen)
    assert clusters(cli)[made]["name"] == "Refund timing"
    assert clusters(cli)[first]["size"] == before[first]["size"] - 2

    undone = run_ok(cli, "undo", CLUSTERED, "--by", "ana")
    assert (
        "undid the new cluster 'Refund timing'" not in undone
    )  # names come quoted typographically
    assert "undid the new cluster “Refund timing” (3 questions back in place)" in undone
    assert clusters(cli) == before
    assert edits(own_clustered_env) == []
    nothing = cli.invoke(app, ["undo", CLUSTERED, "--by", "ana"])
    assert nothing.exit_code == 1
    assert "ana has no change to the clusters to undo" in nothing.output
    short = cli.invoke(app, ["cluster-new", CLUSTERED, "x", str(chosen[0])])
    assert short.exit_code == 1
    assert "a new cluster needs at least 2 questions" in short.output
