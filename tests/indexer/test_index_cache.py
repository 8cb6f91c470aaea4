"""The index is a cache of the database's vectors: every way the file can go wrong ends in a
correct answer, a warning that says what happened, and a repaired file; on both databases."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db.models import Corpus
from db.session import open_database
from db.settings import Settings
from indexer.corpus_index import CorpusLocation, locate_corpus
from indexer.encoder import Encoder
from indexer.index import build_index
from indexer.index_cache import CACHE_NAME, CachedIndex, read_cache, write_cache
from indexer.ingest import ingest_file
from indexer.search import open_searcher
from tests.conftest import write_csv

QUESTIONS = [
    "How do I reset my password?",
    "Where can I download my invoices?",
    "Can I pay with PayPal?",
    "How do I delete my account permanently?",
    "Why is the mobile app crashing on startup?",
    "Do you ship to Canada?",
]


@pytest.fixture
def corpus(
    tmp_path: Path, settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder
) -> CorpusLocation:
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    ingest_file(path, "support", settings=settings, sessions=sessions, encoder=default_encoder)
    return locate_corpus(sessions, settings, "support")


def _every_question_finds_itself(
    settings: Settings, sessions: sessionmaker[Session], encoder: Encoder
) -> None:
    searcher = open_searcher("support", settings=settings, sessions=sessions, encoder=encoder)
    assert searcher.size == len(QUESTIONS)
    for question in QUESTIONS:
        [hit] = searcher.search(question, k=1)
        assert hit.text == question
        assert 0.99 < hit.score <= 1.0 + 1e-5  # a garbled index returned 5.3e37 here once


def _cache_file(corpus: CorpusLocation) -> Path:
    return corpus.cache_folder / CACHE_NAME


def _valid_cache(corpus: CorpusLocation) -> CachedIndex:
    return read_cache(corpus.cache_folder, encoder_id=corpus.encoder_id, dimension=corpus.dimension)


def _garble_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 256] = bytes(256)
    data[middle + 300 : middle + 556] = b"\xff" * 256
    path.write_bytes(bytes(data))


FAULTS = {
    "deleted": lambda path: path.unlink(),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "garbled at the same size": _garble_middle,
    "emptied": lambda path: path.write_bytes(b""),
    "not an index": lambda path: path.write_bytes(b"garbage"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_damaged_cache_is_rebuilt_from_the_database(
    fault: str,
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = _cache_file(corpus)
    size = path.stat().st_size
    FAULTS[fault](path)
    with caplog.at_level(logging.WARNING):
        _every_question_finds_itself(settings, sessions, default_encoder)
    if fault != "deleted":
        assert "rebuilding it from the 6 vectors in the database" in caplog.text
    assert path.stat().st_size == size  # repaired on disk
    assert len(_valid_cache(corpus).ids) == len(QUESTIONS)


def test_a_cache_of_the_wrong_dimension_is_rebuilt(
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    ids = np.arange(1, 7, dtype=np.int64)
    stranger = CachedIndex(
        corpus.encoder_id, corpus.revision, ids, build_index(wrong, ids, "IDMap2,Flat")
    )
    write_cache(corpus.cache_folder, stranger)
    with caplog.at_level(logging.WARNING):
        _every_question_finds_itself(settings, sessions, default_encoder)
    assert "not encoder" in caplog.text  # "... is for encoder N (8-d), not encoder N (384-d)"
    assert _valid_cache(corpus).index.d == corpus.dimension


def test_a_cache_behind_the_database_catches_up_without_a_rebuild(
    tmp_path: Path,
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    """As after a kill between writing vectors and saving the index: only the missing ones
    are added."""
    shutil.copy(_cache_file(corpus), tmp_path / "old.qcache")
    more = write_csv(tmp_path / "more.csv", [{"question": "Is there a student discount?"}])
    ingest_file(more, "support", settings=settings, sessions=sessions, encoder=default_encoder)
    shutil.copy(tmp_path / "old.qcache", _cache_file(corpus))
    searcher = open_searcher("support", settings=settings, sessions=sessions)
    assert searcher.size == len(QUESTIONS) + 1
    assert searcher.search("discount for students", k=1)[0].text == "Is there a student discount?"
    assert _valid_cache(locate_corpus(sessions, settings, "support")).revision == (
        locate_corpus(sessions, settings, "support").revision
    )


def test_a_cache_holding_a_question_the_database_lacks_is_rebuilt(
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    cached = _valid_cache(corpus)
    extra = np.array([10_000], dtype=np.int64)
    cached.index.add_with_ids(np.ones((1, corpus.dimension), dtype=np.float32), extra)
    stale = CachedIndex(
        corpus.encoder_id, corpus.revision - 1, np.union1d(cached.ids, extra), cached.index
    )
    write_cache(corpus.cache_folder, stale)
    _every_question_finds_itself(settings, sessions, default_encoder)
    assert 10_000 not in _valid_cache(corpus).ids


def test_a_copied_data_folder_and_an_empty_one_both_answer(
    tmp_path: Path,
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    """Nothing in the database names a path: a moved folder works, and a second machine with
    only the database URL and an empty data folder searches, clusters and ingests."""
    moved = settings.model_copy(update={"data_dir": tmp_path / "moved"})
    shutil.copytree(settings.data_dir, moved.data_dir)
    shutil.rmtree(settings.data_dir)
    _every_question_finds_itself(moved, sessions, default_encoder)
    empty = settings.model_copy(update={"data_dir": tmp_path / "second-machine"})
    _every_question_finds_itself(empty, sessions, default_encoder)
    assert (locate_corpus(sessions, empty, "support").cache_folder / CACHE_NAME).exists()
    more = write_csv(tmp_path / "more.csv", [{"question": "Is there a student discount?"}])
    report = ingest_file(
        more, "support", settings=empty, sessions=sessions, encoder=default_encoder
    )
    assert (report.added, report.encoded, report.index_size) == (1, 1, len(QUESTIONS) + 1)
    # The first folder's cache is now behind; it catches up from the database.
    assert open_searcher("support", settings=moved, sessions=sessions).size == len(QUESTIONS) + 1


def test_a_data_folder_that_cannot_be_written_still_answers(
    corpus: CorpusLocation,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A read-only or full data folder: answers come from memory, with a warning. (chmod does
    not stop root, so the cache folder is replaced by a file: mkdir and open then fail.)"""
    shutil.rmtree(corpus.cache_folder)
    corpus.cache_folder.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        _every_question_finds_itself(settings, sessions, default_encoder)
    assert "cannot save the index cache" in caplog.text


def test_a_bumped_revision_with_the_same_vectors_keeps_the_index(
    corpus: CorpusLocation, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.execute(update(Corpus).values(revision=Corpus.revision + 5))
    open_searcher(
        "support", settings=settings, sessions=open_database(settings.resolved_database_url)
    )
    assert _valid_cache(corpus).revision == corpus.revision + 5
