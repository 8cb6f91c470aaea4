"""The three index kinds `indexer.index.choose_index` picks from, measured in one run.

On synthetic clustered unit vectors (the planted design of `bench/cluster_scale.py`: Zipf-sized
topics of n/500 around super-topic centres, 3% uniform noise, generated here in one vectorised
draw instead of per text), at each size and dimension: the exact index (`IDMap2,Flat`),
IVF-Flat and the compressed IVF-SQ8 the choice takes past the memory budget, each built with
`indexer.index.build_index` and tuned as the product tunes it. Reported: build (train + add)
seconds, bytes per vector (serialised size / ntotal, and the RSS growth of the build),
search p50 / p95 of single queries, seconds per batch of 1,000 queries, recall@10 against the
exact index over 1,000 fresh queries from the same topics, and ratios to the exact index of
the same run.

    nice -n 10 .venv/bin/python bench/index_choice.py [--sizes 100000,1000000] [--dims 384,256]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster_scale import Design  # noqa: E402
from indexer.index import (  # noqa: E402
    EXACT_FACTORY,
    build_index,
    choose_index,
    compressed_factory,
    ivf_lists,
    search,
)

OUT = ROOT / "bench" / "out" / "index_choice"
SEED = 13
K = 10
Vectors = npt.NDArray[np.float32]


def clustered(n: int, dimension: int, queries: int) -> tuple[Vectors, Vectors]:
    """`n` corpus vectors and `queries` fresh ones from the same topics, all unit length."""
    design = Design.for_size(n)
    rng = np.random.default_rng([SEED, dimension, n])
    supers = rng.standard_normal((design.supers, dimension))
    own = rng.standard_normal((design.topics, dimension))
    supers /= np.linalg.norm(supers, axis=1, keepdims=True)
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    centres = 0.8 * supers[np.arange(design.topics) % design.supers] + 0.6 * own
    centres = (centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32)
    topic = np.repeat(np.arange(design.topics), design.sizes())
    scale = np.float32(design.sigma / math.sqrt(dimension))

    def around(topics: npt.NDArray[np.int64]) -> Vectors:
        points: Vectors = centres[topics]
        points += scale * rng.standard_normal(points.shape, dtype=np.float32)
        return points

    corpus = np.vstack([around(topic), rng.standard_normal((design.noise, dimension), np.float32)])
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    corpus = corpus[rng.permutation(len(corpus))]
    asked = around(rng.choice(topic, queries))
    asked /= np.linalg.norm(asked, axis=1, keepdims=True)
    return np.ascontiguousarray(corpus), np.ascontiguousarray(asked)


def release_freed_memory() -> None:
    """Hand freed heap back to the OS, so that one kind's RSS growth is not another's reuse."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def serialised_bytes(index: Any) -> int:
    import faiss

    with tempfile.NamedTemporaryFile(dir=OUT, suffix=".faiss") as handle:
        faiss.write_index(index, handle.name)
        return os.path.getsize(handle.name)


def recall_at_k(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    rows: list[list[int]] = found.tolist()
    exact: list[list[int]] = truth.tolist()
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(rows, exact, strict=True)]))


def set_k_factor(index: Any, k_factor: float) -> None:
    """Candidates re-ranked per neighbour, for `--extra` kinds with `Refine(...)`."""
    import faiss

    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexRefine):
        inner.k_factor = k_factor


