"""Errors from the library reach the user as one line through `main()`, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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


def test_a_damaged_sqlite_file_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """It once gave a raw `database disk image is malformed` traceback."""
    import sys

    from app.cli import main
    from db.session import open_database
    from db.settings import get_settings

    database = tmp_path / "qclust.db"
    open_database(f"sqlite:///{database}").kw["bind"].dispose()  # a real, migrated database
    for journal in tmp_path.glob("qclust.db-*"):
        journal.unlink()
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])  # truncated
    monkeypatch.setenv("QCLUST_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QCLUST_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["qclust", "corpora"])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    get_settings.cache_clear()
    stderr = capfd.readouterr().err
    assert exited.value.code == 1
    assert "cannot be used" in stderr
    assert "restore it from a backup" in stderr
    assert "Traceback" not in stderr
