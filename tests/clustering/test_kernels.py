"""The first clustering run on a machine says it is compiling, rather than sit on "topics"."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path
from typing import Any

import pytest

from clustering import kernels


def _fake_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: dict[str, bool]
) -> None:
    """Installed packages named as `compiled`'s keys, each with or without numba's cache."""
    specs = {}
    for name, has_cache in compiled.items():
        package = tmp_path / name
        (package / "__pycache__").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        if has_cache:
            (package / "__pycache__" / "core.boruvka-10.py311.nbi").write_bytes(b"index")
        specs[name] = importlib.machinery.ModuleSpec(
            name, None, origin=str(package / "__init__.py")
        )
    monkeypatch.setattr("importlib.util.find_spec", lambda name: specs.get(name))


def _fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, compiled: bool) -> None:
    _fake_engines(tmp_path, monkeypatch, {"fast_hdbscan": compiled})


def test_a_cold_installation_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_engine(tmp_path, monkeypatch, compiled=False)
    assert kernels.kernels_on_disk() is False


def test_compiled_kernels_are_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_engine(tmp_path, monkeypatch, compiled=True)
    assert kernels.kernels_on_disk() is True


def test_a_run_that_does_not_use_an_engine_does_not_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small corpus is laid out by UMAP: EVoC's kernels never compile, and the run must not
    say they are compiling every time."""
    _fake_engines(tmp_path, monkeypatch, {"fast_hdbscan": True, "evoc": False})
    assert kernels.kernels_on_disk(("fast_hdbscan",)) is True
    assert kernels.kernels_on_disk(("fast_hdbscan", "evoc")) is False


def _total(values: Any) -> float:
    result = 0.0
    for value in values:
        result += value
    return result


def test_own_kernels_are_cached_on_disk_or_compiled_in_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where numba can write no cache, qclust's kernels still compile (`cache=True` refuses)."""
    import numba.core.dispatcher
    import numpy as np

    cached = kernels.compiled(_total)
    assert cached._cache.__class__.__name__ == "FunctionCache"

    def nowhere_to_write(self: object) -> None:
        raise RuntimeError("cannot cache function: no locator available")

    monkeypatch.setattr(numba.core.dispatcher.Dispatcher, "enable_caching", nowhere_to_write)
    uncached = kernels.compiled(_total)
    assert uncached._cache.__class__.__name__ == "NullCache"
    assert uncached(np.arange(4.0)) == cached(np.arange(4.0)) == 6.0
