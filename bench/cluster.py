"""Clustering quality and speed: `qclust cluster` against BERTopic's default pipeline and EVoC.

For each data set (20,000 StackOverflow titles, CLINC150 validation, Banking77 training, and two
small samples of the last two drawn with numpy's default_rng(0) without replacement:
`banking200`, `clinc500`), on the same stored vectors of the default model: wall time and peak
memory (VmHWM of the child) of `qclust cluster` (kNN graph, near-duplicates, topics: EVoC's
layout of the graph + HDBSCAN, names, 2-D map, database write), of its topic stage alone
(`TopicClusterer.fit` on the stored vectors and the kNN graph, built before the clock), of the
same stage with the UMAP layout it had before (`topics-umap`), of EVoC with its default parameters
(PyPI `evoc`) and of the baseline (umap-learn UMAP with 15 neighbours, 5 components, cosine,
min_dist 0, then hdbscan with min_cluster_size 10), each in a fresh child process with libraries
imported before the clock. The topic stage and EVoC are timed twice in their process: the first
fit (numba kernels from the disk cache, fast_hdbscan's compiled) and a second, warm one, which
is scored. Scores: V-measure, adjusted Rand index (outliers count as one more label on both
sides), number of clusters and noise share. Then, on seeded untimed runs (RULE_SEEDS), every
EVoC layer and a min_cluster_size sweep of qclust's HDBSCAN on its UMAP embedding, and the level
each label-free selection rule picks; optionally EVoC's determinism across processes and thread
counts. Then the near-duplicate groups: pairwise precision and recall of "same group" on the
demo corpus's paraphrase groups and on the Quora duplicate pairs.

    .venv/bin/python bench/cluster.py [--repeats R] [--datasets so,clinc,banking,banking200,...]
        [--engines baseline,cached,qclust,topics,topics-umap,evoc] [--evoc-determinism]
        [--report bench/out/tables.md] [--skip-near-duplicates]

Vectors are cached under bench/out/ (ingested once with `qclust ingest`; samples are written to
a temporary file first, never into the repository).
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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import mean, median
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
SAMPLES = {"banking200": ("banking", 200), "clinc500": ("clinc", 500)}  # name: (source, size)
SAMPLE_SEED = 0
MCS_SWEEP = (3, 5, 8, 10, 15, 25, 50)
NOISE_BOUNDS = (0.2, 0.3, 0.4)
RULE_SEEDS = (0, 1, 2)  # seeded, untimed runs on which the level rules are judged
SILHOUETTE_SAMPLE = 4000


def _env(name: str) -> dict[str, str]:
    return {
        **os.environ,
        "QCLUST_DATA_DIR": str(OUT / name),
        "HF_HUB_OFFLINE": "1",
        "QCLUST_DEVICE": "cpu",
    }


def _peak_mb() -> float:
    """Peak resident memory of this process since its exec (VmHWM). ru_maxrss would also count
    the parent's resident set, which Linux carries into a child's maxrss across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
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


def source_path(name: str) -> Path:
    """The shared file a data set (or a sample's source) is read from; its labels come from it."""
    return DATASETS[SAMPLES[name][0]] if name in SAMPLES else DATASETS[name]


def ensure_dataset(name: str) -> None:
    """Ingest a data set; a sample is drawn (seeded, without replacement) into a temporary file."""
    if name not in SAMPLES:
        ensure_ingested(name, DATASETS[name])
        return
    if (OUT / name / "qclust.db").exists():
        return
    source, size = SAMPLES[name]
    with DATASETS[source].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    picked = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(rows), size, replace=False))
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / f"{name}.tsv"
        with sample.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"], delimiter="\t")
            writer.writeheader()
            writer.writerows({"text": rows[i]["text"], "label": rows[i]["label"]} for i in picked)
        ensure_ingested(name, sample)


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


