"""Where a corpus's files live, and the lock that lets one writer at a time touch them."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import CorpusBusyError


@dataclass(frozen=True)
class CorpusFiles:
    """Files of one corpus under one encoder: `<data_dir>/corpora/<uid>/encoder-<id>/`."""

    folder: Path

    @classmethod
    def of(cls, data_dir: Path, corpus_uid: str, encoder_id: int) -> CorpusFiles:
        return cls(data_dir / "corpora" / corpus_uid / f"encoder-{encoder_id}")

    def for_encoder(self, encoder_id: int) -> CorpusFiles:
        """The same corpus's files under another encoder (a re-index builds there)."""
        return CorpusFiles(self.folder.parent / f"encoder-{encoder_id}")

    @property
    def store_folder(self) -> Path:
        return self.folder / "vectors"

    @property
    def index_path(self) -> Path:
        return self.folder / "index.faiss"

    @contextmanager
    def write_lock(self, *, wait: bool = True) -> Iterator[None]:
        """Exclusive across processes; released by the OS even when the holder is killed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError as exc:
                raise CorpusBusyError(
                    f"another process is writing to {self.folder}; try again when it is done"
                ) from exc
            yield
        finally:
            os.close(fd)
