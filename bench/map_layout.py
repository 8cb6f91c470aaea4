"""The 2-D map's layout: EVoC's node embedding from the topics' layout against UMAP's warm
start from it (the map before session 9), in one run, on the same graph and topic layout.

For each data set (the stored vectors of bench/cluster.py, ingested there): the kNN graph and
the topic stage's layout as `qclust cluster` builds them, then each side timed `--repeats`
times after one untimed call (kernels loaded), median reported, with the share of each
question's 15 nearest neighbours in the graph that are among its 15 nearest on the map (the
same on every repeat: both sides are seeded). The ratio is UMAP's seconds over EVoC's.

    .venv/bin/python bench/map_layout.py [--datasets so,clinc,banking] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
K = 15


def timed(layout: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    xy, seconds = layout(), []  # untimed: the kernels load
    for _ in range(repeats):
        started = time.perf_counter()
        xy = layout()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), xy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default="so,clinc,banking")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import cluster as bench

    from clustering.knn import knn_graph
    from clustering.mapping import map_2d, neighbours_kept
    from clustering.params import ClusterParams
    from clustering.pipeline import load_corpus_vectors

    print("| data | n | layout | seconds | neighbours kept |\n|---|---|---|---|---|")
    for name in args.datasets.split(","):
        bench.ensure_dataset(name)
        settings, sessions = bench._settings_and_sessions(name)
        data = load_corpus_vectors(sessions, settings, name)
        params = ClusterParams()
        graph = knn_graph(data.vectors, params.knn_k, index=data.index, ids=data.ids)
        start = params.topic_clusterer().fit(graph, data.vectors).embedding_
        same = {"start": start, "random_state": 0}
        sides = {
            "UMAP, 100 epochs from the topics' layout (before)": partial(
                map_2d, graph, data.vectors, **same
            ),
            "EVoC, 200 epochs from the topics' layout (now)": partial(
                map_2d, graph, data.vectors, evoc=True, **same
            ),
        }
        results = {label: timed(layout, args.repeats) for label, layout in sides.items()}
        for label, (seconds, xy) in results.items():
            kept = neighbours_kept(xy, graph, K)
            print(f"| {name} | {len(data.ids):,} | {label} | {seconds:.2f} | {kept:.3f} |")
        before, now = (seconds for seconds, _ in results.values())
        print(f"| {name} | | speed-up of the map | {before / now:.2f}x | |", flush=True)


if __name__ == "__main__":
    main()
