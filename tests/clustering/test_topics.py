"""Topic clustering, including the edge cases hdbscan's own tests cover."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import v_measure_score

from clustering.errors import ParameterError
from clustering.knn import knn_graph
from clustering.topics import (
    HdbscanTrees,
    Selection,
    TopicClusterer,
    default_min_cluster_size,
)
from tests.indexer.test_index import clustered_unit_vectors


def _blobs(n: int, clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, 32))
    truth = rng.integers(0, clusters, n)
    points = centres[truth] + 0.15 * rng.normal(size=(n, 32))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), truth


def test_separated_topics_are_recovered_through_umap() -> None:
    vectors, truth = _blobs(600, 6)
    model = TopicClusterer(random_state=0, embedding="umap")
    model.fit(knn_graph(vectors, 16), vectors)
    assert model.embedding_.shape == (600, 5)
    clustered = model.labels_ >= 0
    assert clustered.mean() > 0.8
    assert v_measure_score(truth[clustered], model.labels_[clustered]) > 0.95
    assert ((model.probabilities_ >= 0) & (model.probabilities_ <= 1)).all()


@pytest.mark.parametrize("selection", ["eom", "leaf"])
def test_shared_spanning_trees_give_the_labels_of_one_tree_per_size(selection: Selection) -> None:
    """Sizes that share a tree get what a tree of their own gives, and what fast_hdbscan's
    HDBSCAN finds, but for points whose place hangs on equal distances (16 of 500 at size 5
    by leaf selection): its parallel tree settles those afresh on every run."""
    from fast_hdbscan import HDBSCAN
    from sklearn.metrics import adjusted_rand_score

    points = _blobs(500, 7, seed=1)[0][:, :5].astype(np.float64)
    trees = HdbscanTrees(points, selection)
    for size, samples in ((5, 5), (10, 5), (25, 5), (10, 10), (40, 10)):
        labels, strengths = trees.clusters(size, samples)
        alone, alone_strengths = HdbscanTrees(points, selection).clusters(size, samples)
        np.testing.assert_array_equal(labels, alone)
        np.testing.assert_array_equal(strengths, alone_strengths)
        model = HDBSCAN(
            min_cluster_size=size, min_samples=samples, cluster_selection_method=selection
        ).fit(points)
        assert adjusted_rand_score(labels, model.labels_) > 0.98
    assert sorted(trees._trees) == [5, 10]  # one tree per min_samples


@pytest.mark.parametrize("selection", ["eom", "leaf"])
def test_wide_points_get_the_labels_of_the_same_distances_in_few_dimensions(
    selection: Selection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """384-dimensional questions (a corpus too small to lay out) skip pynndescent, whose
    kernels compile in every process: the exact distance graph gives the labels that the same
    distances give through fast_hdbscan's KD-tree, an isometric copy in 27 dimensions."""
    import fast_hdbscan.nndescent

    def no_pynndescent(*args: object, **kwargs: object) -> None:
        raise AssertionError("pynndescent was used")

    monkeypatch.setattr(fast_hdbscan.nndescent, "compute_mst_from_knn_graph", no_pynndescent)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 384))
    wide = centres[rng.integers(0, 3, 28)] + 0.3 * rng.normal(size=(28, 384))
    wide[-3:] = wide[0]  # exact duplicates: zero distances kept in the graph
    centred = wide - wide.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    narrow = centred @ axes[:27].T  # 28 points span 27 dimensions: every distance is kept
    wide_trees, narrow_trees = HdbscanTrees(wide, selection), HdbscanTrees(narrow, selection)
    for size, samples in ((3, 3), (5, 3), (5, 5)):
        labels, strengths = wide_trees.clusters(size, samples)
        expected, expected_strengths = narrow_trees.clusters(size, samples)
        np.testing.assert_array_equal(labels, expected)
        np.testing.assert_allclose(strengths, expected_strengths, rtol=1e-5)
        assert labels.max() >= 1  # the blobs are found, not one catch-all


def test_auto_lays_out_small_corpora_with_umap_and_larger_ones_with_evoc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import clustering.topics as topics

    used: list[str] = []
    monkeypatch.setattr(
        topics, "umap_embedding", lambda *a, **k: used.append("umap") or a[1][:, :5]
    )
    monkeypatch.setattr(
        topics, "node_embedding", lambda *a, **k: used.append("evoc") or a[1][:, :5]
    )
    for n in (topics.UMAP_BELOW - 1, topics.UMAP_BELOW):
        vectors, _ = _blobs(n, 4)
        TopicClusterer(min_cluster_size=10).fit(knn_graph(vectors, 16), vectors)
    assert used == ["umap", "evoc"]


def test_small_corpora_skip_umap() -> None:
    vectors, truth = _blobs(12, 2)
    model = TopicClusterer().fit(knn_graph(vectors, 16), vectors)
    assert model.labels_.shape == (12,)
    assert model.embedding_ is vectors


def test_identical_points_are_one_cluster() -> None:
    vectors = np.tile(clustered_unit_vectors(1, 16, 1), (40, 1))
    model = TopicClusterer().fit(knn_graph(vectors, 16), vectors)
    assert (model.labels_ == 0).all()


@pytest.mark.parametrize("n", [3, 5])
def test_a_handful_of_points_does_not_crash(n: int) -> None:
    vectors = clustered_unit_vectors(n, 16, 2)
    model = TopicClusterer().fit(knn_graph(vectors, 16), vectors)
    assert model.labels_.shape == (n,)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_neighbors": 1}, "n_neighbors"),
        ({"n_components": 1}, "n_components"),
        ({"min_dist": 2.0}, "min_dist"),
        ({"min_cluster_size": 1}, "min_cluster_size"),
        ({"min_samples": 0}, "min_samples"),
        ({"selection": "best"}, "selection must be one of eom, leaf"),
        ({"embedding": "tsne"}, "embedding must be one of auto, evoc, umap"),
    ],
)
def test_parameters_out_of_range(params: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        TopicClusterer(**params).validate()  # type: ignore[arg-type]


def test_default_min_cluster_size_grows_with_the_corpus() -> None:
    assert default_min_cluster_size(1_000) == 10
    assert default_min_cluster_size(9_999) == 10
    assert default_min_cluster_size(20_000) == 15
    assert default_min_cluster_size(1_000_000) == 500
