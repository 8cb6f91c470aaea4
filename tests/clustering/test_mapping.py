"""The 2-D map: which layout refines the topics' one, and the corpora too small to lay out."""

from __future__ import annotations

import numpy as np
import pytest

import clustering.mapping as mapping
from clustering.knn import knn_graph
from clustering.params import ClusterParams
from clustering.pipeline import _map
from clustering.topics import UMAP_BELOW, TopicClusterer
from tests.clustering.test_topics import _blobs


@pytest.mark.parametrize(("n", "engine"), [(UMAP_BELOW - 1, "umap"), (UMAP_BELOW, "evoc")])
def test_the_map_is_laid_out_by_the_engine_that_laid_out_the_topics(
    n: int, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EVoC's kernels are loaded for a map only where the topics loaded them already."""
    used: list[str] = []

    def fake(name: str) -> object:
        return lambda graph, vectors, **kwargs: used.append(name) or vectors[:, :2]

    monkeypatch.setattr(mapping, "umap_embedding", fake("umap"))
    monkeypatch.setattr(mapping, "node_embedding", fake("evoc"))
    vectors, _ = _blobs(n, 4)
    topics = TopicClusterer(min_cluster_size=10)
    topics.embedding_ = vectors[:, :5]  # the topics' layout, as fit would leave it
    _map(knn_graph(vectors, 16), vectors, topics, ClusterParams())
    assert used == [engine]


def test_a_tiny_corpus_is_mapped_by_its_principal_axes() -> None:
    vectors, _ = _blobs(12, 2)
    xy = mapping.map_2d(knn_graph(vectors, 16), vectors)
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(xy), np.abs(centred @ axes[:2].T), atol=1e-5)
