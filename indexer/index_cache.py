"""The FAISS index as a cache file: validated by whoever opens it, rebuilt from the database.

One file per corpus and encoder, `<data_dir>/cache/<corpus uid>/encoder-<id>/index.qcache`:
a magic line, the sorted question ids, the serialised index, then a JSON trailer (encoder,
dimension, corpus revision, vector count, factory and why it was chosen, byte sizes, CRC-32) and
its length. The index streams to and from the file, so a cache costs no second copy of the
vectors in memory.
Written to a temporary file and renamed into place, so a reader sees the old file or the new
one. A file that is missing, torn, garbled, of another encoder or dimension raises
`IndexFileError`, and the caller rebuilds.
"""

from __future__ import annotations

import json
import os
import re
import struct
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    reason: str = ""  # why this kind was chosen (`indexer.index.choose_index`)

    @property
    def factory(self) -> str:
        return index_kind(self.index)


class _Checksummed:
    """A file's read or write, with the CRC-32 and byte count of what passed through."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.crc, self.size = handle, 0, 0

    def write(self, data: bytes) -> int:
        self.crc, self.size = zlib.crc32(data, self.crc), self.size + len(data)
        return self.handle.write(data)

    def read(self, size: int) -> bytes:
        data = self.handle.read(size)
        self.crc, self.size = zlib.crc32(data, self.crc), self.size + len(data)
        return data


def write_cache(folder: Path, cached: CachedIndex) -> Path:
    """Write atomically; stale temporary files of dead processes are removed first."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    remove_orphan_temporaries(folder)
    path = folder / CACHE_NAME
    tmp = folder / f".{CACHE_NAME}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    with tmp.open("wb") as handle:
        handle.write(_MAGIC)
        body = _Checksummed(handle)
        body.write(np.ascontiguousarray(cached.ids, dtype="<i8").tobytes())
        faiss.write_index(cached.index, faiss.PyCallbackIOWriter(body.write))  # type: ignore[attr-defined]
        trailer = json.dumps({
            "encoder_id": cached.encoder_id, "dimension": int(cached.index.d),
            "revision": cached.revision, "count": len(cached.ids), "factory": cached.factory,
            "reason": cached.reason, "body_bytes": body.size, "crc32": body.crc,
        }).encode()  # fmt: skip
        handle.write(trailer + struct.pack("<Q", len(trailer)))
        handle.flush()
        os.fsync(handle.fileno())
    fault_point("cache:temp-written")
    os.replace(tmp, path)
    return path


def read_cache(folder: Path, *, encoder_id: int, dimension: int) -> CachedIndex:
    import faiss

    path = folder / CACHE_NAME
    try:
        with path.open("rb") as handle:
            header = _trailer(handle, path)
            if header.get("encoder_id") != encoder_id or header.get("dimension") != dimension:
                raise IndexFileError(
                    f"the index cache {path} is for encoder {header.get('encoder_id')} "
                    f"({header.get('dimension')}-d), not encoder {encoder_id} ({dimension}-d)"
                )
            # The checksum pass reads the file on a second handle while FAISS parses it on
            # this one (both let go of the GIL): a 1 GB index opened in 1.6 s, now in about
            # the longer of the two. The index is used only if the checksum matches.
            with ThreadPoolExecutor(1) as pool, path.open("rb") as second:
                checked = pool.submit(
                    _check_crc, second, path, int(header["body_bytes"]), int(header["crc32"])
                )
                handle.seek(len(_MAGIC))
                count = int(header["count"])
                try:
                    ids = np.frombuffer(handle.read(count * 8), dtype="<i8").astype(np.int64)
                    reader = faiss.PyCallbackIOReader(_bounded(handle, header, count))  # type: ignore[attr-defined]
                    index = faiss.read_index(reader)
                finally:
                    checked.result()  # a mismatch is the error to report, whatever FAISS said
    except FileNotFoundError:
        raise IndexFileError(f"no index cache at {path}") from None
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise IndexFileError(f"the index cache {path} is corrupt: {exc}") from exc
    if index.d != dimension or not index.ntotal == len(ids) == count:
        raise IndexFileError(f"the index cache {path} does not match its header")
    tune(index)
    return CachedIndex(
        encoder_id, int(header["revision"]), ids, index, str(header.get("reason", ""))
    )


def _trailer(handle: BinaryIO, path: Path) -> dict[str, Any]:
    if handle.read(len(_MAGIC)) != _MAGIC:
        raise IndexFileError(f"the index cache {path} is not a qclust index file")
    size = handle.seek(0, os.SEEK_END)
    if size < len(_MAGIC) + 8:
        raise IndexFileError(f"the index cache {path} is truncated")
    handle.seek(size - 8)
    (length,) = struct.unpack("<Q", handle.read(8))
    if length > size - len(_MAGIC) - 8:
        raise IndexFileError(f"the index cache {path} is truncated")
    handle.seek(size - 8 - length)
    try:
        header = dict(json.loads(handle.read(length)))
    except ValueError as exc:
        raise IndexFileError(f"the index cache {path} has an unreadable trailer") from exc
    if len(_MAGIC) + int(header["body_bytes"]) + length + 8 != size:
        raise IndexFileError(f"the index cache {path} is truncated or padded")
    return header


def _check_crc(handle: BinaryIO, path: Path, body_bytes: int, expected: int) -> None:
    handle.seek(len(_MAGIC))
    body = _Checksummed(handle)
    left = body_bytes
    while left:
        chunk = body.read(min(left, 1 << 24))
        if not chunk:
            break
        left -= len(chunk)
    if body.crc != expected:
        raise IndexFileError(f"the index cache {path} is corrupt (checksum mismatch)")


def _bounded(handle: BinaryIO, header: dict[str, Any], count: int) -> Callable[[int], bytes]:
    """A reader that cannot run past the index into the trailer."""
    left = int(header["body_bytes"]) - count * 8

    def read(size: int) -> bytes:
        nonlocal left
        data = handle.read(min(size, left))
        left -= len(data)
        return data

    return read


def remove_orphan_temporaries(folder: Path) -> None:
    """Temporary files left by a writer that was killed before its rename."""
    for candidate in folder.glob(f".{CACHE_NAME}.*.tmp"):
        match = _TMP.match(candidate.name)
        if match and not pid_alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
