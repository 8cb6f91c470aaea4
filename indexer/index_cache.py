"""The FAISS index as a cache file: validated by whoever opens it, rebuilt from the database.

One file per corpus and encoder, `<data_dir>/cache/<corpus uid>/encoder-<id>/index.qcache`:
a header line (JSON: encoder, dimension, corpus revision, vector count, factory, CRC-32), the
sorted question ids, then the serialised index. Written to a temporary file and renamed into
place, so a reader sees the old file or the new one. A file that is missing, torn, garbled,
of another encoder or dimension raises `IndexFileError`, and the caller rebuilds.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from db.faults import fault_point
from db.liveness import pid_alive
from indexer.errors import IndexFileError
from indexer.index import index_kind, tune

CACHE_NAME = "index.qcache"
_MAGIC = b"QCLUST-INDEX 1\n"
_TMP = re.compile(r"^\.index\.qcache\.(\d+)\.[0-9a-f]+\.tmp$")


def cache_folder(data_dir: Path, corpus_uid: str, encoder_id: int) -> Path:
    return data_dir / "cache" / corpus_uid / f"encoder-{encoder_id}"


@dataclass(frozen=True)
class CachedIndex:
    encoder_id: int
    revision: int
    ids: npt.NDArray[np.int64]  # ascending
    index: Any

    @property
    def factory(self) -> str:
        return index_kind(self.index)


def write_cache(folder: Path, cached: CachedIndex) -> Path:
    """Write atomically; stale temporary files of dead processes are removed first."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_orphan_temporaries(folder)
    ids = np.ascontiguousarray(cached.ids, dtype="<i8").tobytes()
    payload = faiss.serialize_index(cached.index).tobytes()
    header = {
        "encoder_id": cached.encoder_id,
        "dimension": int(cached.index.d),
        "revision": cached.revision,
        "count": len(cached.ids),
        "factory": cached.factory,
        "crc32": zlib.crc32(payload, zlib.crc32(ids)),
    }
    path = folder / CACHE_NAME
    tmp = folder / f".{CACHE_NAME}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    with tmp.open("wb") as handle:
        handle.write(_MAGIC + json.dumps(header).encode() + b"\n")
        handle.write(ids)
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    fault_point("cache:temp-written")
    os.replace(tmp, path)
    return path


def read_cache(folder: Path, *, encoder_id: int, dimension: int) -> CachedIndex:
    path = folder / CACHE_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IndexFileError(f"no index cache at {path}") from None
    except OSError as exc:
        raise IndexFileError(f"the index cache {path} cannot be read: {exc}") from exc
    header, ids, payload = _split(data, path)
    if header.get("encoder_id") != encoder_id or header.get("dimension") != dimension:
        raise IndexFileError(
            f"the index cache {path} is for encoder {header.get('encoder_id')} "
            f"({header.get('dimension')}-d), not encoder {encoder_id} ({dimension}-d)"
        )
    if zlib.crc32(payload, zlib.crc32(ids)) != header.get("crc32"):
        raise IndexFileError(f"the index cache {path} is corrupt (checksum mismatch)")
    try:
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexFileError(f"the index cache {path} is corrupt: {exc}") from exc
    id_array = np.frombuffer(ids, dtype="<i8").astype(np.int64)
    if index.d != dimension or not index.ntotal == len(id_array) == header.get("count"):
        raise IndexFileError(f"the index cache {path} does not match its header")
    tune(index)
    return CachedIndex(encoder_id, int(header["revision"]), id_array, index)


def _split(data: bytes, path: Path) -> tuple[dict[str, Any], bytes, bytes]:
    if not data.startswith(_MAGIC):
        raise IndexFileError(f"the index cache {path} is not a qclust index file")
    end = data.find(b"\n", len(_MAGIC))
    try:
        header = json.loads(data[len(_MAGIC) : end])
        count = int(header["count"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFileError(f"the index cache {path} has an unreadable header") from exc
    body = data[end + 1 :]
    if end < 0 or count < 0 or len(body) < count * 8:
        raise IndexFileError(f"the index cache {path} is truncated")
    return header, body[: count * 8], body[count * 8 :]


def remove_orphan_temporaries(folder: Path) -> None:
    """Temporary files left by a writer that was killed before its rename."""
    for candidate in folder.glob(f".{CACHE_NAME}.*.tmp"):
        match = _TMP.match(candidate.name)
        if match and not pid_alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
