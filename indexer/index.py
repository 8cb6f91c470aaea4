"""FAISS over normalised vectors: exact for small corpora, IVF above a size, IVF-SQ8 past memory.

Index types are `index_factory` strings, so what was built is recorded in one short string
(`index_kind` reads it back from the structure). The choice follows the corpus size and a memory
budget: exact while small; `IVF,Flat` while the flat float32 vectors fit the budget; above that
`IVF,SQ8` (one byte per dimension, a quarter of the size). Measured in `bench/index_choice.py`:
at 100,000 x 384-d SQ8 kept recall@10 0.976 against exact at 412 bytes per vector, where IVF-PQ
re-ranked from SQ8 copies reached 0.78 (48-byte codes) and 0.966 (96-byte codes, 519 bytes in
all, slower to train and to search) with 8 candidates per neighbour.
CPU and GPU are one number, `ngpu` (0 = CPU, -1 = all GPUs), as in faiss contrib.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

EXACT_FACTORY = "IDMap2,Flat"
_TRAIN_POINTS_PER_LIST = 64
_MIN_LISTS, _MAX_LISTS = 64, 65_536
_ID_BYTES = 8
_MIN_COMPRESSED = 39 * _MIN_LISTS  # faiss's fewest training points for the smallest IVF
_SQ_NAMES = {"QT_8bit": "SQ8", "QT_6bit": "SQ6", "QT_4bit": "SQ4", "QT_fp16": "SQfp16"}


@dataclass(frozen=True)
class IndexChoice:
    """The factory string for a corpus and why it was chosen (logged, and kept in the cache)."""

    factory: str
    reason: str


def ivf_lists(n_vectors: int) -> int:
    return min(max(4 * math.isqrt(n_vectors), _MIN_LISTS), _MAX_LISTS)


def compressed_factory(n_vectors: int) -> str:
    return f"IVF{ivf_lists(n_vectors)},SQ8"


def bytes_per_vector(factory: str, dimension: int) -> int:
    """What one vector costs in an index of `factory`: its codes and id, no overhead."""
    code_bytes = dimension if "SQ8" in factory else 4 * dimension
    return code_bytes + _ID_BYTES


def choose_index(
    n_vectors: int,
    *,
    exact_max: int,
    dimension: int | None = None,
    memory_bytes: int | None = None,
) -> IndexChoice:
    """Exact up to `exact_max` vectors, IVF-Flat above; IVF-SQ8 when the flat vectors would
    not fit `memory_bytes` (not checked without both `dimension` and `memory_bytes`)."""
    if dimension is None or memory_bytes is None:
        return _uncompressed(n_vectors, exact_max, "")
    budget = f"index_memory_gb {memory_bytes / 2**30:.2f} GiB"
    flat = n_vectors * bytes_per_vector(EXACT_FACTORY, dimension)
    size = f"{n_vectors:,} x {dimension}-d flat vectors take {flat / 2**30:.2f} GiB"
    if flat <= memory_bytes:
        return _uncompressed(n_vectors, exact_max, f"; {size}, within {budget}")
    if n_vectors < _MIN_COMPRESSED:  # too few to train the lists
        return _uncompressed(
            n_vectors, exact_max, f"; {size}, over {budget}, but too few to compress"
        )
    factory = compressed_factory(n_vectors)
    reason = f"{size}, over {budget}"
    compressed = n_vectors * bytes_per_vector(factory, dimension)
    if compressed > memory_bytes:
        reason += f"; compressed they still take {compressed / 2**30:.2f} GiB"
        logger.warning("the index exceeds its memory budget: %s", reason)
    return IndexChoice(factory, reason)


def _uncompressed(n_vectors: int, exact_max: int, memory: str) -> IndexChoice:
    if n_vectors <= exact_max:
        return IndexChoice(
            EXACT_FACTORY, f"{n_vectors:,} vectors <= exact_index_max {exact_max:,}{memory}"
        )
    factory = f"IVF{ivf_lists(n_vectors)},Flat"
    return IndexChoice(factory, f"{n_vectors:,} vectors > exact_index_max {exact_max:,}{memory}")


def choose_factory(
    n_vectors: int,
    *,
    exact_max: int,
    dimension: int | None = None,
    memory_bytes: int | None = None,
) -> str:
    """The factory string of `choose_index`."""
    return choose_index(
        n_vectors, exact_max=exact_max, dimension=dimension, memory_bytes=memory_bytes
    ).factory


def default_nprobe(n_lists: int) -> int:
    """Lists visited per query: enough for recall@10 >= 0.95 on clustered data (see tests)."""
    return min(n_lists, max(16, n_lists // 16))


def build_index(vectors: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], factory: str) -> Any:
    """A CPU index of `factory` over `vectors`, searched by inner product, keyed by `ids`."""
    import faiss

    dimension = vectors.shape[1]
    index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        lists = faiss.extract_index_ivf(index).nlist
        sample_size = min(len(vectors), lists * _TRAIN_POINTS_PER_LIST)
        sample = np.random.default_rng(0).choice(len(vectors), sample_size, replace=False)
        index.train(vectors[np.sort(sample)])
    tune(index)
    add_vectors(index, vectors, ids)
    return index


def tune(index: Any) -> None:
    """Search-time settings: lists visited per query."""
    import faiss

    if "IVF" not in index_kind(index):
        return
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = default_nprobe(ivf.nlist)


def add_vectors(index: Any, vectors: npt.NDArray[np.float32], ids: npt.NDArray[np.int64]) -> None:
    if len(ids):
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64)
        )


def index_kind(index: Any) -> str:
    """The factory string of a built index, read back from its structure: `IDMap2,Flat`,
    `IVF4000,Flat`, `IVF4000,SQ8`, `IDMap2,IVF4000,PQ48x8,Refine(SQ8)`; else the class name."""
    import faiss

    parts = []
    if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
        parts.append("IDMap2" if isinstance(index, faiss.IndexIDMap2) else "IDMap")
    inner = _unwrap_id_map(index)
    refine = ""
    if isinstance(inner, faiss.IndexRefineFlat):
        refine, inner = "RFlat", faiss.downcast_index(inner.base_index)
    elif isinstance(inner, faiss.IndexRefine):
        refine = f"Refine({_codes(faiss.downcast_index(inner.refine_index))})"
        inner = faiss.downcast_index(inner.base_index)
    if isinstance(inner, faiss.IndexIVF):
        parts.append(f"IVF{inner.nlist}")
    parts.append(_codes(inner))
    return ",".join([*parts, refine] if refine else parts)


def _unwrap_id_map(index: Any) -> Any:
    import faiss

    if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
        return faiss.downcast_index(index.index)
    return index


def _codes(index: Any) -> str:
    """How `index` stores each vector, as `index_factory` spells it."""
    import faiss

    if isinstance(index, faiss.IndexIVFPQFastScan | faiss.IndexPQFastScan):
        return f"PQ{index.M}x4fs"
    if isinstance(index, faiss.IndexIVFPQ | faiss.IndexPQ):
        return f"PQ{index.pq.M}x{index.pq.nbits}"
    if isinstance(index, faiss.IndexIVFScalarQuantizer | faiss.IndexScalarQuantizer):
        names = {getattr(faiss.ScalarQuantizer, qt): name for qt, name in _SQ_NAMES.items()}
        return names.get(index.sq.qtype, f"SQ(type {index.sq.qtype})")
    if isinstance(index, faiss.IndexIVFFlat | faiss.IndexFlat):
        return "Flat"
    return type(index).__name__


def _on_gpu(index: Any) -> bool:
    return "Gpu" in type(index).__name__


def to_search_device(index: Any, ngpu: int) -> Any:
    """Move `index` to the GPUs when faiss has some and `ngpu` allows; else keep it on the CPU."""
    import faiss

    available = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    if ngpu == 0 or available == 0:
        return index
    options = faiss.GpuMultipleClonerOptions()
    options.shard = True
    used = available if ngpu < 0 else min(ngpu, available)
    logger.info("searching on %d GPU(s)", used)
    return faiss.index_cpu_to_all_gpus(index, co=options, ngpu=used)


def search(
    index: Any, queries: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top-`k` (scores, ids) per query; missing neighbours have id -1."""
    k = max(1, min(k, int(index.ntotal) or 1))
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, ids


@contextmanager
def limited_nprobe(index: Any, nprobe: int) -> Iterator[None]:
    """An IVF index visits at most `nprobe` lists per query inside the block, for work that
    needs only each query's closest neighbours (a kNN graph, a labelling queue); its own
    setting comes back after, since the index may be the corpus's, shared with search."""
    import faiss

    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:  # not an IVF index: exact, nothing to set
        yield
        return
    before = ivf.nprobe
    ivf.nprobe = min(before, nprobe)
    try:
        yield
    finally:
        ivf.nprobe = before
