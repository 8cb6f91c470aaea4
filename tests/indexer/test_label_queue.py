"""The labelling queue on a real index: unlabelled pairs, nearest the threshold first."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.session import open_database
from db.settings import Settings
from indexer.encoder import Encoder, EncoderSpec
from indexer.ingest import ingest_file
from indexer.label_queue import candidate_pairs, selection_pairs
from indexer.search import CorpusSearcher, open_searcher
from tests.conftest import write_csv

QUESTIONS = [
    "How do I reset my password?",
    "I forgot my password, how can I reset it?",
    "How can I cancel my subscription?",
    "How do I stop my subscription from renewing?",
    "Where can I download my invoices?",
    "Where do I find my past invoices?",
    "Does the app work offline?",
    "Is there a dark mode?",
]


@pytest.fixture
def searcher(sqlite_settings: Settings, default_encoder: Encoder, tmp_path: Path) -> CorpusSearcher:
    csv = write_csv(tmp_path / "q.csv", [{"question": text} for text in QUESTIONS])
    ingest_file(
        csv, "support", settings=sqlite_settings, text_column="question", encoder=default_encoder
    )
    return open_searcher("support", settings=sqlite_settings, encoder=default_encoder)


def test_pairs_come_nearest_the_threshold_first(searcher: CorpusSearcher) -> None:
    pairs = candidate_pairs(searcher, set(), threshold=0.6, limit=50, neighbours=7)
    distances = [abs(pair.similarity - 0.6) for pair in pairs]
    assert distances == sorted(distances)
    assert all(pair.first_id < pair.second_id for pair in pairs)
    assert len({(p.first_id, p.second_id) for p in pairs}) == len(pairs)
    assert len(pairs) == len(QUESTIONS) * (len(QUESTIONS) - 1) // 2  # every pair, once
    by_text = {(p.first_text, p.second_text): p.similarity for p in pairs}
    assert by_text[(QUESTIONS[0], QUESTIONS[1])] > by_text[(QUESTIONS[0], QUESTIONS[7])]


def test_labelled_pairs_leave_the_queue(searcher: CorpusSearcher) -> None:
    first = candidate_pairs(searcher, set(), threshold=0.6, limit=3)
    done = {(pair.first_id, pair.second_id) for pair in first}
    after = candidate_pairs(searcher, done, threshold=0.6, limit=3)
    assert done.isdisjoint({(pair.first_id, pair.second_id) for pair in after})
    assert len(after) == 3


def test_the_limit_caps_the_queue(searcher: CorpusSearcher) -> None:
    assert len(candidate_pairs(searcher, set(), threshold=0.8, limit=2)) == 2


def test_selection_pairs_stay_within_the_chosen_questions(searcher: CorpusSearcher) -> None:
    ids = searcher.vector_ids().tolist()
    chosen = ids[:4]  # the password and subscription questions
    pairs = selection_pairs(searcher, chosen, set(), threshold=0.6, limit=10)
    assert len(pairs) == 6  # every pair of four, once
    assert {i for pair in pairs for i in (pair.first_id, pair.second_id)} == set(chosen)
    distances = [abs(pair.similarity - 0.6) for pair in pairs]
    assert distances == sorted(distances)
    assert all(pair.first_id < pair.second_id for pair in pairs)
    done = {(pairs[0].first_id, pairs[0].second_id)}
    rest = selection_pairs(searcher, chosen, done, threshold=0.6, limit=10)
    assert len(rest) == 5
    assert done.isdisjoint({(p.first_id, p.second_id) for p in rest})
    assert selection_pairs(searcher, chosen[:1], set(), threshold=0.6) == []
    assert len(selection_pairs(searcher, ids, set(), threshold=0.6, limit=3, most=3)) == 3


def test_a_large_corpus_is_sampled_without_reading_every_id(
    searcher: CorpusSearcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexer.label_queue

    every = searcher.vector_ids().tolist()
    sampled = searcher.sample_vector_ids(5, seed=0)
    assert sampled == searcher.sample_vector_ids(5, seed=0)  # seeded
    assert 1 <= len(sampled) <= 5
    assert sampled == sorted(set(sampled))
    assert set(sampled) <= set(every)
    assert set(searcher.sample_vector_ids(200, seed=1)) == set(every)  # enough points: all

    monkeypatch.setattr(indexer.label_queue, "ALL_IDS_MAX", 4)
    monkeypatch.setattr(searcher, "vector_ids", lambda: pytest.fail("read every id"))
    pairs = candidate_pairs(searcher, set(), threshold=0.6, limit=50, sample=200, neighbours=7)
    assert len(pairs) == len(QUESTIONS) * (len(QUESTIONS) - 1) // 2


def test_the_queue_needs_no_model(
    sqlite_settings: Settings, default_encoder: Encoder, tmp_path: Path
) -> None:
    """It pairs stored vectors: a Labelling page opens without loading the corpus's model."""
    csv = write_csv(tmp_path / "q.csv", [{"question": text} for text in QUESTIONS])
    ingest_file(
        csv, "support", settings=sqlite_settings, text_column="question", encoder=default_encoder
    )

    def refused(spec: EncoderSpec) -> Encoder:
        raise AssertionError(f"the queue loaded {spec.model}")

    sessions = open_database(sqlite_settings.resolved_database_url)
    unloaded = CorpusSearcher(
        "support", settings=sqlite_settings, sessions=sessions, encoders=refused
    )
    loaded = open_searcher("support", settings=sqlite_settings, encoder=default_encoder)
    assert candidate_pairs(unloaded, set(), threshold=0.6, limit=10) == candidate_pairs(
        loaded, set(), threshold=0.6, limit=10
    )
