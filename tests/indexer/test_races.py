"""Two writers, or a writer and busy readers, at once; in real processes, on both databases."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import CorpusBusyError, CorpusNotFoundError
from db.liveness import HOST
from db.locks import corpus_write_lock
from db.models import Corpus, CorpusLock, Question, utcnow
from db.session import open_database
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.errors import NotEncodedError
from indexer.ingest import ingest_file
from indexer.search import open_searcher
from tests.app.conftest import first_demo_rows
from tests.invariants import assert_consistent
from tests.processes import run_qclust, settings_env, start_qclust

pytestmark = pytest.mark.slow


def _ingest(path: Path) -> list[str]:
    return ["ingest", str(path), "-c", "demo", "--text-column", "question", "--id-column", "id",
            "-q"]  # fmt: skip


def _halves(tmp_path: Path) -> tuple[Path, Path]:
    """Two files into one corpus, overlapping by 50 rows."""
    rows = first_demo_rows(tmp_path / "all.csv", 250).read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("".join(rows[:151]))
    second.write_text(rows[0] + "".join(rows[101:]))
    return first, second


@pytest.mark.parametrize(
    ("database_url", "corpus"),
    [
        ("sqlite", "new"),
        ("sqlite", "existing"),
        pytest.param("postgres", "new", marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
)
def test_two_ingests_at_once(
    corpus: str, tmp_path: Path, settings: Settings, default_encoder: Encoder
) -> None:
    """Once, into a new corpus on a new database: 'table encoder already exists', 'UNIQUE
    constraint failed: corpus.name', two encoder rows and orphaned vectors. Now the second
    waits for the first, into a new corpus or an existing one."""
    first, second = _halves(tmp_path)
    env = settings_env(settings) | {"QCLUST_ENCODE_CHUNK_ROWS": "32"}
    if corpus == "existing":
        seed = first_demo_rows(tmp_path / "seed.csv", 20)
        assert run_qclust(_ingest(seed), env, tmp_path / "seed.log").process.exitcode == 0
    children = [start_qclust(_ingest(path), env, tmp_path / f"{path.stem}.log")
                for path in (first, second)]  # fmt: skip
    for child in children:
        assert child.wait() == 0, child.output
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Corpus)) == 1
        assert session.scalar(select(func.count()).select_from(Question)) == 250
    assert_consistent(settings, sessions, default_encoder, "demo")


def test_a_reader_during_an_ingest_never_gets_a_wrong_answer(
    tmp_path: Path, settings: Settings, default_encoder: Encoder
) -> None:
    """Once, readers opening the store while an ingest appended cut its files: 896 of 4,498
    questions were never encoded. Readers now only read, and say when an answer must wait."""
    questions = first_demo_rows(tmp_path / "q.csv", 200)
    env = settings_env(settings) | {"QCLUST_ENCODE_CHUNK_ROWS": "16", "QCLUST_BATCH_SIZE": "16"}
    child = start_qclust(_ingest(questions), env, tmp_path / "ingest.log")
    sessions = open_database(settings.resolved_database_url)
    opened = 0
    while child.process.is_alive():
        try:
            searcher = open_searcher(
                "demo", settings=settings, sessions=sessions, encoder=default_encoder
            )
        except CorpusNotFoundError:  # the corpus is created with the ingest's first batch
            time.sleep(0.01)
            continue
        opened += 1
        hits = searcher.search("how do I reset my password", k=3)
        assert all(hit.text for hit in hits)
        try:  # "duplicate" is certain; anything else only once every question is encoded
            check = searcher.check_duplicates("How do I reset my password?")
            assert check.verdict == "duplicate" or searcher.not_encoded == 0
        except NotEncodedError:
            assert searcher.not_encoded > 0
    assert child.wait() == 0, child.output
    assert opened > 3, "the reader should have opened the corpus while it was being written"
    assert_consistent(settings, sessions, default_encoder, "demo")


def test_an_ingest_during_a_reindex_waits_and_lands_in_the_new_model(
    tmp_path: Path, settings: Settings, default_encoder: Encoder, tiny_bert: Path
) -> None:
    """Once, it printed 'encoded 5' into the old model's store: unsearchable after the swap."""
    first, second = _halves(tmp_path)
    env = settings_env(settings)
    ingest_file(
        first, "demo", settings=settings, text_column="question", id_column="id",
        encoder=default_encoder,
    )  # fmt: skip
    go = tmp_path / "go"  # the reindex holds its lock mid-way until the ingest is waiting
    slow = env | {"QCLUST_ENCODE_CHUNK_ROWS": "50", "QCLUST_FAULT_AT": "encode:wrote-vectors",
                  "QCLUST_FAULT_SIGNAL": f"WAIT:{go}"}  # fmt: skip
    reindex = start_qclust(
        ["reindex", "demo", "--model", str(tiny_bert), "-q"], slow, tmp_path / "reindex.log"
    )
    sessions = open_database(settings.resolved_database_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.scalar(select(CorpusLock.purpose)) == "reindex":
                break
        time.sleep(0.1)
    ingest = start_qclust(_ingest(second), env, tmp_path / "ingest.log")
    deadline = time.monotonic() + 120
    while "waiting for a reindex by process" not in ingest.output:
        assert time.monotonic() < deadline, ingest.output
        assert ingest.process.exitcode is None, ingest.output  # it must wait, not finish
        time.sleep(0.1)
    go.touch()
    assert reindex.wait() == 0, reindex.output
    assert ingest.wait() == 0, ingest.output
    assert "waiting for a reindex by process" in ingest.output
    tiny = Encoder.for_new_corpus(str(tiny_bert), device="cpu")
    assert_consistent(settings, sessions, tiny, "demo")


def test_a_live_writer_elsewhere_is_waited_for_and_a_silent_one_is_taken_over(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    """A second machine on the same PostgreSQL: its lock holds while it beats, not after."""
    with sessions.begin() as session:
        session.add(
            CorpusLock(name="demo", token="t" * 32, purpose="ingest", host="other-machine",
                       pid=1, acquired_at=utcnow(), heartbeat_at=utcnow())
        )  # fmt: skip
    with (
        pytest.raises(CorpusBusyError, match="busy: an ingest by process 1 on other-machine"),
        corpus_write_lock(sessions, "demo", "ingest", wait=False),
    ):
        pass
    with sessions.begin() as session:
        lock = session.get_one(CorpusLock, "demo")
        lock.heartbeat_at = utcnow() - timedelta(minutes=5)
    with corpus_write_lock(sessions, "demo", "ingest", wait=False) as held, sessions() as session:
        row = session.get_one(CorpusLock, "demo")
        assert (row.token, row.host) == (held.token, HOST)
        held.check(session)
    with sessions() as session:
        assert session.get(CorpusLock, "demo") is None
