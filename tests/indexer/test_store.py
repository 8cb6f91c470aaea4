from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import VectorStoreError
from indexer.store import VectorStore


def _rows(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_append_and_read_back(tmp_path: Path) -> None:
    store = VectorStore.open_or_create(tmp_path / "s", 8, "float32")
    first, second = _rows(3), _rows(2, seed=1)
    store.append(np.array([1, 2, 3]), first)
    store.append(np.array([7, 9]), second)
    reopened = VectorStore.open(tmp_path / "s")
    assert len(reopened) == 5
    assert reopened.max_id() == 9
    np.testing.assert_array_equal(reopened.ids(), [1, 2, 3, 7, 9])
    np.testing.assert_array_equal(reopened.vectors(), np.vstack([first, second]))
    np.testing.assert_array_equal(reopened.vectors(3, 5), second)


def test_float16_store_halves_the_file_and_keeps_precision(tmp_path: Path) -> None:
    store = VectorStore.open_or_create(tmp_path / "s", 8, "float16")
    data = _rows(4)
    store.append(np.arange(4), data)
    assert (tmp_path / "s" / "vectors.bin").stat().st_size == 4 * 8 * 2
    np.testing.assert_allclose(store.vectors(), data, atol=1e-2)
    assert store.vectors().dtype == np.float32


def test_a_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    """As after `kill -9` mid-append: vectors written, ids not (or half) written."""
    store = VectorStore.open_or_create(tmp_path / "s", 8, "float32")
    store.append(np.array([1, 2]), _rows(2))
    with (tmp_path / "s" / "vectors.bin").open("ab") as handle:
        handle.write(_rows(1).tobytes()[:20])  # a partial vector row
    with (tmp_path / "s" / "ids.bin").open("ab") as handle:
        handle.write(b"\x03\x00\x00")  # a partial id
    reopened = VectorStore.open(tmp_path / "s")
    assert len(reopened) == 2
    np.testing.assert_array_equal(reopened.ids(), [1, 2])
    reopened.append(np.array([3]), _rows(1, seed=5))
    np.testing.assert_array_equal(VectorStore.open(tmp_path / "s").ids(), [1, 2, 3])


def test_dimension_mismatch_and_missing_store(tmp_path: Path) -> None:
    VectorStore.open_or_create(tmp_path / "s", 8, "float32")
    with pytest.raises(VectorStoreError, match="holds 8-d vectors"):
        VectorStore.open_or_create(tmp_path / "s", 16, "float32")
    with pytest.raises(VectorStoreError, match="no readable vector store"):
        VectorStore.open(tmp_path / "nothing")
    store = VectorStore.open(tmp_path / "s")
    with pytest.raises(VectorStoreError, match="cannot append"):
        store.append(np.array([1, 2]), _rows(3))