def measure(
    factory: str, corpus: Vectors, queries: Vectors, truth: npt.NDArray[np.int64] | None, args: Any
) -> tuple[dict[str, Any], npt.NDArray[np.int64]]:
    ids = np.arange(len(corpus), dtype=np.int64)
    gc.collect()
    release_freed_memory()
    before = rss_bytes()
    started = time.perf_counter()
    index = build_index(corpus, ids, factory)
    build_s = time.perf_counter() - started
    set_k_factor(index, args.k_factor)
    rss = rss_bytes() - before
    singles = []
    timed = args.exact_single_queries if factory == EXACT_FACTORY else args.single_queries
    for row in queries[:timed]:
        tic = time.perf_counter()
        search(index, row[None, :], K)
        singles.append(time.perf_counter() - tic)
    batches, found = [], np.empty(0, dtype=np.int64)
    for _ in range(args.batch_repeats):
        tic = time.perf_counter()
        _, found = search(index, queries, K)
        batches.append(time.perf_counter() - tic)
    recall = recall_at_k(found, found if truth is None else truth)
    row = {
        "factory": factory, "n": len(corpus), "dimension": corpus.shape[1],
        "build_s": build_s, "bytes_per_vector": serialised_bytes(index) / index.ntotal,
        "rss_per_vector": rss / index.ntotal, "single_p50_ms": 1e3 * float(np.median(singles)),
        "single_p95_ms": 1e3 * float(np.percentile(singles, 95)),
        "batch_s": float(np.median(batches)), "recall": recall,
    }  # fmt: skip
    print(json.dumps(row), flush=True)
    del index
    return row, found


def run_size(n: int, dimension: int, args: Any) -> list[dict[str, Any]]:
    corpus, queries = clustered(n, dimension, args.queries)
    factories = [EXACT_FACTORY, f"IVF{ivf_lists(n)},Flat", compressed_factory(n)]
    factories += [f.replace("NLIST", str(ivf_lists(n))) for f in args.extra]  # e.g. IVFNLIST,PQ96x8
    rows, truth = [], None
    for factory in factories:
        row, found = measure(factory, corpus, queries, truth, args)
        truth = found if truth is None else truth
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| d | n | kind | build s | bytes/vector (file) | RSS bytes/vector | single p50 / p95 ms "
        "| batch of 1,000 s | recall@10 | vs exact: bytes, single p50, batch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    exact: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        key = (r["dimension"], r["n"])
        base = exact.setdefault(key, r)
        ratios = (
            f"{r['bytes_per_vector'] / base['bytes_per_vector']:.2f}x, "
            f"{r['single_p50_ms'] / base['single_p50_ms']:.3f}x, "
            f"{r['batch_s'] / base['batch_s']:.3f}x"
        )
        lines.append(
            f"| {r['dimension']} | {r['n']:,} | `{r['factory']}` | {r['build_s']:.1f} "
            f"| {r['bytes_per_vector']:.0f} | {r['rss_per_vector']:.0f} "
            f"| {r['single_p50_ms']:.2f} / {r['single_p95_ms']:.2f} | {r['batch_s']:.3f} "
            f"| {r['recall']:.4f} | {ratios} |"
        )
    return "\n".join(lines)


def choices(sizes: list[int], dims: list[int]) -> str:
    from db.settings import Settings

    settings = Settings()
    lines = []
    for gb in (settings.index_memory_gb, 1.0):
        for d in dims:
            for n in sizes:
                choice = choose_index(
                    n, exact_max=settings.exact_index_max, dimension=d, memory_bytes=int(gb * 2**30)
                )
                lines.append(f"- {n:,} x {d}-d, {gb} GiB: `{choice.factory}` ({choice.reason})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dims", default="384,256")
    parser.add_argument("--queries", type=int, default=1000, help="for recall and the batch")
    parser.add_argument("--single-queries", type=int, default=200, help="timed one at a time")
    parser.add_argument(
        "--exact-single-queries", type=int, default=50, help="the exact index is slow at 1M"
    )
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument("--k-factor", type=float, default=8.0, help="for Refine(...) extras")
    parser.add_argument(
        "--table", nargs="+", type=Path, help="only print the table of earlier results files"
    )
    parser.add_argument(
        "--extra", action="append", default=[], help="more factories (NLIST: the IVF list count)"
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    rows: list[dict[str, Any]] = []
    if args.table:
        rows = [row for path in args.table for row in json.loads(path.read_text())]
        print(table(rows))
        return
    for d in dims:
        for n in sizes:
            rows += run_size(n, d, args)
            (OUT / f"results-{args.sizes}-{args.dims}.json").write_text(json.dumps(rows, indent=1))
    command = "nice -n 10 .venv/bin/python bench/index_choice.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"\n```bash\n{command}\n```\n\n{table(rows)}\n\nChosen:\n{choices(sizes, dims)}")


if __name__ == "__main__":
    main()
