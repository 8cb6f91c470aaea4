"""Topic clustering judged against known labels: V-measure, adjusted Rand index, noise share.

The same stage as `qclust cluster` (kNN graph, layout, HDBSCAN, outliers joining the nearest
topic) on vectors in memory, so a labelled file can be scored without creating a corpus; only
the near-duplicate attachment is left out, as it needs a corpus's duplicate threshold.
Outliers count as one more label, so a run cannot look good by calling everything noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import adjusted_rand_score, v_measure_score

from clustering.knn import knn_graph
from clustering.outliers import attach_to_centres
from clustering.params import ClusterParams


@dataclass(frozen=True)
class ClusterScores:
    questions: int
    true_labels: int
    clusters: int
    noise_share: float
    v_measure: float
    adjusted_rand: float


def score_clusters(truth: npt.ArrayLike, found: npt.NDArray[np.int64]) -> tuple[float, float]:
    """V-measure and ARI of `found` (-1: outlier) against `truth`."""
    true_labels = np.asarray(truth)
    return (
        float(v_measure_score(true_labels, found)),
        float(adjusted_rand_score(true_labels, found)),
    )


def evaluate_clustering(
    vectors: npt.NDArray[np.float32], truth: list[str], params: ClusterParams | None = None
) -> ClusterScores:
    params = params or ClusterParams()
    params.validate()
    graph = knn_graph(vectors, params.knn_k)
    topics = params.topic_clusterer().fit(graph, vectors)
    labels = topics.labels_
    if params.join_outliers:
        labels, _ = attach_to_centres(vectors, labels, topics.probabilities_)
    v_measure, ari = score_clusters(truth, labels)
    return ClusterScores(
        questions=len(vectors),
        true_labels=len(set(truth)),
        clusters=len(set(labels.tolist()) - {-1}),
        noise_share=float(np.mean(labels < 0)),
        v_measure=v_measure,
        adjusted_rand=ari,
    )
