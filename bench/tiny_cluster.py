"""Clustering a corpus too small to lay out, in a fresh process: qclust's HDBSCAN against
fast_hdbscan's own path for wide points, in one run.

Below `clustering.topics.SMALL_CORPUS` questions HDBSCAN runs on the model's vectors
themselves (384 dimensions for the default model). fast_hdbscan hands points of more than 30
dimensions to pynndescent, whose numba kernels are not cached on disk; qclust gives it the
exact distance graph instead (`HdbscanTrees`). Each side runs in its own child process, twice:
the first fills numba's disk cache, the second is what every later `qclust cluster` or
`qclust eval clusters` of a small corpus pays, and is reported. Time is from the points
(libraries imported) to the labels; the ratio is the baseline's over qclust's.

    .venv/bin/python bench/tiny_cluster.py [--rows 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(side: str, rows: int) -> dict[str, float]:
    import numpy as np
    from fast_hdbscan.hdbscan import clusters_from_spanning_tree, compute_minimum_spanning_tree

    from clustering.topics import HdbscanTrees

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 384))
    points = centres[rng.integers(0, 4, rows)] + 0.3 * rng.normal(size=(rows, 384))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    started = time.perf_counter()
    if side == "baseline":  # fast_hdbscan's own choice for wide points: pynndescent
        tree = compute_minimum_spanning_tree(points, min_samples=3)[0]
        labels = clusters_from_spanning_tree(tree, min_cluster_size=3)[0]
    else:
        labels, _ = HdbscanTrees(points.astype(np.float32), "eom").clusters(3, 3)
    return {"seconds": time.perf_counter() - started, "clusters": float(labels.max() + 1)}


def run_child(side: str, rows: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", side, "--rows", str(rows)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", choices=("qclust", "baseline"))
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(child(args.child, args.rows)))
        return
    seconds: dict[str, list[float]] = {}
    for side in ("baseline", "qclust"):
        run_child(side, args.rows)  # fills numba's disk cache; not reported
        runs = [run_child(side, args.rows) for _ in range(args.repeats)]
        seconds[side] = [run["seconds"] for run in runs]
        clusters = {run["clusters"] for run in runs}
        print(f"{side:8s} {min(seconds[side]):6.2f} s (runs {seconds[side]}), clusters {clusters}")
    ratio = min(seconds["baseline"]) / min(seconds["qclust"])
    print(f"qclust {ratio:.1f}x faster than fast_hdbscan's own path, {args.rows} rows")


if __name__ == "__main__":
    main()
