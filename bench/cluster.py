"""Clustering quality and speed: `qclust cluster` against BERTopic's default pipeline.

For each data set (20,000 StackOverflow titles, CLINC150 validation, Banking77 training), on
the same stored vectors of the default model: wall time and peak memory of `qclust cluster`
(kNN graph, near-duplicates, UMAP + HDBSCAN topics, names, 2-D map, database write) and of the
baseline (umap-learn UMAP with 15 neighbours, 5 components, cosine, min_dist 0, then hdbscan
with min_cluster_size 10), each in a fresh child process with libraries imported before the
clock; V-measure, adjusted Rand index (outliers count as one more label on both sides), number
of clusters and noise share. Then the near-duplicate groups: pairwise precision and recall of
"same group" on the demo corpus's paraphrase groups and on the Quora duplicate pairs.

    .venv/bin/python bench/cluster.py [--repeats R] [--datasets so,clinc,banking]

Vectors are cached under bench/out/ (ingested once with `qclust ingest`).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
DATASETS = {
    "so": SHARED / "stackoverflow_titles" / "stackoverflow_titles.tsv",
    "clinc": SHARED / "clinc150" / "clinc150_val.tsv",
    "banking": SHARED / "banking77" / "banking77_train.tsv",
}


def _env(name: str) -> dict[str, str]:
    return {
        **os.environ,
        "QCLUST_DATA_DIR": str(OUT / name),
        "HF_HUB_OFFLINE": "1",
        "QCLUST_DEVICE": "cpu",
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_ingested(
    name: str, path: Path, text_column: str = "text", id_column: str | None = None
) -> None:
    if (OUT / name / "qclust.db").exists():
        return
    command = [
        sys.executable,
        "-m",
        "app.cli",
        "ingest",
        str(path),
        "-c",
        name,
        "--text-column",
        text_column,
        "-q",
    ]
    if id_column:
        command += ["--id-column", id_column]
    subprocess.run(command, env=_env(name), check=True, cwd=ROOT)


def _settings_and_sessions(name: str) -> tuple[Any, Any]:
    from db.session import open_database
    from db.settings import Settings

    settings = Settings(data_dir=OUT / name, device="cpu")
    return settings, open_database(settings.resolved_database_url)


def child_qclust(name: str) -> dict[str, Any]:
    import fast_hdbscan  # noqa: F401  (imports before the clock, as on the baseline side)
    import umap  # noqa: F401

    from app.cli import app

    started = time.perf_counter()
    app(["cluster", "-c", name, "-q"], standalone_mode=False)
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def child_baseline(name: str, labels_path: str, cached: str = "") -> dict[str, Any]:
    """As BERTopic runs it; with `cached`, umap's kernels come from numba's disk cache too."""
    import hdbscan
    import umap

    from clustering.pipeline import load_corpus_vectors

    if cached:
        from clustering.kernels import cache_umap_kernels

        cache_umap_kernels()

    settings, sessions = _settings_and_sessions(name)
    vectors = load_corpus_vectors(sessions, settings, name).vectors
    started = time.perf_counter()
    reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine")
    embedding = reduced.fit_transform(vectors)
    model = hdbscan.HDBSCAN(
        min_cluster_size=10,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    ).fit(embedding)
    seconds = time.perf_counter() - started
    np.save(labels_path, model.labels_)
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def child_warmup() -> dict[str, Any]:
    """Compile (and cache) every numba function both pipelines use, outside the measurements."""
    import hdbscan
    import umap

    from clustering.kernels import cache_umap_kernels
    from clustering.knn import knn_graph
    from clustering.mapping import map_2d
    from clustering.topics import TopicClusterer

    cache_umap_kernels()  # fills the disk cache for the runs that use it
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embedding = umap.UMAP(n_neighbors=15, n_components=5, metric="cosine").fit_transform(vectors)
    hdbscan.HDBSCAN(min_cluster_size=10, prediction_data=True).fit(embedding)
    graph = knn_graph(vectors, 16)
    topics = TopicClusterer().fit(graph, vectors)
    map_2d(graph, vectors, start=topics.embedding_)
    return {}


def run_child(args: list[str], name: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=_env(name),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def truth_labels(name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Question ids of the corpus in store order, and their gold labels (by text)."""
    from sqlalchemy import select

    from clustering.pipeline import load_corpus_vectors
    from db.models import Question

    settings, sessions = _settings_and_sessions(name)
    ids = load_corpus_vectors(sessions, settings, name).ids
    with sessions() as session:
        text_of = dict(session.execute(select(Question.id, Question.text)).all())
    label_of: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            label_of.setdefault(" ".join(row["text"].split()), row["label"])
    return ids, np.array([label_of[text_of[int(i)]] for i in ids])


