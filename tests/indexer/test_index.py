"""FAISS fast paths checked against brute-force search."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.corpus_index import needs_rebuild
from indexer.index import (
    EXACT_FACTORY,
    build_index,
    choose_factory,
    index_kind,
    search,
)


def clustered_unit_vectors(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Points around random centres on the sphere, as sentence embeddings are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    points = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def brute_force(corpus: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ corpus.T), axis=1)[:, :k]


def test_factory_is_exact_for_small_corpora_and_ivf_above() -> None:
    assert choose_factory(1_000, exact_max=100_000) == EXACT_FACTORY
    assert choose_factory(1_000_000, exact_max=100_000) == "IVF4000,Flat"
    assert choose_factory(200, exact_max=100) == "IVF64,Flat"  # at least 64 lists


def test_exact_index_equals_brute_force() -> None:
    corpus = clustered_unit_vectors(2_000, 32, 20)
    queries = clustered_unit_vectors(50, 32, 20, seed=1)
    ids = np.arange(100, 2_100, dtype=np.int64)  # question ids, not row numbers
    index = build_index(corpus, ids, EXACT_FACTORY)
    scores, found = search(index, queries, 10)
    np.testing.assert_array_equal(found, ids[brute_force(corpus, queries, 10)])
    np.testing.assert_allclose(scores[:, 0], np.max(queries @ corpus.T, axis=1), rtol=1e-5)


def test_ivf_recall_at_10_against_exact_search() -> None:
    n, dim = 60_000, 64
    corpus = clustered_unit_vectors(n, dim, 300)
    queries = clustered_unit_vectors(500, dim, 300, seed=2)
    factory = choose_factory(n, exact_max=10_000)
    index = build_index(corpus, np.arange(n, dtype=np.int64), factory)
    _, approx = search(index, queries, 10)
    exact = brute_force(corpus, queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    print(f"{factory}: recall@10 = {recall:.4f} on {n:,} clustered vectors")
    assert index_kind(index) == factory
    assert recall >= 0.95


@pytest.mark.parametrize(
    ("current", "wanted", "rebuild"),
    [
        (EXACT_FACTORY, EXACT_FACTORY, False),
        (EXACT_FACTORY, "IVF400,Flat", True),
        ("IVF400,Flat", "IVF560,Flat", False),
        ("IVF400,Flat", "IVF800,Flat", True),
        ("IVF400,Flat", "IVF400,SQ8", True),  # past the memory budget
        ("IVF400,SQ8", "IVF560,SQ8", False),
        ("IVF400,SQ8", EXACT_FACTORY, True),
    ],
)
def test_needs_rebuild(current: str, wanted: str, rebuild: bool) -> None:
    assert needs_rebuild(current, wanted) is rebuild
