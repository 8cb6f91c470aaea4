"""Topic clusters: UMAP to a few dimensions over the shared kNN graph, then HDBSCAN.

The pipeline BERTopic made standard, made fast: UMAP gets the FAISS kNN graph instead of
building its own with NN-descent, and `fast_hdbscan` (parallel Boruvka) does the clustering.
Tiny corpora skip UMAP, which needs more points than neighbours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from clustering.errors import ParameterError
from clustering.kernels import cache_umap_kernels
from clustering.knn import KnnGraph

logger = logging.getLogger(__name__)

Selection = Literal["eom", "leaf"]
SELECTIONS: tuple[Selection, ...] = ("eom", "leaf")
Labels = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
SMALL_CORPUS = 50  # below this, cluster the vectors directly
IDENTICAL_SPREAD = 1e-4


def default_min_cluster_size(n_questions: int) -> int:
    """10 below 10,000 questions, 15 up to 30,000, then n/2,000 (500 at 1,000,000).

    Chosen on the three benchmark sets (bench/cluster.py): 15 beat 10 on 20,000 StackOverflow
    titles and tied on 10,000 banking questions; 10 suits CLINC's 20-question intents.
    """
    return max(10 if n_questions < 10_000 else 15, n_questions // 2000)


def umap_embedding(
    graph: KnnGraph,
    vectors: Floats,
    *,
    n_components: int,
    n_neighbors: int,
    min_dist: float,
    n_epochs: int | None = None,
    random_state: int | None = None,
    init: Floats | None = None,
) -> Floats:
    """UMAP of `vectors` that reuses `graph` instead of searching neighbours again."""
    import warnings

    import umap

    cache_umap_kernels()
    k = min(n_neighbors, graph.k)
    reducer = umap.UMAP(
        n_neighbors=k,
        n_components=n_components,
        min_dist=min_dist,
        metric="cosine",
        precomputed_knn=(graph.indices[:, :k], graph.distances[:, :k]),
        n_epochs=n_epochs,
        random_state=random_state,
        init="spectral" if init is None else init,
        low_memory=True,
        verbose=False,
    )
    with warnings.catch_warnings():  # we never call transform(), so no search index is needed
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        embedding: Floats = np.asarray(reducer.fit_transform(vectors), dtype=np.float32)
    return embedding


def is_degenerate(vectors: Floats) -> bool:
    """All vectors (nearly) the same point: nothing to separate."""
    return bool(np.ptp(vectors, axis=0).max() < IDENTICAL_SPREAD)


@dataclass(kw_only=True)
class TopicClusterer:
    """Estimator in the scikit-learn shape: `fit` sets `labels_` (-1: outlier),
    `probabilities_` (membership strength) and `embedding_` (the reduced space)."""

    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    min_cluster_size: int | None = None
    min_samples: int | None = None
    selection: Selection = "eom"
    n_epochs: int | None = None
    random_state: int | None = None
    labels_: Labels = field(init=False, repr=False)
    probabilities_: Floats = field(init=False, repr=False)
    embedding_: Floats = field(init=False, repr=False)

    def validate(self) -> None:
        if self.n_neighbors < 2:
            raise ParameterError(f"n_neighbors must be at least 2, not {self.n_neighbors}")
        if not 2 <= self.n_components <= 100:
            raise ParameterError(f"n_components must be 2 to 100, not {self.n_components}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ParameterError(f"min_dist must be 0 to 1, not {self.min_dist}")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise ParameterError(
                f"min_cluster_size must be at least 2, not {self.min_cluster_size}"
            )
        if self.min_samples is not None and self.min_samples < 1:
            raise ParameterError(f"min_samples must be at least 1, not {self.min_samples}")
        if self.selection not in SELECTIONS:
            raise ParameterError(
                f"selection must be one of {', '.join(SELECTIONS)}, not '{self.selection}'"
            )

    def fit(self, graph: KnnGraph, vectors: Floats) -> TopicClusterer:
        self.validate()
        n = len(vectors)
        size = self.min_cluster_size or default_min_cluster_size(n)
        if is_degenerate(vectors):
            self.labels_ = np.zeros(n, dtype=np.int64)
            self.probabilities_ = np.ones(n, dtype=np.float32)
            self.embedding_ = np.zeros((n, self.n_components), dtype=np.float32)
            return self
        if n < SMALL_CORPUS:
            self.embedding_ = vectors
            size = max(2, min(size, n // 3))
        else:
            self.embedding_ = umap_embedding(
                graph,
                vectors,
                n_components=self.n_components,
                n_neighbors=self.n_neighbors,
                min_dist=self.min_dist,
                n_epochs=self.n_epochs,
                random_state=self.random_state,
            )
        self.labels_, self.probabilities_ = self._hdbscan(self.embedding_, size)
        return self

    def _hdbscan(self, points: Floats, min_cluster_size: int) -> tuple[Labels, Floats]:
        from fast_hdbscan import HDBSCAN

        samples = min(self.min_samples or min_cluster_size, len(points) - 1)
        model = HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=max(1, samples),
            cluster_selection_method=self.selection,
        ).fit(np.asarray(points, dtype=np.float64))
        return (
            np.asarray(model.labels_, dtype=np.int64),
            np.asarray(model.probabilities_, dtype=np.float32),
        )
