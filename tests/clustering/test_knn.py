from __future__ import annotations

import numpy as np

from clustering.knn import knn_graph
from indexer.index import EXACT_FACTORY, build_index
from tests.indexer.test_index import brute_force, clustered_unit_vectors


def test_graph_matches_brute_force_with_self_first() -> None:
    vectors = clustered_unit_vectors(500, 16, 8)
    graph = knn_graph(vectors, 10)
    np.testing.assert_array_equal(graph.indices, brute_force(vectors, vectors, 10))
    np.testing.assert_array_equal(graph.indices[:, 0], np.arange(500))
    assert np.all(np.diff(graph.similarities[:, 1:], axis=1) <= 1e-6)
    np.testing.assert_allclose(graph.distances[:, 0], 0.0)


def test_identical_vectors_still_put_each_point_first() -> None:
    vectors = np.tile(clustered_unit_vectors(1, 8, 1), (20, 1))
    graph = knn_graph(vectors, 5)
    np.testing.assert_array_equal(graph.indices[:, 0], np.arange(20))
    assert len(set(graph.indices[3].tolist())) == 5


def test_the_corpus_index_keyed_by_question_ids_gives_the_same_graph() -> None:
    vectors = clustered_unit_vectors(300, 16, 5)
    ids = np.arange(1000, 1300, dtype=np.int64) * 3  # sparse, ascending question ids
    index = build_index(vectors, ids, EXACT_FACTORY)
    from_index = knn_graph(vectors, 8, index=index, ids=ids)
    fresh = knn_graph(vectors, 8)
    np.testing.assert_array_equal(from_index.indices, fresh.indices)


def test_k_is_capped_at_the_number_of_points() -> None:
    assert knn_graph(clustered_unit_vectors(4, 8, 2), 16).k == 4


def test_over_an_ivf_index_the_graph_visits_fewer_lists_and_gives_them_back() -> None:
    import faiss

    from clustering.knn import GRAPH_NPROBE

    vectors = clustered_unit_vectors(6_000, 32, 40)
    index = build_index(vectors, np.arange(6_000, dtype=np.int64), "IVF256,Flat")
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = 64
    seen: list[int] = []
    real_search = index.search
    index.search = lambda q, k: seen.append(ivf.nprobe) or real_search(q, k)
    graph = knn_graph(vectors, 10, index=index, ids=np.arange(6_000, dtype=np.int64))
    assert set(seen) == {GRAPH_NPROBE}
    assert ivf.nprobe == 64
    exact = brute_force(vectors, vectors, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(graph.indices, exact, strict=True)])
    assert recall >= 0.95  # 1.00 measured
