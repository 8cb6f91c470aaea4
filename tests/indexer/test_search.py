from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.queries import set_duplicate_threshold
from db.settings import Settings
from indexer.encoder import Encoder, EncoderSpec
from indexer.errors import EmptyQueryError, ModelLoadError
from indexer.ingest import ingest_file
from indexer.search import CorpusSearcher, open_searcher, verdict_for
from tests.conftest import DEMO_QUESTIONS, write_csv

QUESTIONS = [
    "How do I reset my password?",
    "I forgot my password and need a new one",
    "Where can I download my invoices?",
    "Can I pay with PayPal?",
    "How do I delete my account permanently?",
    "Why is the mobile app crashing on startup?",
]


@pytest.fixture
def searcher(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> CorpusSearcher:
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    ingest_file(path, "support", settings=settings, sessions=sessions, encoder=default_encoder)
    return open_searcher("support", settings=settings, sessions=sessions, encoder=default_encoder)


def test_search_ranks_the_paraphrase_first(searcher: CorpusSearcher) -> None:
    hits = searcher.search("how can I recover a forgotten password", k=3)
    assert len(hits) == 3
    assert {hits[0].text, hits[1].text} == set(QUESTIONS[:2])
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert 0.0 < hits[0].score <= 1.0


def test_k_larger_than_the_corpus_returns_everything(searcher: CorpusSearcher) -> None:
    assert len(searcher.search("password", k=50)) == len(QUESTIONS)


def test_empty_query_is_refused(searcher: CorpusSearcher) -> None:
    with pytest.raises(EmptyQueryError, match="query is empty"):
        searcher.search("   ")


def test_duplicate_verdicts_follow_the_corpus_threshold(
    searcher: CorpusSearcher, sessions: sessionmaker[Session], settings: Settings
) -> None:
    exact = searcher.check_duplicates("how do I reset my password?")
    assert exact.verdict == "duplicate"
    assert exact.matches[0].text == QUESTIONS[0]
    assert searcher.check_duplicates("What is the capital of Peru?").verdict == "new"

    with sessions.begin() as session:
        set_duplicate_threshold(session, "support", 0.99)
    strict = open_searcher("support", settings=settings, sessions=sessions)
    check = strict.check_duplicates("I cannot remember my password")
    assert check.threshold == 0.99
    assert check.verdict in {"possible", "new"}
    assert check.matches == []


def test_verdict_bands() -> None:
    assert verdict_for(0.85, 0.8, 0.7) == "duplicate"
    assert verdict_for(0.75, 0.8, 0.7) == "possible"
    assert verdict_for(0.5, 0.8, 0.7) == "new"
    assert verdict_for(None, 0.8, 0.7) == "new"


@pytest.mark.slow
def test_demo_paraphrase_groups_find_each_other(
    sqlite_settings: Settings, default_encoder: Encoder
) -> None:
    """The brief's bar: a group member's top 3 holds another member for >= 90% of groups."""
    ingest_file(
        DEMO_QUESTIONS, "demo", settings=sqlite_settings, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    groups: dict[str, list[str]] = defaultdict(list)
    with DEMO_QUESTIONS.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["group"]:
                groups[row["group"]].append(row["question"])
    searcher = open_searcher("demo", settings=sqlite_settings, encoder=default_encoder)
    firsts = [members[0] for members in groups.values()]
    results = searcher.search_many(firsts, k=4)  # the query itself comes first
    found = sum(
        any(hit.text in members[1:] for hit in hits if hit.text != members[0])
        for members, hits in zip(groups.values(), results, strict=True)
    )
    rate = found / len(groups)
    print(f"{found}/{len(groups)} paraphrase groups found in the top 3 ({rate:.1%})")
    assert len(groups) >= 150
    assert rate >= 0.90


def test_the_model_loads_at_the_first_search_and_only_once(
    tmp_path: Path, settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder
) -> None:
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    ingest_file(path, "support", settings=settings, sessions=sessions, encoder=default_encoder)
    asked: list[EncoderSpec] = []

    def encoders(spec: EncoderSpec) -> Encoder:
        asked.append(spec)
        return default_encoder

    searcher = CorpusSearcher("support", settings=settings, sessions=sessions, encoders=encoders)
    assert searcher.size == len(QUESTIONS)
    assert asked == []
    searcher.search("password reset")
    searcher.search("invoices")
    assert asked == [searcher.location.spec]


def test_a_model_that_cannot_load_fails_the_search_not_the_stored_vectors(
    tmp_path: Path, settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder
) -> None:
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    ingest_file(path, "support", settings=settings, sessions=sessions, encoder=default_encoder)

    def gone(spec: EncoderSpec) -> Encoder:
        raise ModelLoadError(f"no model folder at {spec.model}")

    searcher = CorpusSearcher("support", settings=settings, sessions=sessions, encoders=gone)
    ids, vectors = searcher.vectors_of(searcher.vector_ids().tolist())
    assert len(ids) == len(QUESTIONS)
    assert vectors.shape[0] == len(QUESTIONS)
    with pytest.raises(ModelLoadError, match="no model folder"):
        searcher.search("password reset")
    with pytest.raises(ModelLoadError):  # not cached as loaded: the next search says so again
        searcher.search("password reset")
