from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from db.settings import Settings


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QCLUST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QCLUST_DUPLICATE_THRESHOLD", "0.9")
    settings = Settings()
    assert settings.duplicate_threshold == 0.9
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'qclust.db'}"


def test_config_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "qclust.toml"
    config.write_text('batch_size = 16\ndatabase_url = "postgresql://db/test"\n')
    monkeypatch.setenv("QCLUST_CONFIG", str(config))
    settings = Settings()
    assert settings.batch_size == 16
    assert settings.resolved_database_url == "postgresql://db/test"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCLUST_DUPLICATE_THRESHOLD", "1.7")
    with pytest.raises(ValidationError, match="duplicate_threshold"):
        Settings()
