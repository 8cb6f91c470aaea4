"""Data folders written before vectors moved into the database: imported on first use.

Those versions kept each corpus's vectors in `<data_dir>/corpora/<uid>/encoder-<id>/vectors/`
(`vectors.bin`, `ids.bin`, `store.json`) beside a FAISS index. The first command that opens
such a corpus copies the rows whose ids are questions of the corpus into the database, under
the corpus's write lock, without re-encoding, then removes the old folder. A torn tail (the
rows past the shorter of the two files) is left out; `qclust ingest` encodes what is missing.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.locks import corpus_write_lock
from db.models import Question
from db.settings import Settings
from db.vectors import count_vectors, write_vectors

if TYPE_CHECKING:
    from indexer.corpus_index import CorpusLocation

logger = logging.getLogger(__name__)
_CHUNK = 20_000


def legacy_folder(data_dir: Path, corpus_uid: str, encoder_id: int) -> Path:
    return data_dir / "corpora" / corpus_uid / f"encoder-{encoder_id}"


def import_legacy_vectors(
    sessions: sessionmaker[Session], settings: Settings, location: CorpusLocation
) -> int:
    """Copy an old-layout vector store into the database; returns how many rows came in."""
    folder = legacy_folder(settings.data_dir, location.uid, location.encoder_id)
    store = folder / "vectors"
    if not (store / "store.json").exists():
        return 0
    with corpus_write_lock(sessions, location.name, "migration", on_wait=logger.warning) as lock:
        with sessions() as session:
            if count_vectors(session, location.corpus_id, location.encoder_id):
                return 0  # another process imported it while we waited
            known = set(
                session.scalars(select(Question.id).where(Question.corpus_id == location.corpus_id))
            )
        ids, vectors = _read_store(store, location.dimension)
        keep = np.fromiter((int(i) in known for i in ids), dtype=bool, count=len(ids))
        ids, vectors = ids[keep], vectors[keep]
        _, first = np.unique(ids, return_index=True)
        ids, vectors = ids[first], vectors[first]
        for start in range(0, len(ids), _CHUNK):
            with sessions.begin() as session:
                lock.check(session)
                write_vectors(
                    session, location.corpus_id, location.encoder_id,
                    ids[start : start + _CHUNK], vectors[start : start + _CHUNK], location.dtype,
                )  # fmt: skip
    logger.warning(
        "moved %d vectors of corpus '%s' from %s into the database", len(ids), location.name, store
    )
    shutil.rmtree(folder, ignore_errors=True)
    return len(ids)


def _read_store(
    folder: Path, dimension: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    meta = json.loads((folder / "store.json").read_text())
    dtype = np.dtype("float16" if meta.get("dtype") == "float16" else "float32")
    if int(meta.get("dimension", dimension)) != dimension:
        logger.warning("%s holds %s-d vectors, not %d-d: not imported", folder, meta, dimension)
        return np.empty(0, np.int64), np.empty((0, dimension), np.float32)
    ids = np.fromfile(folder / "ids.bin", dtype="<i8") if (folder / "ids.bin").exists() else None
    vectors_file = folder / "vectors.bin"
    raw = np.fromfile(vectors_file, dtype=dtype) if vectors_file.exists() else None
    if ids is None or raw is None:
        return np.empty(0, np.int64), np.empty((0, dimension), np.float32)
    rows = min(len(ids), raw.size // dimension)
    vectors = raw[: rows * dimension].reshape(rows, dimension).astype(np.float32)
    return ids[:rows].astype(np.int64), vectors