def qclust_labels(name: str, ids: np.ndarray) -> np.ndarray:
    from sqlalchemy import select

    from db.cluster_queries import latest_run
    from db.models import ClusterMember
    from db.queries import get_corpus

    _, sessions = _settings_and_sessions(name)
    with sessions() as session:
        run = latest_run(session, get_corpus(session, name).id)
        assert run is not None
        key_of = dict(
            session.execute(
                select(ClusterMember.question_id, ClusterMember.cluster_key).where(
                    ClusterMember.run_id == run.id
                )
            ).all()
        )
    return np.array([key_of[int(i)] for i in ids])


def scores(truth: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, v_measure_score

    return {
        "v": v_measure_score(truth, labels),
        "ari": adjusted_rand_score(truth, labels),
        "clusters": len(set(labels.tolist()) - {-1}),
        "noise": float(np.mean(labels < 0)),
    }


def compare(name: str, repeats: int) -> dict[str, list[dict[str, float]]]:
    ensure_ingested(name, DATASETS[name])
    ids, truth = truth_labels(name, DATASETS[name])
    results: dict[str, list[dict[str, float]]] = {"baseline": [], "cached": [], "qclust": []}
    for _ in range(repeats):
        for side, extra in (("baseline", []), ("cached", ["cached"])):
            with tempfile.TemporaryDirectory() as tmp:
                labels_path = str(Path(tmp) / "labels.npy")
                measured = run_child(["baseline", name, labels_path, *extra], name)
                results[side].append({**measured, **scores(truth, np.load(labels_path))})
        measured = run_child(["qclust", name], name)
        results["qclust"].append({**measured, **scores(truth, qclust_labels(name, ids))})
        for side in results:
            r = results[side][-1]
            print(
                f"  {name:8s} {side:8s} {r['seconds']:6.1f} s  peak {r['peak_mb']:5.0f} MB  "
                f"V {r['v']:.3f}  ARI {r['ari']:.3f}  clusters {r['clusters']:4.0f}  "
                f"noise {r['noise']:.1%}",
                flush=True,
            )
    return results


def pair_quality(
    predicted: set[tuple[int, int]], true: set[tuple[int, int]]
) -> tuple[float, float]:
    hits = len(predicted & true)
    return hits / max(len(predicted), 1), hits / max(len(true), 1)


def group_pairs(labels: np.ndarray, ids: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for group in set(labels.tolist()) - {-1}:
        members = sorted(int(i) for i in ids[labels == group])
        pairs.update(itertools.combinations(members, 2))
    return pairs


def near_duplicates_demo(thresholds: list[float]) -> None:
    from sqlalchemy import select

    from clustering.knn import knn_graph
    from clustering.near_duplicates import NearDuplicateGrouper
    from clustering.pipeline import load_corpus_vectors
    from db.models import Question

    ensure_ingested("demo", ROOT / "demo" / "questions.csv", "question", "id")
    settings, sessions = _settings_and_sessions("demo")
    data = load_corpus_vectors(sessions, settings, "demo")
    with sessions() as session:
        id_of = dict(session.execute(select(Question.external_id, Question.id)).all())
    true: set[tuple[int, int]] = set()
    with (ROOT / "demo" / "duplicates.csv").open() as handle:
        for row in csv.DictReader(handle):
            a, b = sorted((id_of[row["id1"]], id_of[row["id2"]]))
            true.add((a, b))
    graph = knn_graph(data.vectors, 16, index=data.index, ids=data.ids)
    print(f"\nnear-duplicate groups, demo corpus ({len(true)} true pairs):")
    print("| threshold | groups | precision | recall |")
    print("|---|---|---|---|")
    for threshold in thresholds:
        grouper = NearDuplicateGrouper(threshold=threshold).fit(graph, data.vectors)
        precision, recall = pair_quality(group_pairs(grouper.labels_, data.ids), true)
        print(f"| {threshold:.2f} | {len(grouper.medoids_)} | {precision:.3f} | {recall:.3f} |")


def near_duplicates_quora(thresholds: list[float]) -> None:
    """Group all questions of the Quora pairs; judge "same group" on the labelled pairs."""
    from sqlalchemy import select

    from clustering.knn import knn_graph
    from clustering.near_duplicates import NearDuplicateGrouper
    from clustering.pipeline import load_corpus_vectors
    from db.models import Question
    from indexer.validation import text_hash

    source = SHARED / "quora_pairs" / "quora_pairs_dev.tsv"
    with source.open(encoding="utf-8", newline="") as handle:
        pairs = list(csv.DictReader(handle, delimiter="\t"))
    if not (OUT / "quora" / "qclust.db").exists():
        with tempfile.TemporaryDirectory() as tmp:
            questions = Path(tmp) / "questions.txt"
            texts = {" ".join(t.split()) for r in pairs for t in (r["question1"], r["question2"])}
            questions.write_text("\n".join(sorted(t for t in texts if t)) + "\n", encoding="utf-8")
            ensure_ingested("quora", questions)
    settings, sessions = _settings_and_sessions("quora")
    data = load_corpus_vectors(sessions, settings, "quora")
    with sessions() as session:
        id_of = dict(session.execute(select(Question.text_hash, Question.id)).all())
    labelled = []
    for row in pairs:
        a, b = id_of.get(text_hash(row["question1"])), id_of.get(text_hash(row["question2"]))
        if a is not None and b is not None and a != b:
            labelled.append((min(a, b), max(a, b), row["is_duplicate"] == "1"))
    graph = knn_graph(data.vectors, 16, index=data.index, ids=data.ids)
    row_of = {int(i): r for r, i in enumerate(data.ids)}
    positives = sum(is_dup for _, _, is_dup in labelled)
    print(
        f"\nnear-duplicate groups, Quora pairs ({len(data.ids):,} questions, "
        f"{len(labelled):,} labelled pairs, {positives:,} duplicates):"
    )
    print("| threshold | groups | precision | recall |")
    print("|---|---|---|---|")
    for threshold in thresholds:
        labels = NearDuplicateGrouper(threshold=threshold).fit(graph, data.vectors).labels_
        same = [
            labels[row_of[a]] >= 0 and labels[row_of[a]] == labels[row_of[b]]
            for a, b, _ in labelled
        ]
        hits = sum(s and d for s, (_, _, d) in zip(same, labelled, strict=True))
        precision, recall = hits / max(sum(same), 1), hits / max(positives, 1)
        groups = len(set(labels.tolist()) - {-1})
        print(f"| {threshold:.2f} | {groups:,} | {precision:.3f} | {recall:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--datasets", default="so,clinc,banking")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        runner = {"qclust": child_qclust, "baseline": child_baseline, "warmup": child_warmup}
        print(json.dumps(runner[mode](*rest)))
        return

    run_child(["warmup"], "warmup")
    table = []
    for name in args.datasets.split(","):
        results = compare(name, args.repeats)
        table.append((name, results))
    print(f"\n{os.cpu_count()} cores, mean of {args.repeats} runs each")
    print("| data | pipeline | seconds | peak MB | V-measure | ARI | clusters | noise |")
    print("|---|---|---|---|---|---|---|---|")
    labels = {
        "baseline": "baseline (BERTopic default)",
        "cached": "baseline, umap kernels cached",
        "qclust": "qclust cluster",
    }
    for name, results in table:
        for side, runs in results.items():
            label = labels[side]
            print(
                f"| {name} | {label} | {mean(r['seconds'] for r in runs):.1f} | "
                f"{max(r['peak_mb'] for r in runs):.0f} | {mean(r['v'] for r in runs):.3f} | "
                f"{mean(r['ari'] for r in runs):.3f} | {mean(r['clusters'] for r in runs):.0f} | "
                f"{mean(r['noise'] for r in runs):.1%} |"
            )
        ours = mean(r["seconds"] for r in results["qclust"])
        for side in ("baseline", "cached"):
            speedup = mean(r["seconds"] for r in results[side]) / ours
            print(f"| {name} | speed-up vs {labels[side]} | {speedup:.2f}x | | | | | |")
    thresholds = [0.75, 0.80, 0.85, 0.90]
    near_duplicates_demo(thresholds)
    near_duplicates_quora(thresholds)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
