"""Vectors on disk, append-only, so an index can be rebuilt and clustering can read them without
re-encoding anything.

A store is a folder with three files: `vectors.bin` (rows of float32 or float16), `ids.bin` (the
question id of each row, int64) and `store.json`. Appends write and fsync the vectors before the
ids, so after a crash (`kill -9`) the ids file never runs ahead; `open` cuts a torn tail off both,
and the rows that remain are exactly the questions that are encoded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from indexer.errors import VectorStoreError

VectorDtype = Literal["float32", "float16"]
_IDS = "ids.bin"
_VECTORS = "vectors.bin"
_META = "store.json"


class VectorStore:
    def __init__(self, folder: Path, dimension: int, dtype: VectorDtype) -> None:
        self.folder = folder
        self.dimension = dimension
        self.dtype: VectorDtype = dtype
        self._row_bytes = dimension * np.dtype(dtype).itemsize
        self._rows = self._repair()

    @classmethod
    def open_or_create(cls, folder: Path, dimension: int, dtype: VectorDtype) -> VectorStore:
        meta_path = folder / _META
        if meta_path.exists():
            store = cls.open(folder)
            if store.dimension != dimension:
                raise VectorStoreError(
                    f"{folder}: holds {store.dimension}-d vectors, the encoder makes {dimension}-d"
                )
            return store
        folder.mkdir(parents=True, exist_ok=True)
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"dimension": dimension, "dtype": dtype}))
        os.replace(tmp, meta_path)
        return cls(folder, dimension, dtype)

    @classmethod
    def open(cls, folder: Path) -> VectorStore:
        try:
            meta = json.loads((folder / _META).read_text())
            return cls(folder, int(meta["dimension"]), meta["dtype"])
        except (OSError, ValueError, KeyError) as exc:
            raise VectorStoreError(f"{folder}: no readable vector store ({exc})") from exc

    def __len__(self) -> int:
        return self._rows

    def _repair(self) -> int:
        """Cut both files to the rows that were completely written."""
        ids_path, vectors_path = self.folder / _IDS, self.folder / _VECTORS
        id_rows = ids_path.stat().st_size // 8 if ids_path.exists() else 0
        vector_rows = vectors_path.stat().st_size // self._row_bytes if vectors_path.exists() else 0
        rows = min(id_rows, vector_rows)
        for path, row_size in ((ids_path, 8), (vectors_path, self._row_bytes)):
            if path.exists() and path.stat().st_size != rows * row_size:
                with path.open("r+b") as handle:
                    handle.truncate(rows * row_size)
        return rows

    def append(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        if vectors.shape != (len(ids), self.dimension):
            raise VectorStoreError(
                f"cannot append {vectors.shape} vectors with {len(ids)} ids "
                f"to a {self.dimension}-d store"
            )
        for path, data in (
            (self.folder / _VECTORS, np.ascontiguousarray(vectors, dtype=self.dtype)),
            (self.folder / _IDS, np.ascontiguousarray(ids, dtype=np.int64)),
        ):
            with path.open("ab") as handle:
                handle.write(data.tobytes())
                handle.flush()
                os.fsync(handle.fileno())
        self._rows += len(ids)

    def ids(self) -> npt.NDArray[np.int64]:
        if self._rows == 0:
            return np.empty(0, dtype=np.int64)
        return np.fromfile(self.folder / _IDS, dtype=np.int64, count=self._rows)

    def max_id(self) -> int:
        """The largest stored id; rows are appended in increasing id order."""
        if self._rows == 0:
            return 0
        with (self.folder / _IDS).open("rb") as handle:
            handle.seek((self._rows - 1) * 8)
            return int(np.frombuffer(handle.read(8), dtype=np.int64)[0])

    def vectors(self, start: int = 0, stop: int | None = None) -> npt.NDArray[np.float32]:
        """Rows `start:stop` as float32 (read from disk; float16 stores are widened)."""
        stop = self._rows if stop is None else min(stop, self._rows)
        if stop <= start:
            return np.empty((0, self.dimension), dtype=np.float32)
        mapped = np.memmap(
            self.folder / _VECTORS, dtype=self.dtype, mode="r", shape=(self._rows, self.dimension)
        )
        return np.array(mapped[start:stop], dtype=np.float32)

    def take(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Only the given rows, as float32: a sample without reading the whole store."""
        mapped = np.memmap(
            self.folder / _VECTORS, dtype=self.dtype, mode="r", shape=(self._rows, self.dimension)
        )
        return np.array(mapped[rows], dtype=np.float32)