def _blobs(n: int = 1000, dim: int = 32, centres: int = 8) -> np.ndarray:
    """Unit vectors around a few centres: enough structure for every numba path to compile."""
    rng = np.random.default_rng(0)
    points = np.repeat(rng.normal(size=(centres, dim)), n // centres, axis=0)
    points += 0.3 * rng.normal(size=points.shape)
    unit: np.ndarray = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _seeds(seeds: str) -> list[int]:
    return [int(seed) for seed in seeds.split(",") if seed]


def child_topics(
    name: str, out_path: str, seeds: str = "", embedding: str = "auto"
) -> dict[str, Any]:
    """qclust's topic stage alone: `TopicClusterer.fit` (the layout of the kNN graph, EVoC's
    node embedding or with `embedding` "umap" UMAP, + fast_hdbscan) and the outliers joining
    their nearest topic (`attach_to_centres`)
    on the stored vectors and the graph `qclust cluster` builds (built before the clock). Timed
    twice in the process: the first fit (`first_s`: loads umap's kernels from numba's disk cache
    and compiles fast_hdbscan's, which have none, as every `qclust cluster` process does) and a
    second, warm one (`seconds`, whose labels are scored). Then, untimed, for each of `seeds`
    (comma-separated) a seeded fit, and HDBSCAN at each min_cluster_size of MCS_SWEEP on its
    UMAP embedding."""
    from clustering.knn import knn_graph
    from clustering.outliers import attach_to_centres
    from clustering.params import ClusterParams
    from clustering.pipeline import load_corpus_vectors
    from clustering.topics import TopicClusterer

    params = ClusterParams()
    settings, sessions = _settings_and_sessions(name)
    data = load_corpus_vectors(sessions, settings, name)
    graph = knn_graph(data.vectors, params.knn_k, index=data.index, ids=data.ids)
    layout: Any = embedding
    started = time.perf_counter()
    replace(params.topic_clusterer(), embedding=layout).fit(graph, data.vectors)
    first = time.perf_counter() - started
    clusterer = replace(params.topic_clusterer(), embedding=layout)
    started = time.perf_counter()
    clusterer.fit(graph, data.vectors)
    labels, _ = attach_to_centres(data.vectors, clusterer.labels_, clusterer.probabilities_)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    arrays: dict[str, Any] = {"labels": labels, "sizes": np.array(MCS_SWEEP)}
    for seed in _seeds(seeds):
        seeded = TopicClusterer(random_state=seed, embedding=layout).fit(graph, data.vectors)
        # the HDBSCAN step of TopicClusterer itself (min_samples = min_cluster_size)
        sweep = [seeded._hdbscan(seeded.embedding_, size)[0] for size in MCS_SWEEP]
        arrays[f"sweep{seed}"] = np.stack(sweep)
    np.savez(out_path, **arrays)
    return {"seconds": seconds, "first_s": first, "peak_mb": peak}


def child_evoc(name: str, out_path: str, seed: str = "", seeds: str = "") -> dict[str, Any]:
    """EVoC with its default parameters (`seed`: random_state, which also turns on its
    reproducible mode), timed twice in the process: the first fit (`first_s`: its kernels come
    from numba's disk cache, filled by the warm-up child) and a second, warm one (`seconds`,
    whose result is scored). Then, untimed, one fit per seed of `seeds` (comma-separated), whose
    layers and persistence scores the level rules use."""
    from evoc import EVoC

    from clustering.pipeline import load_corpus_vectors

    settings, sessions = _settings_and_sessions(name)
    vectors = load_corpus_vectors(sessions, settings, name).vectors
    random_state = int(seed) if seed else None
    started = time.perf_counter()
    EVoC(random_state=random_state).fit(vectors)
    first = time.perf_counter() - started
    started = time.perf_counter()
    model = EVoC(random_state=random_state).fit(vectors)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    arrays: dict[str, Any] = {
        "labels": np.asarray(model.labels_),
        "layers": np.stack(model.cluster_layers_),
        "persistence": np.asarray(model.persistence_scores_, dtype=np.float64),
        "duplicates": np.array(sorted(model.duplicates_), dtype=np.int64).reshape(-1, 2),
    }
    for other in _seeds(seeds):
        seeded = EVoC(random_state=other).fit(vectors)
        arrays[f"layers{other}"] = np.stack(seeded.cluster_layers_)
        arrays[f"persistence{other}"] = np.asarray(seeded.persistence_scores_, dtype=np.float64)
    np.savez(out_path, **arrays)
    return {"seconds": seconds, "first_s": first, "peak_mb": peak}


def child_warmup() -> dict[str, Any]:
    """Compile (and cache) every numba function the pipelines use, outside the measurements."""
    import hdbscan
    import umap
    from evoc import EVoC

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
    EVoC(random_state=0).fit(_blobs())  # fills evoc's own numba disk cache
    return {}


def run_child(
    args: list[str], name: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env={**_env(name), **(extra_env or {})},
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


SIDES = ("baseline", "cached", "qclust", "topics", "topics-umap", "evoc")
SIDE_LABELS = {
    "baseline": "baseline (BERTopic default)",
    "cached": "baseline, umap kernels cached",
    "qclust": "qclust cluster",
    "topics": "qclust topic stage (EVoC layout from 2,000 questions, HDBSCAN sweep, outliers)",
    "topics-umap": "qclust topic stage, UMAP layout (before)",
    "evoc": "EVoC default (labels_)",
}
Level = dict[str, float]
Rule = Callable[[list[Level], int], int]


@dataclass
class Comparison:
    """One data set: timed runs per side, and (from the last repeat) every candidate level of
    each seeded run of RULE_SEEDS: EVoC's layers, qclust's min_cluster_size sweep."""

    n: int
    runs: dict[str, list[dict[str, float]]]
    evoc_levels: list[list[Level]] = field(default_factory=list)
    mcs_levels: list[list[Level]] = field(default_factory=list)
    duplicate_pairs: int = 0
    exact_duplicate_pairs: int = 0


def coherence(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Label-free: cosine silhouette of the clustered points (a fixed sample) times coverage."""
    from sklearn.metrics import silhouette_score

    clustered = labels >= 0
    if len(set(labels[clustered].tolist())) < 2:
        return 0.0
    sample = min(SILHOUETTE_SAMPLE, int(clustered.sum()))
    silhouette = silhouette_score(
        vectors[clustered], labels[clustered], metric="cosine", sample_size=sample, random_state=0
    )
    return float(silhouette) * float(clustered.mean())


def level(truth: np.ndarray, labels: np.ndarray, vectors: np.ndarray, **extra: float) -> Level:
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(1)
    return {
        **scores(truth, labels),
        "coherence": coherence(vectors, labels),
        "median_size": float(np.median(sizes[sizes > 0])) if sizes.any() else 0.0,
        **extra,
    }


def layer_stability(layers: np.ndarray, others: list[np.ndarray]) -> list[float]:
    """Per layer: ARI with the best-matching layer of each other seed's run, averaged
    (label-free: only the runs' own partitions are compared)."""
    from sklearn.metrics import adjusted_rand_score

    return [
        float(mean(max(adjusted_rand_score(layer, o) for o in other) for other in others))
        for layer in layers
    ]


def exact_duplicate_pairs(vectors: np.ndarray) -> int:
    _, counts = np.unique(vectors, axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def sweep_levels(saved: Any, truth: np.ndarray, vectors: np.ndarray) -> list[list[Level]]:
    """Per seeded run: one level per min_cluster_size of the sweep."""
    return [
        [
            level(truth, labels, vectors, size=float(size))
            for size, labels in zip(saved["sizes"], saved[f"sweep{seed}"], strict=True)
        ]
        for seed in RULE_SEEDS
    ]


def evoc_levels(saved: Any, truth: np.ndarray, vectors: np.ndarray) -> list[list[Level]]:
    """Per seeded run: one level per EVoC layer, with its persistence and stability."""
    runs = [saved[f"layers{seed}"] for seed in RULE_SEEDS]
    result = []
    for k, seed in enumerate(RULE_SEEDS):
        stable = layer_stability(runs[k], runs[:k] + runs[k + 1 :])
        persistence = saved[f"persistence{seed}"]
        result.append(
            [
                level(truth, layer, vectors, persistence=float(p), stability=st)
                for layer, p, st in zip(runs[k], persistence, stable, strict=True)
            ]
        )
    return result


def _print_run(name: str, side: str, r: dict[str, float]) -> None:
    print(
        f"  {name:10s} {side:8s} {r['seconds']:6.1f} s  "
        f"(first {r.get('first_s', r['seconds']):5.1f} s)  peak {r['peak_mb']:5.0f} MB  "
        f"V {r['v']:.3f}  ARI {r['ari']:.3f}  clusters {r['clusters']:4.0f}  "
        f"noise {r['noise']:.1%}",
        flush=True,
    )


def compare(name: str, repeats: int, sides: list[str]) -> Comparison:
    from clustering.pipeline import load_corpus_vectors

    ensure_dataset(name)
    ids, truth = truth_labels(name, source_path(name))
    settings, sessions = _settings_and_sessions(name)
    vectors = load_corpus_vectors(sessions, settings, name).vectors
    result = Comparison(n=len(ids), runs={side: [] for side in sides})
    seeds = ",".join(str(seed) for seed in RULE_SEEDS)
    for repeat in range(repeats):
        last = repeat == repeats - 1
        with tempfile.TemporaryDirectory() as tmp:
            for side in sides:
                out = str(Path(tmp) / f"{side}.npz")
                if side in ("baseline", "cached"):
                    out = str(Path(tmp) / f"{side}.npy")
                    extra = ["cached"] if side == "cached" else []
                    measured = run_child(["baseline", name, out, *extra], name)
                    labels = np.load(out)
                elif side == "qclust":
                    measured = run_child(["qclust", name], name)
                    labels = qclust_labels(name, ids)
                elif side in ("topics", "topics-umap"):
                    layout = "umap" if side == "topics-umap" else "auto"
                    sweep = seeds if last and side == "topics" else ""
                    measured = run_child(["topics", name, out, sweep, layout], name)
                    saved = np.load(out)
                    labels = saved["labels"]
                    if sweep:
                        result.mcs_levels = sweep_levels(saved, truth, vectors)
                else:
                    measured = run_child(["evoc", name, out, "", seeds if last else ""], name)
                    saved = np.load(out)
                    labels = saved["labels"]
                    if last:
                        result.evoc_levels = evoc_levels(saved, truth, vectors)
                        result.duplicate_pairs = len(saved["duplicates"])
                        result.exact_duplicate_pairs = exact_duplicate_pairs(vectors)
                result.runs[side].append({**measured, **scores(truth, labels)})
                _print_run(name, side, result.runs[side][-1])
    return result


def _most_clusters_under(bound: float) -> Rule:
    def rule(levels: list[Level], n: int) -> int:
        under = [i for i, lv in enumerate(levels) if lv["noise"] <= bound]
        if not under:
            return min(range(len(levels)), key=lambda i: levels[i]["noise"])
        return max(under, key=lambda i: levels[i]["clusters"])

    return rule


def _argmax(key: str) -> Rule:
    return lambda levels, n: max(range(len(levels)), key=lambda i: levels[i].get(key, -1.0))


def _sqrt_half(levels: list[Level], n: int) -> int:
    return min(range(len(levels)), key=lambda i: abs(levels[i]["clusters"] - (n / 2) ** 0.5))


def _qclust_default(levels: list[Level], n: int) -> int:
    from clustering.topics import default_min_cluster_size

    wanted = default_min_cluster_size(n)
    return min(range(len(levels)), key=lambda i: abs(levels[i]["size"] - wanted))


def rules(engine: str) -> dict[str, Rule]:
    """Label-free choices of a default level, fixed before looking at the scores."""
    chosen: dict[str, Rule] = {}
    if engine == "evoc":
        chosen["EVoC's own (max persistence)"] = _argmax("persistence")
        chosen["finest layer (base_min_cluster_size 5)"] = lambda levels, n: 0
        chosen["most stable layer (ARI with the other seeds' runs)"] = _argmax("stability")
    else:
        chosen["qclust default_min_cluster_size(n)"] = _qclust_default
        chosen["finest (min_cluster_size 3)"] = lambda levels, n: 0
    for bound in NOISE_BOUNDS:
        chosen[f"most clusters with noise <= {bound:.0%}"] = _most_clusters_under(bound)
    chosen["max silhouette x coverage"] = _argmax("coherence")
    chosen["clusters nearest sqrt(n/2)"] = _sqrt_half
    return chosen


def tables(results: list[tuple[str, Comparison]], repeats: int) -> list[str]:
    lines = [f"{os.cpu_count()} cores; seconds: median of {repeats} runs, scores: mean", ""]
    lines += [
        "| data | n | pipeline | seconds | first fit in process, s | peak MB | V-measure | ARI "
        "| clusters | noise |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results:
        for side, runs in result.runs.items():
            first_fit = f"{median(r['first_s'] for r in runs):.1f}" if "first_s" in runs[0] else ""
            lines.append(
                f"| {name} | {result.n:,} | {SIDE_LABELS[side]} | "
                f"{median(r['seconds'] for r in runs):.2f} | {first_fit} | "
                f"{max(r['peak_mb'] for r in runs):.0f} | {mean(r['v'] for r in runs):.3f} | "
                f"{mean(r['ari'] for r in runs):.3f} | {mean(r['clusters'] for r in runs):.0f} | "
                f"{mean(r['noise'] for r in runs):.1%} |"
            )
        if "qclust" in result.runs:
            ours = median(r["seconds"] for r in result.runs["qclust"])
            for side in ("baseline", "cached"):
                if side in result.runs:
                    speedup = median(r["seconds"] for r in result.runs[side]) / ours
                    lines.append(
                        f"| {name} | | speed-up of qclust cluster vs {SIDE_LABELS[side]} | "
                        f"{speedup:.2f}x | | | | | | |"
                    )
        if "topics" in result.runs and "evoc" in result.runs:
            stage = median(r["seconds"] for r in result.runs["topics"])
            ratio = stage / median(r["seconds"] for r in result.runs["evoc"])
            lines.append(
                f"| {name} | | qclust topic stage's time / EVoC default's | {ratio:.2f}x "
                "| | | | | | |"
            )
    if any(r.evoc_levels for _, r in results):
        lines += [
            "",
            f"EVoC layers, random_state {RULE_SEEDS[0]} (finest first; * = its labels_, the "
            "max-persistence layer; stability: ARI with the best-matching layer of the runs "
            f"with random_state {', '.join(str(s) for s in RULE_SEEDS[1:])}):",
        ]
        lines += [
            "| data | layer | clusters | noise | persistence | stability | silhouette x "
            "coverage | median size | V-measure | ARI |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, result in results:
            if not result.evoc_levels:
                continue
            first = result.evoc_levels[0]
            default = _argmax("persistence")(first, result.n)
            for i, lv in enumerate(first):
                mark = "*" if i == default else ""
                lines.append(
                    f"| {name} | {i}{mark} | {lv['clusters']:.0f} | {lv['noise']:.1%} | "
                    f"{lv['persistence']:.1f} | {lv['stability']:.3f} | {lv['coherence']:.3f} | "
                    f"{lv['median_size']:.0f} | {lv['v']:.3f} | {lv['ari']:.3f} |"
                )
        lines += ["", "EVoC near-duplicates (`duplicates_`) against exactly equal vectors:"]
        lines += ["| data | duplicates_ pairs | exactly equal vector pairs |", "|---|---|---|"]
        for name, result in results:
            if result.evoc_levels:
                lines.append(
                    f"| {name} | {result.duplicate_pairs:,} | {result.exact_duplicate_pairs:,} |"
                )
    if any(r.mcs_levels for _, r in results):
        lines += [
            "",
            f"qclust HDBSCAN (min_samples = min_cluster_size) on its topic UMAP, random_state "
            f"{RULE_SEEDS[0]}:",
        ]
        lines += [
            "| data | min_cluster_size | clusters | noise | silhouette x coverage | "
            "median size | V-measure | ARI |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, result in results:
            for lv in result.mcs_levels[0] if result.mcs_levels else []:
                lines.append(
                    f"| {name} | {lv['size']:.0f} | {lv['clusters']:.0f} | {lv['noise']:.1%} | "
                    f"{lv['coherence']:.3f} | {lv['median_size']:.0f} | {lv['v']:.3f} | "
                    f"{lv['ari']:.3f} |"
                )
    seeds = "/".join(str(s) for s in RULE_SEEDS)
    for engine, attribute in (("evoc", "evoc_levels"), ("qclust", "mcs_levels")):
        present = [(name, r) for name, r in results if getattr(r, attribute)]
        if not present:
            continue
        lines += [
            "",
            f"Default-level rules, {engine}: mean V-measure of the pick over random_state "
            f"{seeds} (clusters picked in each run)",
        ]
        lines += [
            "| rule | " + " | ".join(name for name, _ in present) + " | mean V | min V |",
            "|---|" + "---|" * (len(present) + 2),
        ]
        for title, rule in rules(engine).items():
            cells, vs, lowest = [], [], []
            for _, r in present:
                picks = [levels[rule(levels, r.n)] for levels in getattr(r, attribute)]
                v = mean(lv["v"] for lv in picks)
                vs.append(v)
                lowest.append(min(lv["v"] for lv in picks))
                counts = "/".join(f"{lv['clusters']:.0f}" for lv in picks)
                cells.append(f"{v:.3f} ({counts})")
            lines.append(
                f"| {title} | " + " | ".join(cells) + f" | {mean(vs):.3f} | {min(lowest):.3f} |"
            )
    return lines


def evoc_determinism(names: list[str]) -> list[str]:
    """Two fresh processes per setting (same labels_ and layers?), and random_state 0 again
    with one numba thread instead of all."""
    from sklearn.metrics import adjusted_rand_score

    lines = ["", f"EVoC determinism (fresh processes; {os.cpu_count()} numba threads unless said):"]
    lines += [
        "| data | random_state | seconds (run 1, run 2) | clusters per layer (run 1 vs 2) | "
        "same labels_ | same layers | ARI of labels_ |",
        "|---|---|---|---|---|---|---|",
    ]
    settings: list[tuple[str, str, dict[str, str]]] = [
        ("0", "0", {}),
        ("None", "", {}),
        ("0, 1 thread vs all", "0", {"NUMBA_NUM_THREADS": "1"}),
    ]
    for name in names:
        ensure_dataset(name)
        for title, seed, first_env in settings:
            with tempfile.TemporaryDirectory() as tmp:
                runs, saved = [], []
                for k, env in enumerate((first_env, {})):
                    out = str(Path(tmp) / f"{k}.npz")
                    runs.append(run_child(["evoc", name, out, seed], name, env))
                    saved.append(dict(np.load(out)))
            a, b = saved
            same_layers = a["layers"].shape == b["layers"].shape and bool(
                np.array_equal(a["layers"], b["layers"])
            )
            counts = ["/".join(str(int(layer.max()) + 1) for layer in s["layers"]) for s in saved]
            lines.append(
                f"| {name} | {title} | {runs[0]['seconds']:.1f}, {runs[1]['seconds']:.1f} | "
                f"{' vs '.join(counts)} | {bool(np.array_equal(a['labels'], b['labels']))} | "
                f"{same_layers} | {adjusted_rand_score(a['labels'], b['labels']):.3f} |"
            )
            print(lines[-1], flush=True)
    return lines


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
    parser.add_argument("--engines", default=",".join(SIDES), help="subset of " + ",".join(SIDES))
    parser.add_argument("--evoc-determinism", action="store_true")
    parser.add_argument("--skip-near-duplicates", action="store_true")
    parser.add_argument("--report", type=Path, help="also write the tables to this file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        runner: dict[str, Callable[..., dict[str, Any]]] = {
            "qclust": child_qclust,
            "baseline": child_baseline,
            "topics": child_topics,
            "evoc": child_evoc,
            "warmup": child_warmup,
        }
        print(json.dumps(runner[mode](*rest)))
        return

    names = args.datasets.split(",")
    unknown = [n for n in names if n not in DATASETS and n not in SAMPLES]
    sides = args.engines.split(",")
    if unknown or not set(sides) <= set(SIDES):
        parser.error(f"unknown data set or engine in {args.datasets} / {args.engines}")
    run_child(["warmup"], "warmup")
    results = [(name, compare(name, args.repeats, sides)) for name in names]
    lines = tables(results, args.repeats)
    if args.evoc_determinism:
        lines += evoc_determinism(names)
    print("\n" + "\n".join(lines))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not args.skip_near_duplicates:
        thresholds = [0.75, 0.80, 0.85, 0.90]
        near_duplicates_demo(thresholds)
        near_duplicates_quora(thresholds)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
