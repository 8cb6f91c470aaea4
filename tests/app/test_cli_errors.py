"""Errors from the library reach the user as one line through `main()`, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _qclust(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QCLUST_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True
    )


def test_missing_corpus_and_missing_column(tmp_path: Path) -> None:
    result = _qclust(tmp_path, "search", "hello", "--corpus", "nope")
    assert result.returncode == 1
    assert "corpus 'nope' does not exist" in result.stderr
    assert "Traceback" not in result.stderr

    path = tmp_path / "q.csv"
    path.write_text("id,question\n1,How?\n")
    result = _qclust(tmp_path, "ingest", str(path), "--corpus", "c", "--text-column", "questions")
    assert result.returncode == 1
    assert "no column 'questions' (did you mean 'question'?)" in result.stderr
    assert "Traceback" not in result.stderr
