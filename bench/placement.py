"""Placement of new questions between runs: how many are placed, and how many correctly.

For each labelled set, 80% of the questions (a seeded split) are clustered as `qclust cluster`
does (kNN graph, UMAP + HDBSCAN topics); the other 20% are then placed by the neighbour vote
of `clustering.placement`, as if ingested after the run. A placement is correct when the
cluster's majority label (over its fitted members) is the question's own label. The baseline,
measured in the same run on the same neighbours, is the earlier rule that counted outlier
neighbours in the vote's denominator. For reference: the share of held-out questions a full
re-fit would put in a cluster is about the fitted share clustered (the last column).

    .venv/bin/python bench/placement.py [--datasets clinc,banking,so] [--seed 0]

Vectors are encoded once with the default model and cached under bench/out/.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clustering.knn import knn_graph
from clustering.placement import UNASSIGNED, Placement, place_by_vote
from clustering.topics import TopicClusterer
from indexer.encoder import Encoder, EncoderSpec, packaged_default_model
from indexer.index import build_index, choose_factory, search

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
DATASETS = {
    "clinc": SHARED / "clinc150" / "clinc150_val.tsv",
    "banking": SHARED / "banking77" / "banking77_train.tsv",
    "so": SHARED / "stackoverflow_titles" / "stackoverflow_titles.tsv",
}
NEIGHBOURS = 16
MIN_SIMILARITY = 0.5
Rule = Callable[[npt.NDArray[np.int64], npt.NDArray[np.float32]], list[int]]


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def cached_vectors(name: str, texts: list[str]) -> npt.NDArray[np.float32]:
    path = OUT / f"placement-{name}.npy"
    if path.exists():
        cached = np.load(path)
        if len(cached) == len(texts):
            return np.asarray(cached, dtype=np.float32)
    encoder = Encoder(EncoderSpec(model=str(packaged_default_model())), device="cpu")
    vectors = encoder.encode(texts, show_progress=True)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def outliers_in_denominator(keys: npt.NDArray[np.int64], sims: npt.NDArray[np.float32]) -> int:
    """The rule before: the winner's share of every close neighbour's vote, outliers included."""
    close = sims >= MIN_SIMILARITY
    voting = close & (keys >= 0)
    if not voting.any():
        return UNASSIGNED
    candidates = np.unique(keys[voting])
    votes = np.array([sims[voting & (keys == key)].sum() for key in candidates])
    best = int(np.argmax(votes))
    return int(candidates[best]) if votes[best] / sims[close].sum() >= 0.5 else UNASSIGNED


def current_rule(min_votes: int) -> Rule:
    def place(keys: npt.NDArray[np.int64], sims: npt.NDArray[np.float32]) -> list[int]:
        xy = np.zeros((*keys.shape, 2), dtype=np.float32)
        found: list[Placement] = place_by_vote(
            keys, sims, xy, min_similarity=MIN_SIMILARITY, min_votes=min_votes
        )
        return [p.cluster_key for p in found]

    return place


def evaluate(name: str, seed: int) -> list[tuple[str, float, float]]:
    texts, labels = read_labelled(DATASETS[name])
    vectors = cached_vectors(name, texts)
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(len(texts) * 0.8)
    fitted, held = np.sort(order[:cut]), np.sort(order[cut:])
    graph = knn_graph(vectors[fitted], NEIGHBOURS)
    topics = TopicClusterer(random_state=seed).fit(graph, vectors[fitted])
    fitted_labels = np.asarray(topics.labels_, dtype=np.int64)
    majority = {
        int(key): Counter(
            labels[fitted[row]] for row in np.flatnonzero(fitted_labels == key)
        ).most_common(1)[0][0]
        for key in np.unique(fitted_labels[fitted_labels >= 0])
    }
    index = build_index(
        vectors[fitted],
        np.arange(len(fitted), dtype=np.int64),
        choose_factory(len(fitted), exact_max=100_000),
    )
    sims, rows = search(index, vectors[held], NEIGHBOURS)
    keys = np.where(rows >= 0, fitted_labels[np.maximum(rows, 0)], UNASSIGNED)
    rules: dict[str, Rule] = {
        "before: outliers in the denominator": lambda k, s: [
            outliers_in_denominator(kr, sr) for kr, sr in zip(k, s, strict=True)
        ],
        "clustered neighbours only, 1 vote": current_rule(1),
        "clustered neighbours only, 2 votes (default)": current_rule(2),
        "clustered neighbours only, 3 votes": current_rule(3),
    }
    results = []
    for rule_name, rule in rules.items():
        placed = np.array(rule(keys, sims.astype(np.float32)), dtype=np.int64)
        is_placed = placed >= 0
        correct = sum(
            majority[int(key)] == labels[held[row]] for row, key in enumerate(placed) if key >= 0
        )
        placed_share = float(is_placed.mean())
        accuracy = correct / max(int(is_placed.sum()), 1)
        results.append((rule_name, placed_share, accuracy))
    clustered_share = float((fitted_labels >= 0).mean())
    purity = np.mean(
        [
            majority[int(key)] == labels[fitted[row]]
            for row, key in enumerate(fitted_labels)
            if key >= 0
        ]
    )
    print(
        f"\n{name}: {len(texts)} questions, {len(held)} held out, {len(majority)} clusters; "
        f"of the fitted questions {clustered_share:.3f} clustered, "
        f"{purity:.3f} of those in a cluster of their own label's majority"
    )
    print("| rule | placed | of those, correctly | correct of all held out |")
    print("|---|---|---|---|")
    for rule_name, placed_share, accuracy in results:
        print(
            f"| {rule_name} | {placed_share:.3f} | {accuracy:.3f} | {placed_share * accuracy:.3f} |"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="clinc,banking,so")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.datasets.split(","):
        evaluate(name.strip(), args.seed)


if __name__ == "__main__":
    main()
