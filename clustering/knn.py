"""The k-nearest-neighbour graph every clustering step shares, built with FAISS (never n-by-n).

Rows are positions in the vector matrix; column 0 is the point itself (similarity 1), as UMAP's
precomputed kNN expects.

Over an IVF index the graph visits `GRAPH_NPROBE` lists per point, not the search's nprobe
(a sixteenth of the lists, for recall@10 >= 0.95 on any one query): a million points at the
search's 250 of 4,000 lists did not finish in 22 minutes. The graph's use is near-duplicates
and neighbourhoods, and its closest neighbours sit in the nearest lists: on 100,000 stored
questions (static model, IVF1264) 16 lists found 0.84 of the 16 nearest and 0.98 of those at
cosine 0.9 or more, in 12 s (32 lists: 0.89 and 0.99 in 22 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.index import build_index, choose_factory, limited_nprobe, search

_SEARCH_CHUNK = 16_384
GRAPH_NPROBE = 16


@dataclass(frozen=True)
class KnnGraph:
    indices: npt.NDArray[np.int64]  # (n, k) row positions; -1 where fewer neighbours exist
    similarities: npt.NDArray[np.float32]  # (n, k) cosine, descending

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def distances(self) -> npt.NDArray[np.float32]:
        """Cosine distances, clipped at 0, for UMAP."""
        distances: npt.NDArray[np.float32] = np.maximum(1.0 - self.similarities, 0.0)
        return distances.astype(np.float32)


def knn_graph(
    vectors: npt.NDArray[np.float32],
    k: int,
    *,
    index: Any | None = None,
    ids: npt.NDArray[np.int64] | None = None,
    exact_max: int = 100_000,
) -> KnnGraph:
    """k neighbours (self included) of every row of `vectors`.

    With `index` (the corpus's own FAISS index, keyed by `ids`, sorted ascending) no new index
    is built; otherwise one is built over row positions.
    """
    n = len(vectors)
    k = min(k, n)
    if index is None:
        positions = np.arange(n, dtype=np.int64)
        index = build_index(vectors, positions, choose_factory(n, exact_max=exact_max))
    found_ids = np.empty((n, k), dtype=np.int64)
    found_sims = np.empty((n, k), dtype=np.float32)
    with limited_nprobe(index, GRAPH_NPROBE):
        for start in range(0, n, _SEARCH_CHUNK):
            stop = min(start + _SEARCH_CHUNK, n)
            sims, hits = search(index, vectors[start:stop], k)
            found_ids[start:stop], found_sims[start:stop] = hits, sims
    if ids is not None:
        rows = np.searchsorted(ids, found_ids)
        valid = (found_ids >= 0) & (rows < n)
        valid[valid] &= ids[rows[valid]] == found_ids[valid]
        found_ids = np.where(valid, rows, -1)
    return _self_first(found_ids, found_sims)


def _self_first(indices: npt.NDArray[np.int64], similarities: npt.NDArray[np.float32]) -> KnnGraph:
    """Put each point first in its own row (ties between identical vectors can hide it)."""
    n, k = indices.shape
    own = np.arange(n)
    has_self = indices == own[:, None]
    missing = ~has_self.any(axis=1)
    if missing.any():  # replace the last neighbour with the point itself
        indices[missing, -1] = own[missing]
        has_self[missing, -1] = True
    order = np.argsort(~has_self, axis=1, kind="stable")
    indices = np.take_along_axis(indices, order, axis=1)
    similarities = np.take_along_axis(similarities, order, axis=1)
    similarities[:, 0] = 1.0
    return KnnGraph(indices, similarities)
