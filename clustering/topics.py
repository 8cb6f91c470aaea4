"""Topic clusters: the shared kNN graph laid out in a few dimensions, then HDBSCAN.

The pipeline BERTopic made standard (reduce, then HDBSCAN), made fast: the layout is EVoC's
node embedding of the FAISS kNN graph (`clustering.embedding`; UMAP on the same graph remains
as `embedding="umap"`), and `fast_hdbscan` (parallel Boruvka) clusters it at every candidate
smallest-topic size, sizes with the same `min_samples` sharing one spanning tree. Tiny corpora
skip the layout, which needs more points than neighbours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from clustering.embedding import node_embedding
from clustering.errors import ParameterError
from clustering.kernels import cache_umap_kernels
from clustering.knn import KnnGraph
from clustering.spanning_tree import canonical_tree

logger = logging.getLogger(__name__)

Selection = Literal["eom", "leaf"]
SELECTIONS: tuple[Selection, ...] = ("eom", "leaf")
Embedding = Literal["auto", "evoc", "umap"]
EMBEDDINGS: tuple[Embedding, ...] = ("auto", "evoc", "umap")
# "auto" lays out smaller corpora with UMAP: on 200 Banking77 and 500 CLINC150 questions its
# picked level had V 0.749 and 0.812 against EVoC's 0.677 and 0.781; on the demo corpus's
# 1,580 the two tied (V 0.74 to 0.76 over three seeds each), and UMAP's 3 s there is about
# what EVoC's compiled kernels take to load in a fresh process. From 3,100 (CLINC150) up,
# EVoC's layout matched or beat UMAP's at a seventh of the time.
UMAP_BELOW = 2_000
Labels = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
SMALL_CORPUS = 50  # below this, cluster the vectors directly
IDENTICAL_SPREAD = 1e-4


Granularity = Literal["finer", "auto", "coarser"]
GRANULARITIES: tuple[Granularity, ...] = ("finer", "auto", "coarser")
# Candidate minimum cluster sizes: each is one HDBSCAN on the reduced space, and the level is
# the one whose clusters are most coherent (cosine silhouette of a fixed sample of clustered
# questions, times the share clustered). Measured on five labelled sets from 200 to 20,000
# questions (bench/cluster.py): 0.69 to 0.89 V-measure, where any fixed size failed one of
# them (10: 2 clusters of 200 Banking77 questions; 3: 881 clusters of 20,000 titles).
SIZE_GRID = (3, 5, 8, 10, 15, 25, 50, 100, 200, 500, 1000, 2000, 5000)
SMALLEST_SHARE = 20_000  # at n questions, sizes from n / this (a million: from 50)
LARGEST_SHARE = 10  # ... to n / this
GRANULARITY_STEPS = 2  # "finer" and "coarser" move this many sizes along the grid
# min_samples follows the size up to EVoC's default, so the level search builds two spanning
# trees (min_samples 3 and 5), not six (up to 25): on Banking77 the topic stage took 1.2 s,
# not 2.2, on the titles 2.0 s, not 3.2, at V-measures within the seeds' spread (seeds 0, 1:
# Banking77 0.756 / 0.758 against 0.753 / 0.762, titles 0.693 / 0.681 against 0.690 / 0.685;
# CLINC150 and both samples the same labels).
MAX_MIN_SAMPLES = 5
CATCH_ALL_SHARE = 0.5  # a level whose largest topic holds more of the corpus is passed over
SILHOUETTE_SAMPLE = 2_000  # same picks as 4,000 on the five sets, a quarter of the work


def candidate_sizes(n_questions: int) -> list[int]:
    """The minimum cluster sizes tried for a corpus of `n_questions`."""
    low, high = max(3, n_questions // SMALLEST_SHARE), max(3, n_questions // LARGEST_SHARE)
    return [size for size in SIZE_GRID if low <= size <= high] or [3]


def coherence(vectors: Floats, labels: Labels, *, sample: int = SILHOUETTE_SAMPLE) -> float:
    """Label-free quality of a clustering: cosine silhouette of (a fixed sample of) the
    clustered questions, times the share clustered, so that neither tiny clean clusters
    with most questions left out nor one catch-all scores well."""
    return CoherenceScorer(vectors, sample=sample).score(labels)


class CoherenceScorer:
    """`coherence` for many clusterings of the same vectors: the distances between one fixed
    sample of the questions are computed once, and each clustering is scored on the sampled
    questions it clusters."""

    def __init__(self, vectors: Floats, *, sample: int = SILHOUETTE_SAMPLE) -> None:
        rows = np.arange(len(vectors))
        if len(rows) > sample:
            rows = np.sort(np.random.default_rng(0).choice(len(rows), size=sample, replace=False))
        chosen = vectors[rows].astype(np.float32)
        chosen /= np.maximum(np.linalg.norm(chosen, axis=1, keepdims=True), 1e-12)
        self.rows = rows
        self.distances = np.clip(1.0 - chosen @ chosen.T, 0.0, 2.0)
        np.fill_diagonal(self.distances, 0.0)

    def score(self, labels: Labels) -> float:
        sampled = labels[self.rows]
        inside = np.flatnonzero(sampled >= 0)
        silhouette = cosine_silhouette(self.distances, inside, sampled[inside])
        return silhouette * float((labels >= 0).mean())


def cosine_silhouette(
    distances: npt.NDArray[np.float32], rows: npt.NDArray[np.int64], labels: Labels
) -> float:
    """sklearn's `silhouette_score` of `rows` of the square `distances`, labelled `labels`
    (0 below two clusters, or with no more rows than clusters). Each row's distance sums to
    every cluster are one sparse product, not sklearn's checks and chunked reductions: the
    nine to eleven scores of a level search took 0.17 s with sklearn on 2,000 questions."""
    clusters, codes = np.unique(labels, return_inverse=True)
    if len(clusters) < 2 or len(rows) <= len(clusters):
        return 0.0
    members = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (codes, rows)),
        shape=(len(clusters), len(distances)),
    )
    sums = np.asarray(members @ distances).T[rows].astype(np.float64)  # symmetric: row, cluster
    sizes = np.bincount(codes).astype(np.float64)
    own = np.arange(len(rows)), codes
    within = sums[own] / np.maximum(sizes[codes] - 1.0, 1.0)
    means = sums / sizes
    means[own] = np.inf
    between = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        each = (between - within) / np.maximum(within, between)
    each[sizes[codes] == 1] = 0.0  # sklearn's convention for a cluster of one
    return float(np.nan_to_num(each).mean())


def largest_share(labels: Labels) -> float:
    """The share of all questions in the largest cluster."""
    clustered = labels[labels >= 0]
    return float(np.bincount(clustered).max() / len(labels)) if len(clustered) else 0.0


def pick_level(
    scores: dict[int, float], largest: dict[int, float], granularity: Granularity = "auto"
) -> int:
    """The candidate size with the best coherence among those without a catch-all topic
    (more than `CATCH_ALL_SHARE` of the corpus), moved `GRANULARITY_STEPS` along them for
    "finer" or "coarser"; when every candidate has a catch-all, among all of them.

    On 100,000 varied questions of six sources the three coarsest candidates (3 to 7 topics,
    the largest 53% to 64% of the corpus) scored best, 0.05 against 0.01 for 99 topics, and
    matched the labels worst (V-measure 0.16 to 0.29 against 0.78): a silhouette of two or
    three huge topics says they differ, not that they are topics.
    """
    sizes = sorted(scores)
    eligible = [size for size in sizes if largest[size] <= CATCH_ALL_SHARE] or sizes
    best = max(range(len(eligible)), key=lambda i: (scores[eligible[i]], -i))
    step = {"finer": -GRANULARITY_STEPS, "auto": 0, "coarser": GRANULARITY_STEPS}
    return eligible[min(max(best + step[granularity], 0), len(eligible) - 1)]


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
    granularity: Granularity = "auto"
    embedding: Embedding = "auto"
    labels_: Labels = field(init=False, repr=False)
    probabilities_: Floats = field(init=False, repr=False)
    embedding_: Floats = field(init=False, repr=False)
    # The minimum cluster size used, and each candidate's coherence (empty when it was given).
    min_cluster_size_: int = field(init=False, repr=False)
    scores_: dict[int, float] = field(init=False, repr=False, default_factory=dict)

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
        if self.granularity not in GRANULARITIES:
            raise ParameterError(
                f"granularity must be one of {', '.join(GRANULARITIES)}, not '{self.granularity}'"
            )
        if self.embedding not in EMBEDDINGS:
            raise ParameterError(
                f"embedding must be one of {', '.join(EMBEDDINGS)}, not '{self.embedding}'"
            )
        if self.selection not in SELECTIONS:
            raise ParameterError(
                f"selection must be one of {', '.join(SELECTIONS)}, not '{self.selection}'"
            )

    def fit(self, graph: KnnGraph, vectors: Floats) -> TopicClusterer:
        self.validate()
        n = len(vectors)
        self.min_cluster_size_ = self.min_cluster_size or default_min_cluster_size(n)
        if is_degenerate(vectors):
            self.labels_ = np.zeros(n, dtype=np.int64)
            self.probabilities_ = np.ones(n, dtype=np.float32)
            self.embedding_ = np.zeros((n, self.n_components), dtype=np.float32)
            return self
        if n < SMALL_CORPUS:
            self.embedding_ = vectors
        else:
            self.embedding_ = self._layout(graph, vectors)
        if n < SMALL_CORPUS:
            size = max(2, min(self.min_cluster_size_, n // 3))
            self.min_cluster_size_ = size
            self.labels_, self.probabilities_ = self._hdbscan(self.embedding_, size)
        elif self.min_cluster_size is not None:
            self.labels_, self.probabilities_ = self._hdbscan(
                self.embedding_, self.min_cluster_size
            )
        else:
            self._choose_level(vectors)
        return self

    def lays_out_with_umap(self, n_questions: int) -> bool:
        return self.embedding == "umap" or (self.embedding == "auto" and n_questions < UMAP_BELOW)

    def _layout(self, graph: KnnGraph, vectors: Floats) -> Floats:
        if self.lays_out_with_umap(len(vectors)):
            return umap_embedding(
                graph,
                vectors,
                n_components=self.n_components,
                n_neighbors=self.n_neighbors,
                min_dist=self.min_dist,
                n_epochs=self.n_epochs,
                random_state=self.random_state,
            )
        return node_embedding(
            graph,
            vectors,
            n_components=self.n_components,
            n_neighbors=self.n_neighbors,
            n_epochs=self.n_epochs,
            random_state=self.random_state,
        )

    def _choose_level(self, vectors: Floats) -> None:
        """HDBSCAN at each candidate size; keep the most coherent that is no catch-all (moved
        along the grid by the granularity asked for)."""
        sizes = candidate_sizes(len(vectors))
        trees = HdbscanTrees(self.embedding_, self.selection)
        found = {
            size: trees.clusters(size, self._min_samples(size, len(vectors))) for size in sizes
        }
        scorer = CoherenceScorer(vectors)
        self.scores_ = {size: scorer.score(labels) for size, (labels, _) in found.items()}
        largest = {size: largest_share(labels) for size, (labels, _) in found.items()}
        chosen = pick_level(self.scores_, largest, self.granularity)
        self.min_cluster_size_ = chosen
        self.labels_, self.probabilities_ = found[chosen]
        logger.info(
            "topic level: coherence by smallest topic %s; largest topic's share %s; chose %d (%s)",
            {size: round(score, 3) for size, score in self.scores_.items()},
            {size: round(share, 2) for size, share in largest.items()}, chosen, self.granularity,
        )  # fmt: skip

    def _min_samples(self, min_cluster_size: int, n_points: int) -> int:
        # min_samples follows the size up to a cap: each core distance is the min_samples-th
        # neighbour's (at 5,000, one HDBSCAN of 100,000 points took 577 s), and each value is
        # one more spanning tree.
        samples = self.min_samples or min(min_cluster_size, MAX_MIN_SAMPLES)
        return max(1, min(samples, n_points - 1))

    def _hdbscan(self, points: Floats, min_cluster_size: int) -> tuple[Labels, Floats]:
        samples = self._min_samples(min_cluster_size, len(points))
        return HdbscanTrees(points, self.selection).clusters(min_cluster_size, samples)


# fast_hdbscan hands points of more than 30 dimensions to pynndescent, whose kernels are not
# cached on disk: 35 s of compiling in every new process, to cluster a 40-question corpus in its
# 384 dimensions. Up to this many points, such data goes in as the exact distance graph instead
# (fast_hdbscan's precomputed path, the same labels, compiled once per machine).
KD_TREE_MAX_DIMENSIONS = 30
EXACT_GRAPH_MAX_POINTS = 2_000  # dense n-by-n arrays: 206 MiB at the peak, at this size


def distance_graph(points: npt.NDArray[np.float64]) -> sparse.csr_matrix:
    """Every pair's euclidean distance as a sparse graph, the diagonal left out and exact
    duplicates kept as explicit zeros."""
    from scipy.spatial.distance import pdist, squareform

    distances = squareform(pdist(points))
    rows, columns = np.nonzero(~np.eye(len(points), dtype=bool))
    return sparse.csr_matrix((distances[rows, columns], (rows, columns)), shape=distances.shape)


class HdbscanTrees:
    """HDBSCAN of one set of points at many sizes. Its minimum spanning tree (of mutual
    reachability) depends on `min_samples` alone, so the sizes that share it share the tree:
    on 20,000 titles the level search builds 2 trees for its 12 sizes, and each size after the
    tree is a condensation of about 15 ms. The tree is rebuilt canonical (`canonical_tree`,
    10 ms there), so the labels are the same on every run and thread count; for that tree
    they are `fast_hdbscan.HDBSCAN`'s own."""

    def __init__(self, points: Floats, selection: Selection) -> None:
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.selection = selection
        self._trees: dict[int, npt.NDArray[np.float64]] = {}
        wide = self.points.shape[1] > KD_TREE_MAX_DIMENSIONS
        exact = wide and len(points) <= EXACT_GRAPH_MAX_POINTS
        # What fast_hdbscan's spanning tree is built from: the points, or their distances.
        self._tree_input = (
            (distance_graph(self.points), "precomputed") if exact else (self.points, "euclidean")
        )

    def clusters(self, min_cluster_size: int, min_samples: int) -> tuple[Labels, Floats]:
        from fast_hdbscan.hdbscan import clusters_from_spanning_tree, compute_minimum_spanning_tree

        n = len(self.points)
        if n < 2:
            return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
        tree = self._trees.get(min_samples)
        if tree is None:
            data, metric = self._tree_input
            found = compute_minimum_spanning_tree(data, min_samples=min_samples, metric=metric)[0]
            tree = self._trees[min_samples] = canonical_tree(found)
        labels, strengths, *_ = clusters_from_spanning_tree(
            tree, min_cluster_size=min_cluster_size, cluster_selection_method=self.selection
        )
        return np.asarray(labels, dtype=np.int64), np.asarray(strengths, dtype=np.float32)
