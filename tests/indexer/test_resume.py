"""Kill an ingest half-way (SIGKILL and Ctrl-C), run it again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from db.models import IngestRun, Question, RunStatus
from db.session import open_database
from db.settings import Settings
from indexer.index import load_index
from indexer.store import VectorStore
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
    folders = list((settings.data_dir / "corpora").glob("*/encoder-*/vectors"))
    if not folders or not (folders[0] / "ids.bin").exists():
        return 0
    return (folders[0] / "ids.bin").stat().st_size // 8


def _start_and_stop_midway(
    path: Path, settings: Settings, stop: signal.Signals
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        _ingest_command(path), env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while _stored_rows(settings) < 64 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(stop)
    process.wait(timeout=60)
    return process


def _assert_complete_and_unique(settings: Settings) -> None:
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        question_ids = list(session.scalars(select(Question.id).order_by(Question.id)))
        texts = list(session.scalars(select(Question.text)))
    [folder] = list((settings.data_dir / "corpora").glob("*/encoder-*"))
    store = VectorStore.open(folder / "vectors")
    np.testing.assert_array_equal(store.ids(), question_ids)  # each question encoded once
    assert len(texts) == len(set(texts))
    index = load_index(folder / "index.faiss")
    assert index.ntotal == len(question_ids)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_interrupted_ingest_finishes_on_the_next_run(
    questions_file: Path, settings: Settings, stop: signal.Signals
) -> None:
    first = _start_and_stop_midway(questions_file, settings, stop)
    partial = _stored_rows(settings)
    assert 0 < partial < SUBSET_ROWS, "the kill should land half-way through encoding"
    if stop == signal.SIGINT:
        assert first.returncode == 130
        assert b"run the same command again" in first.stderr.read()  # type: ignore[union-attr]

    second = subprocess.run(
        _ingest_command(questions_file), env=_env(settings), capture_output=True, timeout=600
    )
    assert second.returncode == 0, second.stderr.decode()
    assert b"0 new" in second.stdout  # every question was already stored by the first run
    _assert_complete_and_unique(settings)

    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        statuses = [r.status for r in session.scalars(select(IngestRun).order_by(IngestRun.id))]
    expected_first = RunStatus.INTERRUPTED if stop == signal.SIGINT else RunStatus.RUNNING
    assert statuses == [expected_first, RunStatus.DONE]
