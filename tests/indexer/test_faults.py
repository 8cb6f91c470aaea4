"""Fault injection: an ingest killed with -9 (or Ctrl-C) at every step that matters, on both
databases; a reader right after it says what happened; the same command again finishes the job
and leaves every invariant of `tests.invariants` true."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import IngestRun, RunStatus
from db.queries import summarize_corpora
from db.runs import close_abandoned_runs
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.errors import NotEncodedError
from indexer.ingest import ingest_file
from indexer.search import open_searcher
from tests.app.conftest import first_demo_rows
from tests.invariants import assert_consistent
from tests.processes import run_qclust, settings_env

pytestmark = pytest.mark.slow
ROWS = 128
CHUNK = 32  # four chunks of vectors: a kill can land between any two

# Each point sits between two steps whose order decides what a crash leaves behind.
POINTS = [
    "lock:acquired",  # the lock row is written, nothing else
    "ingest:read-row:64",  # half the file read, nothing stored
    "ingest:stored-batch",  # questions stored, nothing encoded
    "encode:encoded-chunk",  # vectors computed, not written
    "encode:wrote-vectors",  # one chunk of vectors committed
    "encode:wrote-vectors:3",  # three chunks committed
    "ingest:before-index",  # every vector written, no index
    "cache:temp-written",  # the index written to a temporary file, not renamed
    "ingest:index-saved",  # the index in place, not recorded
    "ingest:before-finish",  # everything done but the run's status
]


def _ingest_args(path: Path) -> list[str]:
    return ["ingest", str(path), "-c", "demo", "--text-column", "question", "--id-column", "id",
            "-q"]  # fmt: skip


BEFORE_ANY_ROW = {"lock:acquired", "ingest:read-row:64"}
STOPS = [*((point, "KILL") for point in POINTS), ("encode:encoded-chunk:2", "INT")]
# PostgreSQL differs in transactions and locking, not in the order of steps: a dead lock
# holder, a kill between vector commits and Ctrl-C (a rolled-back transaction) cover it.
POSTGRES_STOPS = [
    ("lock:acquired", "KILL"),
    ("encode:wrote-vectors", "KILL"),
    ("encode:encoded-chunk:2", "INT"),
]
CASES = [
    *(pytest.param("sqlite", point, how, id=f"sqlite-{point}-{how}") for point, how in STOPS),
    *(
        pytest.param("postgres", point, how, id=f"postgres-{point}-{how}",
                     marks=pytest.mark.postgres)
        for point, how in POSTGRES_STOPS
    ),
]  # fmt: skip


@pytest.mark.parametrize(("database_url", "point", "how"), CASES, indirect=["database_url"])
def test_an_ingest_stopped_anywhere_loses_nothing(
    point: str,
    how: str,
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    questions = first_demo_rows(tmp_path / "questions.csv", ROWS)
    env = settings_env(settings) | {
        "QCLUST_ENCODE_CHUNK_ROWS": str(CHUNK),
        "QCLUST_FAULT_AT": point,
        "QCLUST_FAULT_SIGNAL": how,
    }
    child = run_qclust(_ingest_args(questions), env, tmp_path / "killed.log")
    expected = -signal.SIGKILL if how == "KILL" else 130
    assert child.process.exitcode == expected, child.output
    if how == "INT":
        assert "run the same command again to resume" in child.output
    _a_reader_is_told_what_happened(settings, sessions, default_encoder)

    report = ingest_file(
        questions, "demo", settings=settings, sessions=sessions, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    assert report.added + report.already_in_corpus == ROWS
    assert_consistent(settings, sessions, default_encoder, "demo")
    with sessions() as session:
        statuses = [r.status for r in session.scalars(select(IngestRun).order_by(IngestRun.id))]
    assert statuses[-1] is RunStatus.DONE
    if point not in BEFORE_ANY_ROW:  # a run exists once the first batch is stored
        first = RunStatus.ABANDONED if how == "KILL" else RunStatus.INTERRUPTED
        assert statuses == [first, RunStatus.DONE]


def _a_reader_is_told_what_happened(
    settings: Settings, sessions: sessionmaker[Session], encoder: Encoder
) -> None:
    with sessions() as session:
        summaries = {s.name: s for s in summarize_corpora(session)}
    if "demo" not in summaries:
        return  # killed before the first batch: nothing was stored, nothing to tell
    pending = summaries["demo"].not_encoded
    if pending == 0:
        open_searcher("demo", settings=settings, sessions=sessions, encoder=encoder)
        return
    searcher = open_searcher("demo", settings=settings, sessions=sessions, encoder=encoder)
    assert searcher.not_encoded == pending
    with pytest.raises(NotEncodedError, match=f"{pending:,} questions of corpus 'demo' are not"):
        searcher.check_duplicates("Quel temps fera-t-il demain à Lyon ?")


@pytest.mark.parametrize(
    ("database_url", "point"),
    [
        ("sqlite", "encode:wrote-vectors:2"),
        ("sqlite", "reindex:swapped"),
        pytest.param("postgres", "encode:wrote-vectors:2", marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
)
def test_a_reindex_killed_anywhere_resumes_and_swaps(
    point: str,
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
    tiny_bert: Path,
) -> None:
    from indexer.reindex import reindex

    questions = first_demo_rows(tmp_path / "questions.csv", ROWS)
    ingest_file(
        questions, "demo", settings=settings, sessions=sessions, text_column="question",
        id_column="id", encoder=default_encoder,
    )  # fmt: skip
    env = settings_env(settings) | {
        "QCLUST_ENCODE_CHUNK_ROWS": str(CHUNK),
        "QCLUST_FAULT_AT": point,
    }
    child = run_qclust(
        ["reindex", "demo", "--model", str(tiny_bert), "-q"], env, tmp_path / "r.log"
    )
    assert child.process.exitcode == -signal.SIGKILL, child.output
    swapped = point == "reindex:swapped"
    before = open_searcher("demo", settings=settings, sessions=sessions)
    assert before.encoder.spec.model == (str(tiny_bert) if swapped else "all-MiniLM-L6-v2")
    assert before.size == ROWS  # searchable all along, with one model or the other

    tiny = Encoder.for_new_corpus(str(tiny_bert), device="cpu")
    if swapped:  # the next command of any kind (here: `qclust corpora`) tidies up after it
        with sessions.begin() as session:
            close_abandoned_runs(session)
    else:
        report = reindex("demo", str(tiny_bert), settings=settings, sessions=sessions, encoder=tiny)
        assert report.resumed
        assert report.encoded == ROWS - 2 * CHUNK  # only what the killed run had not written
    assert_consistent(settings, sessions, tiny, "demo")
