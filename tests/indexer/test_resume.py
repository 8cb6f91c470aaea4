"""Kill an ingest half-way (SIGKILL and Ctrl-C), run it again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from db.models import IngestRun, Question, QuestionVector, RunStatus
from db.session import open_database
from db.settings import Settings
from indexer.corpus_index import locate_corpus
from indexer.index_cache import read_cache
from tests.conftest import DEMO_QUESTIONS

pytestmark = pytest.mark.slow


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "QCLUST_DATA_DIR": str(settings.data_dir),
        "QCLUST_DATABASE_URL": settings.resolved_database_url,
        "QCLUST_DEVICE": "cpu",
        "QCLUST_ENCODE_CHUNK_ROWS": "32",  # many small chunks: a kill lands between two
        "QCLUST_BATCH_SIZE": "16",
        "HF_HUB_OFFLINE": "1",
    }


SUBSET_ROWS = 400


@pytest.fixture
def questions_file(tmp_path: Path) -> Path:
    """The first rows of the demo corpus: enough chunks for a kill to land half-way."""
    lines = DEMO_QUESTIONS.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "questions.csv"
    path.write_text("".join(lines[: SUBSET_ROWS + 1]), encoding="utf-8")
    return path


def _ingest_command(path: Path) -> list[str]:
    return [
        sys.executable, "-m", "app.cli", "ingest", str(path),
        "--corpus", "demo", "--text-column", "question", "--id-column", "id", "--quiet",
    ]  # fmt: skip


def _stored_rows(settings: Settings) -> int:
    """Vectors committed so far, read the way any second process would."""
    from sqlalchemy import create_engine, func
    from sqlalchemy.exc import OperationalError, ProgrammingError

    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(QuestionVector)) or 0)
    except (OperationalError, ProgrammingError):  # the schema is not there yet
        return 0
    finally:
        engine.dispose()


def _start_and_stop_midway(
    path: Path, settings: Settings, stop: signal.Signals
) -> subprocess.CompletedProcess[bytes]:
    """Stopped (as by kill -9 or Ctrl-C) right after the second chunk of vectors is committed:
    a fault point, so the stop lands half-way on every machine, however fast."""
    env = _env(settings) | {
        "QCLUST_FAULT_AT": "encode:wrote-vectors:2",
        "QCLUST_FAULT_SIGNAL": "KILL" if stop == signal.SIGKILL else "INT",
    }
    return subprocess.run(_ingest_command(path), env=env, capture_output=True, timeout=600)


def _assert_complete_and_unique(settings: Settings) -> None:
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        question_ids = list(session.scalars(select(Question.id).order_by(Question.id)))
        texts = list(session.scalars(select(Question.text)))
    with sessions() as session:
        vector_ids = list(
            session.scalars(select(QuestionVector.question_id).order_by(QuestionVector.question_id))
        )
    np.testing.assert_array_equal(vector_ids, question_ids)  # each question encoded once
    assert len(texts) == len(set(texts))
    location = locate_corpus(sessions, settings, "demo")
    cached = read_cache(
        location.cache_folder, encoder_id=location.encoder_id, dimension=location.dimension
    )
    np.testing.assert_array_equal(cached.ids, question_ids)
    assert cached.revision == location.revision


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_interrupted_ingest_finishes_on_the_next_run(
    questions_file: Path, settings: Settings, stop: signal.Signals
) -> None:
    first = _start_and_stop_midway(questions_file, settings, stop)
    assert _stored_rows(settings) == 64  # two chunks of 32, committed
    if stop == signal.SIGINT:
        assert first.returncode == 130
        assert b"run the same command again" in first.stderr
    else:
        assert first.returncode == -signal.SIGKILL

    second = subprocess.run(
        _ingest_command(questions_file), env=_env(settings), capture_output=True, timeout=600
    )
    assert second.returncode == 0, second.stderr.decode()
    assert b"0 new" in second.stdout  # every question was already stored by the first run
    _assert_complete_and_unique(settings)

    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        statuses = [r.status for r in session.scalars(select(IngestRun).order_by(IngestRun.id))]
    # A run killed with -9 cannot say so itself: the next command finds its process gone.
    expected_first = RunStatus.INTERRUPTED if stop == signal.SIGINT else RunStatus.ABANDONED
    assert statuses == [expected_first, RunStatus.DONE]
