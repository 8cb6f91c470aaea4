"""The service for real, on both databases: answers carry clusters and canonical questions,
and every change made elsewhere (another process included) is seen by the next call."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.service import Service
from app.service.core import NewQuestion
from clustering.params import ClusterParams
from db.changes import corpus_state
from db.errors import CorpusNotFoundError, QclustError
from db.models import PairVerdict
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.errors import InvalidQuestionError
from indexer.ingest import ingest_file
from tests.app.conftest import CLUSTERED, SUPPORT_QUESTIONS, UiCorpus, first_demo_rows
from tests.conftest import write_csv
from tests.processes import run_qclust, settings_env

CORPUS = "support"


@pytest.fixture
def service(settings: Settings, default_encoder: Encoder, tmp_path: Path) -> Service:
    rows = [{"id": key, "question": text} for key, text in SUPPORT_QUESTIONS.items()]
    ingest_file(
        write_csv(tmp_path / "support.csv", rows), CORPUS, settings=settings,
        text_column="question", id_column="id", encoder=default_encoder,
    )  # fmt: skip
    service = Service(settings)
    service.searchers.adopt(default_encoder)
    return service


def test_search_and_check_answer_from_the_corpus(service: Service) -> None:
    result = service.search(CORPUS, "I can't remember my password", k=3)
    assert result.hits[0].external_id in {"s01", "s02"}
    assert result.not_encoded == 0
    check = service.check(CORPUS, ["How do I reset my password?"], k=3)[0]
    assert check.verdict == "duplicate"
    assert check.threshold_source == "default"
    assert check.best is not None
    assert check.best.external_id == "s01"
    assert check.best.cluster is None  # no clustering run yet


def test_a_threshold_set_by_another_service_is_seen_at_once(
    service: Service, settings: Settings
) -> None:
    question = "How can I stop my subscription?"  # near s04 and s17, not a copy
    before = service.check(CORPUS, [question], k=1)[0]
    assert before.threshold == pytest.approx(settings.duplicate_threshold)
    Service(settings).set_threshold(CORPUS, 0.99)
    after = service.check(CORPUS, [question], k=1)[0]
    assert after.threshold == pytest.approx(0.99)
    assert after.threshold_source == "own"
    assert after.verdict != "duplicate"
    assert service.threshold(CORPUS).labelled_pairs == 0


def test_changes_from_other_processes_are_seen_by_the_next_call(
    service: Service, settings: Settings, tmp_path: Path
) -> None:
    """A long-lived reader (a server, the UI) against `qclust` commands in other processes."""
    new_text = "Can I pay for my subscription with a zebra?"
    assert all(hit.text != new_text for hit in service.search(CORPUS, new_text, k=5).hits)
    env = settings_env(settings)
    threshold = run_qclust(["threshold", CORPUS, "0.55"], env, tmp_path / "threshold.log")
    assert threshold.process.exitcode == 0, threshold.output
    assert service.check(CORPUS, ["How do I reset my password?"], k=1)[0].threshold == 0.55

    csv = write_csv(tmp_path / "more.csv", [{"id": "z1", "question": new_text}])
    argv = ["ingest", str(csv), "--corpus", CORPUS, "--text-column", "question",
            "--id-column", "id", "--quiet"]  # fmt: skip
    ingest = run_qclust(argv, env, tmp_path / "ingest.log")
    assert ingest.process.exitcode == 0, ingest.output
    best = service.search(CORPUS, new_text, k=1).hits[0]
    assert (best.text, best.external_id) == (new_text, "z1")


def test_the_index_is_reused_when_only_the_threshold_changed(service: Service) -> None:
    index = service.state(CORPUS).searcher.index
    service.set_threshold(CORPUS, 0.7)
    state = service.state(CORPUS)
    assert state.searcher.threshold == pytest.approx(0.7)
    assert state.searcher.index is index


def test_every_change_bumps_the_state_revision(
    service: Service, sessions: sessionmaker[Session]
) -> None:
    def revision() -> int:
        with sessions() as session:
            found = corpus_state(session, CORPUS)
        assert found is not None
        return found[1]

    seen = [revision()]
    service.set_threshold(CORPUS, 0.75)
    seen.append(revision())
    ids = [hit.question_id for hit in service.search(CORPUS, "reset my password", k=2).hits]
    service.label_pair(CORPUS, ids[0], ids[1], PairVerdict.DUPLICATE, by="test")
    assert revision() == seen[-1]  # a label changes no answer until a calibration
    service.add_questions(CORPUS, [NewQuestion("Do you sell gift cards?", "g1")])
    seen.append(revision())
    assert seen == sorted(set(seen)), seen  # strictly increasing


def test_added_questions_are_searchable_when_the_call_returns(service: Service) -> None:
    report, _ = service.add_questions(
        CORPUS, [NewQuestion("Do you ship to Antarctica?", "a1"), NewQuestion("  ", "blank")]
    )
    assert (report.added, report.rejected) == (1, 1)
    best = service.search(CORPUS, "Do you ship to Antarctica?", k=1).hits[0]
    assert best.external_id == "a1"


def test_queries_follow_the_stored_questions_rules(service: Service, settings: Settings) -> None:
    with pytest.raises(InvalidQuestionError, match="limit"):
        service.search(CORPUS, "x" * (settings.max_question_chars + 1))
    with pytest.raises(InvalidQuestionError, match="NUL"):
        service.check(CORPUS, ["fine", "not\x00fine"])
    with pytest.raises(CorpusNotFoundError):
        service.search("no-such-corpus", "anything")


def test_edits_need_a_clustering_run(service: Service) -> None:
    with pytest.raises(QclustError, match="no clustering run"):
        service.merge_clusters(CORPUS, 0, 1, by="test")


@pytest.mark.slow
def test_answers_carry_clusters_and_canonical_questions(
    settings: Settings, default_encoder: Encoder, tmp_path: Path
) -> None:
    csv = first_demo_rows(tmp_path / "demo.csv", 300)
    ingest_file(csv, "demo", settings=settings, text_column="question", id_column="id",
                encoder=default_encoder)  # fmt: skip
    service = Service(settings)
    service.searchers.adopt(default_encoder)
    run = service.cluster("demo", ClusterParams(min_cluster_size=5, random_state=0, make_map=False))
    assert run.cluster_count >= 2
    best = service.search("demo", "How do I reset my password?", k=1).hits[0]
    assert best.cluster is not None
    assert best.cluster >= 0
    assert best.cluster_name
    grouped = [
        hit
        for query in ("How do I reset my password?", "How do I cancel my subscription?")
        for hit in service.search("demo", query, k=10).hits
        if hit.canonical_id is not None
    ]
    assert grouped, "the demo's paraphrases form near-duplicate groups"
    assert all(hit.canonical_text for hit in grouped)

    key = best.cluster
    service.rename_cluster("demo", key, "Passwords")
    assert service.search("demo", "How do I reset my password?", k=1).hits[0].cluster_name == (
        "Passwords"
    )


def test_a_corpus_made_again_under_the_same_name_is_not_the_cached_one(
    service: Service, settings: Settings, tmp_path: Path
) -> None:
    assert service.search(CORPUS, "How do I reset my password?", k=1).hits[0].external_id == "s01"
    for _ in range(3):  # the old corpus's state revision climbs past the new one's
        service.set_threshold(CORPUS, 0.7)
    service.delete_corpus(CORPUS)
    rows = [{"id": "z1", "question": "Do you ship to Antarctica?"}]
    service.ingest_file(
        write_csv(tmp_path / "again.csv", rows), CORPUS, text_column="question", id_column="id"
    )
    hits = service.search(CORPUS, "How do I reset my password?", k=5).hits
    assert [hit.external_id for hit in hits] == ["z1"]


def test_a_batch_check_asks_the_database_as_often_as_one_question(
    clustered_corpus: UiCorpus, default_encoder: Encoder
) -> None:
    from sqlalchemy import event

    service = Service(clustered_corpus.settings)
    service.searchers.adopt(default_encoder)
    service.check(CLUSTERED, ["warm the cache"], k=5)  # builds the corpus state once
    statements: list[str] = []
    engine = service.sessions.kw["bind"]
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        service.check(CLUSTERED, ["How do I reset my password?"], k=5)
        one = len(statements)
        statements.clear()
        service.check(CLUSTERED, [f"question {n} about invoices" for n in range(50)], k=5)
        fifty = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert fifty == one, (one, fifty)


def test_a_manual_threshold_after_a_calibration_is_own_everywhere(service: Service) -> None:
    ids = list(range(1, 21))
    for first, second in zip(ids[:10], ids[1:11], strict=True):
        service.label_pair(CORPUS, first, second, PairVerdict.DUPLICATE, by="test")
    for first, second in zip(ids[10:20], ids[:10], strict=True):
        service.label_pair(CORPUS, first, second, PairVerdict.NOT_DUPLICATE, by="test")
    service.calibrate(CORPUS)
    assert service.threshold(CORPUS).source == "calibrated"
    assert service.check(CORPUS, ["reset my password"])[0].threshold_source == "calibrated"
    service.set_threshold(CORPUS, 0.9)
    assert service.threshold(CORPUS).source == "own"
    assert service.check(CORPUS, ["reset my password"])[0].threshold_source == "own"
