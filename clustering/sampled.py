"""Topics of a large corpus: fitted on a seeded sample, every other question placed afterwards.

The layout and the level search grow faster than the corpus, while topics of a thousand questions
or more are already plain in a sample of a hundred thousand. So above `2 * sample_size`
questions the topic stage (its own kNN graph, the layout, HDBSCAN at every candidate size, the map)
runs on `sample_size` questions drawn with a fixed seed, and each other question joins a topic
by the vote of its nearest sampled questions: the rule that places questions ingested between
runs (`placement.place_all`), so a placed question and a fitted one follow the same evidence.
The map places them at the similarity-weighted mean of those neighbours' positions. A million
questions cluster this way in about 11 minutes on two cores (BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from clustering.knn import GRAPH_NPROBE, KnnGraph, knn_graph
from clustering.mapping import map_2d
from clustering.placement import place_all
from clustering.topics import TopicClusterer
from indexer.index import build_index, choose_factory, limited_nprobe, search

Labels = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
DEFAULT_SAMPLE = 100_000
MIN_SAMPLE = 100  # below this a sample says little about a corpus's topics
PLACEMENT_NEIGHBOURS = 15
PLACEMENT_MIN_SIMILARITY = 0.5  # as for questions ingested between runs (clustering.assign)
_PLACE_CHUNK = 65_536
EXACT_SAMPLE_MAX = 20_000  # smaller samples are searched exactly


def samples_topics(n_questions: int, sample_size: int) -> bool:
    """Whether a corpus of `n_questions` is clustered on a sample (0: never)."""
    return sample_size > 0 and n_questions > 2 * sample_size


def sample_rows(n_questions: int, sample_size: int, seed: int) -> npt.NDArray[np.int64]:
    """Which rows are fitted: a seeded draw, sorted, so the same corpus gives the same sample."""
    chosen = np.random.default_rng(seed).choice(n_questions, size=sample_size, replace=False)
    return np.sort(chosen).astype(np.int64)


@dataclass(kw_only=True)
class SampledTopics:
    """`TopicClusterer.fit` for large corpora: the same attributes, for every row."""

    clusterer: TopicClusterer
    sample_size: int = DEFAULT_SAMPLE
    knn_k: int = 16
    seed: int = 0
    labels_: Labels = field(init=False, repr=False)
    probabilities_: Floats = field(init=False, repr=False)
    rows_: npt.NDArray[np.int64] = field(init=False, repr=False)  # the fitted rows
    placed_: int = field(init=False, repr=False, default=0)  # placed rows that joined a topic
    _graph: KnnGraph = field(init=False, repr=False)
    _hits: npt.NDArray[np.int64] = field(init=False, repr=False)  # (rest, k) sample positions
    _sims: Floats = field(init=False, repr=False)

    @property
    def min_cluster_size_(self) -> int:
        return self.clusterer.min_cluster_size_

    @property
    def scores_(self) -> dict[int, float]:
        return self.clusterer.scores_

    def fit(self, vectors: Floats) -> SampledTopics:
        n = len(vectors)
        self.rows_ = sample_rows(n, self.sample_size, self.seed)
        fitted = np.ascontiguousarray(vectors[self.rows_])
        # One index over the sample serves its kNN graph and the placement of the rest.
        positions = np.arange(len(fitted), dtype=np.int64)
        index = build_index(
            fitted, positions, choose_factory(len(fitted), exact_max=EXACT_SAMPLE_MAX)
        )
        self._graph = knn_graph(fitted, self.knn_k, index=index)
        self.clusterer.fit(self._graph, fitted)
        rest = self._rest(n)
        self._hits, self._sims = _nearest_in_sample(index, vectors, rest, PLACEMENT_NEIGHBOURS)
        sample_labels = self.clusterer.labels_
        neighbour_labels = np.where(self._hits >= 0, sample_labels[np.maximum(self._hits, 0)], -1)
        placed = place_all(
            neighbour_labels, self._sims, np.zeros((*self._hits.shape, 2), dtype=np.float32),
            min_similarity=PLACEMENT_MIN_SIMILARITY,
        )  # fmt: skip
        self.labels_ = np.full(n, -1, dtype=np.int64)
        self.probabilities_ = np.zeros(n, dtype=np.float32)
        self.labels_[self.rows_] = sample_labels
        self.probabilities_[self.rows_] = self.clusterer.probabilities_
        self.labels_[rest] = placed.keys
        self.probabilities_[rest] = np.where(placed.keys >= 0, placed.shares, 0.0)
        self.placed_ = int((placed.keys >= 0).sum())
        return self

    def map(self, vectors: Floats, *, n_neighbors: int, random_state: int | None) -> Floats:
        """(x, y) for every row: the sample's map, the others beside their sampled neighbours."""
        fitted_xy = map_2d(
            self._graph,
            np.ascontiguousarray(vectors[self.rows_]),
            n_neighbors=n_neighbors,
            random_state=random_state,
            start=self.clusterer.embedding_,
            evoc=not self.clusterer.lays_out_with_umap(len(self.rows_)),
        )
        n = len(self.labels_)
        coordinates = np.zeros((n, 2), dtype=np.float32)
        coordinates[self.rows_] = fitted_xy
        weights = np.maximum(self._sims, 1e-6)[..., None]
        neighbour_xy = fitted_xy[np.maximum(self._hits, 0)]
        coordinates[self._rest(n)] = (weights * neighbour_xy).sum(axis=1) / weights.sum(axis=1)
        return coordinates

    def _rest(self, n: int) -> npt.NDArray[np.int64]:
        keep = np.ones(n, dtype=bool)
        keep[self.rows_] = False
        return np.flatnonzero(keep)


def _nearest_in_sample(
    index: Any, vectors: Floats, rest: npt.NDArray[np.int64], k: int
) -> tuple[npt.NDArray[np.int64], Floats]:
    """The `k` most similar fitted rows (positions in the sample's `index`) of each row in
    `rest`, at the kNN graph's lists: a vote needs the closest neighbours, which sit in the
    nearest lists."""
    hits = np.empty((len(rest), k), dtype=np.int64)
    sims = np.empty((len(rest), k), dtype=np.float32)
    with limited_nprobe(index, GRAPH_NPROBE):
        for start in range(0, len(rest), _PLACE_CHUNK):
            chunk = rest[start : start + _PLACE_CHUNK]
            sims[start : start + len(chunk)], hits[start : start + len(chunk)] = search(
                index, vectors[chunk], k
            )
    return hits, sims
