"""Keep numba kernels (umap-learn's and qclust's own) compiled on disk.

umap-learn compiles over a hundred numba functions without `cache=True`, so every new process
spends about 6 seconds (on 2 cores) compiling them again before the first UMAP. Turning on
numba's own on-disk cache for them makes that a one-time cost per installation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)


@cache
def cache_umap_kernels() -> int:
    """Enable numba's disk cache on umap-learn's compiled functions; returns how many."""
    import umap.distances
    import umap.layouts
    import umap.sparse
    import umap.spectral
    import umap.umap_
    import umap.utils
    from numba.core.registry import CPUDispatcher

    enabled = 0
    for module in (
        umap.umap_,
        umap.layouts,
        umap.utils,
        umap.spectral,
        umap.sparse,
        umap.distances,
    ):
        for function in vars(module).values():
            if isinstance(function, CPUDispatcher):
                try:
                    function.enable_caching()
                except Exception as exc:  # a read-only install: compile as usual
                    logger.debug("numba cache unavailable for %s: %s", function, exc)
                    continue
                enabled += 1
    return enabled


def compiled(function: Callable[..., Any]) -> Any:
    """`function` compiled by numba, kept on disk where the install allows (as `cache=True`
    would, which refuses to compile at all where no cache folder can be written)."""
    import numba

    dispatcher = numba.njit(function)
    try:
        dispatcher.enable_caching()
    except Exception as exc:  # a read-only install and HOME: compile in each process
        logger.debug("numba cache unavailable for %s: %s", function.__name__, exc)
    return dispatcher


def kernels_on_disk(engines: tuple[str, ...] = ("fast_hdbscan", "evoc")) -> bool:
    """Whether numba has compiled the clustering kernels in this installation before.

    The first run compiles them (fast_hdbscan's in about a minute, EVoC's 2.5 more on 2 cores) and
    keeps them next to the packages; the progress display says so, rather than sit silently
    on "topics". `engines`: the packages this run will use (a corpus laid out by UMAP never
    compiles EVoC's, and must not be told it is compiling them on every run).
    """
    from importlib.util import find_spec
    from pathlib import Path

    for engine in engines:
        spec = find_spec(engine)
        if spec is None or spec.origin is None:
            continue  # nothing to say about an engine that is not there
        if not any((Path(spec.origin).parent / "__pycache__").glob("*.nbi")):
            return False
    return True
