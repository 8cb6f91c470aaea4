"""One typed settings object, read from `QCLUST_*` environment variables and an optional TOML file.

It sits in the bottom layer so that every layer reads the same configuration.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "qclust"


def _default_index_memory_gb() -> float:
    """A quarter of the machine's memory (4 GiB where it cannot be read)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 4.0
    return round(total / 4 / 2**30, 1)


def _config_file() -> Path:
    return Path(os.environ.get("QCLUST_CONFIG", "qclust.toml"))


class Settings(BaseSettings):
    """Every knob of qclust: env `QCLUST_<FIELD>`, file `qclust.toml` or `$QCLUST_CONFIG`."""

    model_config = SettingsConfigDict(env_prefix="QCLUST_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )

    default_corpus: str | None = Field(default=None, description="Corpus the UI opens first")
    model: str = Field(
        default=DEFAULT_MODEL, description="Model for new corpora: local path or hub name"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(default=64, ge=1)
    encode_chunk_rows: int = Field(
        default=8192, ge=1, description="Rows encoded and saved together; the unit of resumption"
    )
    vector_dtype: Literal["float32", "float16"] = "float32"

    duplicate_threshold: float = Field(default=0.80, gt=0.0, le=1.0)
    possible_margin: float = Field(
        default=0.10, ge=0.0, lt=1.0, description="Scores this far below the threshold: 'possible'"
    )
    max_question_chars: int = Field(default=2000, ge=10)

    exact_index_max: int = Field(
        default=100_000, ge=1, description="Corpora up to this size get an exact (flat) index"
    )
    index_memory_gb: float = Field(
        default_factory=_default_index_memory_gb,
        gt=0,
        description="Memory a corpus's index may take; past it (as flat float32 vectors) the "
        "index is IVF-SQ8, a quarter of the size. Default: a quarter of the machine's RAM",
    )
    ngpu: int = Field(default=-1, ge=-1, description="GPUs for FAISS search: 0 = CPU, -1 = all")
    ui_login: bool = Field(
        default=False,
        description="The UI asks for an API token ('qclust ui --host' sets it when exposed)",
    )

    @model_validator(mode="after")
    def _expand_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        return self

    def threshold_for(self, own: float | None) -> float:
        """A corpus's duplicate threshold: its own, else the default."""
        return own if own is not None else self.duplicate_threshold

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'qclust.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; entry points call this, libraries take `Settings` as input."""
    return Settings()
