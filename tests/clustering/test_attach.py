"""An outlier that duplicates a clustered question joins its cluster in the run itself."""

from __future__ import annotations

import numpy as np

from clustering.knn import KnnGraph
from clustering.pipeline import _attach_near_duplicates


def test_a_near_duplicate_of_a_member_joins_its_cluster_and_a_loose_outlier_stays() -> None:
    # Rows: 0 and 1 in cluster 4; 2 duplicates 0 (0.974); 3 is only loosely like 1 (0.61);
    # 4 duplicates 2, an outlier itself, so it stays (no chains through outliers).
    indices = np.array([[0, 1, 2], [1, 0, 3], [2, 0, 4], [3, 1, 0], [4, 2, 0]], dtype=np.int64)
    similarities = np.array(
        [[1.0, 0.9, 0.974], [1.0, 0.9, 0.61], [1.0, 0.974, 0.95], [1.0, 0.61, 0.5],
         [1.0, 0.95, 0.79]], dtype=np.float32,
    )  # fmt: skip
    labels = np.array([4, 4, -1, -1, -1], dtype=np.int64)
    strengths = np.array([0.9, 0.8, 0.0, 0.0, 0.0], dtype=np.float32)
    attached, strength = _attach_near_duplicates(
        KnnGraph(indices, similarities), labels, strengths, threshold=0.8
    )
    assert attached.tolist() == [4, 4, 4, -1, -1]
    assert strength[2] == np.float32(0.974)
    assert strength[:2].tolist() == strengths[:2].tolist()
    assert labels.tolist() == [4, 4, -1, -1, -1]  # the input is left as it was
