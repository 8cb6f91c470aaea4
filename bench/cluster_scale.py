"""`qclust cluster` at scale: a synthetic clustered corpus of N questions, ingested through the
real `ingest_file` and clustered exactly as `qclust cluster --corpus NAME -q` does, in fresh
child processes; wall time, peak memory and per-stage times of each, and the topics' quality
against the planted topics (issue 13: a 1,000,000-point run on 2 cores and 24 GiB).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/cluster_scale.py --n 100000 [--n 1000000]
        [--reingest] [--max-rss-gb 16] [--timeout-min 60] [--report PATH]
        [--options "--min-cluster-size 100" --tag fixed100]
        [--what-if graph-nprobe=32] [--what-if max-min-samples=100]

The corpus: about N/500 topics of Zipf-like sizes (weight rank^-0.7, at least 20 questions),
each topic's centre a mix of one of about sqrt(topics) "super-topics" and its own direction,
every question "topic T variant V" mapped by `SyntheticEncoder` to the unit vector of
centre[T] + sigma * noise (seeded by T and V, 384-d float32 like the default model); every
20th variant is a near-copy of the one before it (a planted near-duplicate pair, cosine about
0.98), and 3% of the questions ("noise K") are random unit vectors. Rows are written shuffled
to bench/out/scale/<N>/questions.txt and ingested into the fresh data folder
bench/out/scale/<N>/ (QCLUST_DATA_DIR), so questions and vectors land in SQLite the normal way.

The clustering child runs the CLI itself (`app.cli.app(["cluster", "-c", NAME, "-q"])`) under
`/usr/bin/time -v` (its "Maximum resident set size" is the peak RSS reported); the pipeline's
progress callback and thin timing wrappers around its main steps (UMAP, each HDBSCAN, naming,
...) write timestamped events to events.jsonl, so a run that is stopped still shows where its
time went. A watchdog stops a child whose RSS passes --max-rss-gb, when the machine's available
memory falls under --min-available-gb, or after --timeout-min. Each clustering starts from the
database as the ingest left it (a copy is kept), so every run is a corpus's first. Results go
to bench/out/scale/<N>/result-<TAG>.json and, for every size done so far, to the markdown table in
bench/out/scale/cluster_scale.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.encoder import Encoder, EncoderSpec

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "scale"
CORPUS = "scale"
DIMENSION = 384
SEED = 13
TIME_BIN = Path("/usr/bin/time")
Vectors = npt.NDArray[np.float32]
_ROW = re.compile(r"^(topic|noise) (\d+)(?: variant (\d+))?$")


# -- the synthetic corpus ----------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """The planted structure of a corpus of `n` questions."""

    n: int
    topics: int
    supers: int
    noise: int
    sigma: float = 1.0
    zipf: float = 0.7
    duplicate_every: int = 20  # every this-many-th variant near-copies the one before
    duplicate_jitter: float = 0.25

    @classmethod
    def for_size(cls, n: int, *, noise_share: float = 0.03, sigma: float = 1.0) -> Design:
        topics = max(20, round(n / 500))
        return cls(
            n=n,
            topics=topics,
            supers=max(4, round(math.sqrt(topics))),
            noise=round(noise_share * n),
            sigma=sigma,
        )

    def sizes(self) -> npt.NDArray[np.int64]:
        """Questions per topic, largest first, summing to n - noise."""
        clustered = self.n - self.noise
        weights = np.arange(1, self.topics + 1, dtype=np.float64) ** -self.zipf
        sizes = np.maximum(np.floor(weights / weights.sum() * clustered), 20).astype(np.int64)
        sizes[0] += clustered - int(sizes.sum())
        planted: npt.NDArray[np.int64] = sizes
        return planted

    def super_of(self, topic: int) -> int:
        return topic % self.supers

    def planted_pairs(self) -> int:
        return int(sum(size // self.duplicate_every for size in self.sizes().tolist()))


def texts_of(design: Design) -> list[str]:
    """Every question of the corpus, distinct, in a fixed shuffled order."""
    texts = [
        f"topic {topic} variant {variant}"
        for topic, size in enumerate(design.sizes().tolist())
        for variant in range(size)
    ]
    texts += [f"noise {k}" for k in range(design.noise)]
    order = np.random.default_rng(SEED).permutation(len(texts))
    return [texts[int(i)] for i in order]


def truth_of(text: str, design: Design) -> tuple[int, int]:
    """The planted (topic, super-topic) of a question; (-1, -1) for noise."""
    match = _ROW.match(text)
    if match is None or match.group(1) == "noise":
        return -1, -1
    topic = int(match.group(2))
    return topic, design.super_of(topic)


def _unit(vector: npt.NDArray[np.floating[Any]]) -> Vectors:
    unit: Vectors = (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
    return unit


class SyntheticEncoder(Encoder):
    """What an ingest needs of an `Encoder` (spec, dimension, batch_size, encode), with no
    model: each text's vector follows from the numbers in it, the same in every process."""

    def __init__(self, design: Design) -> None:  # no super().__init__: it loads a model
        self.spec = EncoderSpec(model=f"synthetic-clustered-{DIMENSION}", normalize=True)
        self.dimension = DIMENSION
        self.batch_size = 64
        self.design = design
        rng = np.random.default_rng([SEED, 0])
        supers = rng.standard_normal((design.supers, DIMENSION))
        supers /= np.linalg.norm(supers, axis=1, keepdims=True)
        own = np.random.default_rng([SEED, 1]).standard_normal((design.topics, DIMENSION))
        own /= np.linalg.norm(own, axis=1, keepdims=True)
        mixed = 0.8 * supers[np.arange(design.topics) % design.supers] + 0.6 * own
        self.centres = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
        self.scale = design.sigma / math.sqrt(DIMENSION)

    @property
    def device(self) -> str:
        return "cpu"

    def _noise(self, topic: int, variant: int) -> npt.NDArray[np.float64]:
        noise: npt.NDArray[np.float64] = np.random.default_rng(
            [SEED, 2, topic, variant]
        ).standard_normal(DIMENSION)
        return noise

    def vector(self, text: str) -> Vectors:
        match = _ROW.match(text)
        if match is None:
            raise ValueError(f"not a synthetic question: {text!r}")
        kind, number, variant = match.group(1), int(match.group(2)), match.group(3)
        if kind == "noise":
            return _unit(np.random.default_rng([SEED, 3, number]).standard_normal(DIMENSION))
        v = int(variant or 0)
        every = self.design.duplicate_every
        if v % every == every - 1:  # a near-copy of the variant before
            noise = self._noise(number, v - 1) + self.design.duplicate_jitter * self._noise(
                number, v
            )
        else:
            noise = self._noise(number, v)
        return _unit(self.centres[number] + self.scale * noise)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        matrix = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self.vector(text)
        return matrix


def write_corpus(design: Design, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for text in texts_of(design):
            handle.write(text + "\n")


# -- child processes: events, memory, instrumentation ---------------------------------------


def _status_mb(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Recorder:
    """Timestamped events, one JSON line each, flushed at once (a killed child keeps them)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("a", encoding="utf-8")
        self.started = time.perf_counter()
        self.lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        record = {
            "t": round(time.perf_counter() - self.started, 3),
            "event": event,
            "rss_mb": round(_status_mb("VmRSS")),
            "hwm_mb": round(_status_mb("VmHWM")),
            **fields,
        }
        with self.lock:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()

    def progress(self, stage: str, done: int, total: int | None) -> None:
        self.emit("stage", stage=stage, done=done, total=total)

    def wrap(self, owner: Any, name: str, label: Callable[..., str] | None = None) -> None:
        """Replace `owner.name` with a version that records its start and duration."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            what = label(*args, **kwargs) if label else name
            self.emit("span-start", name=what)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.emit("span", name=what, seconds=round(time.perf_counter() - started, 3))

        setattr(owner, name, timed)


def instrument(recorder: Recorder) -> None:
    """Timing wrappers around the pipeline's main steps; behaviour is unchanged."""
    import clustering.mapping as mapping
    import clustering.pipeline as pipeline
    import clustering.topics as topics
    from clustering.near_duplicates import NearDuplicateGrouper

    def umap_label(*args: Any, **kwargs: Any) -> str:
        return f"umap {kwargs.get('n_components')}-d"

    def hdbscan_label(clusterer: Any, points: Any, size: int) -> str:
        return f"hdbscan min_cluster_size={size}"

    for owner, name in (
        (pipeline, "load_corpus_vectors"),
        (pipeline, "start_run"),
        (pipeline, "knn_graph"),
        (topics, "coherence"),
        (pipeline, "question_texts"),
        (pipeline, "ctfidf_keywords"),
        (pipeline, "representatives"),
        (pipeline, "map_2d"),
        (pipeline, "_coarse_levels"),
        (pipeline, "_centrality"),
        (pipeline, "track_clusters"),
        (pipeline, "write_run"),
    ):
        recorder.wrap(owner, name)
    recorder.wrap(NearDuplicateGrouper, "fit", lambda *a, **k: "NearDuplicateGrouper.fit")
    recorder.wrap(topics, "umap_embedding", umap_label)
    recorder.wrap(mapping, "umap_embedding", umap_label)
    recorder.wrap(topics.TopicClusterer, "_hdbscan", hdbscan_label)


def child_ingest(design_json: str, path: str, events: str) -> None:
    recorder = Recorder(Path(events))
    recorder.emit("start")
    from db.settings import Settings
    from indexer.ingest import ingest_file

    encoder = SyntheticEncoder(Design(**json.loads(design_json)))
    recorder.emit("imported")
    report = ingest_file(
        Path(path), CORPUS, settings=Settings(), encoder=encoder, progress=recorder.progress
    )
    recorder.emit(
        "finished",
        added=report.added,
        rejected=report.rejected,
        encoded=report.encoded,
        index_kind=report.index_kind,
        index_size=report.index_size,
        seconds=report.seconds,
    )


WHAT_IFS = {
    "graph-nprobe": "the kNN graph searched with this IVF nprobe (the index keeps its own)",
    "max-min-samples": "HDBSCAN's min_samples capped at this (default: min_cluster_size)",
}


def what_if(recorder: Recorder, changes: dict[str, int]) -> None:
    """Proposed fixes, tried without editing the product: the pipeline's own functions
    wrapped (graph-nprobe) or one small method re-stated with the change (max-min-samples)."""
    import clustering.pipeline as pipeline
    import clustering.topics as topics

    if "graph-nprobe" in changes:
        import faiss

        from clustering.knn import knn_graph as search_graph

        def knn_graph(vectors: Any, k: int, *, index: Any = None, **kwargs: Any) -> Any:
            try:
                ivf = faiss.extract_index_ivf(index) if index is not None else None
            except RuntimeError:  # a flat index: nothing to tune
                ivf = None
            if ivf is None:
                return search_graph(vectors, k, index=index, **kwargs)
            kept, ivf.nprobe = ivf.nprobe, changes["graph-nprobe"]
            recorder.emit("what-if", change=f"graph nprobe {kept} -> {ivf.nprobe}")
            try:
                return search_graph(vectors, k, index=index, **kwargs)
            finally:
                ivf.nprobe = kept

        pipeline.knn_graph = knn_graph  # type: ignore[attr-defined]  # its imported name
    if "max-min-samples" in changes:
        cap = changes["max-min-samples"]

        def _hdbscan(self: Any, points: Any, min_cluster_size: int) -> Any:
            from fast_hdbscan import HDBSCAN

            wanted = self.min_samples or min(min_cluster_size, cap)  # the one change
            samples = min(wanted, len(points) - 1)
            model = HDBSCAN(
                min_cluster_size=min_cluster_size,
                min_samples=max(1, samples),
                cluster_selection_method=self.selection,
            ).fit(np.asarray(points, dtype=np.float64))
            return (
                np.asarray(model.labels_, dtype=np.int64),
                np.asarray(model.probabilities_, dtype=np.float32),
            )

        topics.TopicClusterer._hdbscan = _hdbscan  # type: ignore[method-assign]


def child_cluster(events: str, options: list[str], changes: dict[str, int]) -> None:
    """`qclust cluster --corpus scale -q [OPTIONS]`, the CLI itself, with its stages recorded."""
    recorder = Recorder(Path(events))
    recorder.emit("start")
    import app.cli  # noqa: F401  (registers the commands)
    import clustering.pipeline as pipeline
    from app.cli_common import app as cli

    what_if(recorder, changes)  # before the timing wrappers, so they time the changed steps
    instrument(recorder)
    original = pipeline.run_clustering

    def run_clustering(*args: Any, progress: Any = None, **kwargs: Any) -> int:
        def tee(stage: str, done: int, total: int | None) -> None:
            recorder.progress(stage, done, total)
            if progress is not None:
                progress(stage, done, total)

        recorder.emit("run_clustering")
        run_id = original(*args, progress=tee, **kwargs)
        recorder.emit("run_clustering done", run_id=run_id)
        return run_id

    pipeline.run_clustering = run_clustering
    recorder.emit("imported")
    cli(["cluster", "--corpus", CORPUS, "-q", *options], standalone_mode=False)
    recorder.emit("finished")


# -- the parent: spawning, watching, summarising -------------------------------------------


def _env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("QCLUST_")}
    return {
        **env,
        "QCLUST_DATA_DIR": str(data_dir),
        "QCLUST_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _python_child(time_pid: int) -> int | None:
    """The pid of the python process /usr/bin/time started (its only child)."""
    try:
        found = Path(f"/proc/{time_pid}/task/{time_pid}/children").read_text().split()
    except OSError:
        return None
    return int(found[0]) if found else None


@dataclass
class ChildResult:
    wall_s: float
    peak_rss_mb: float  # /usr/bin/time's maximum resident set size
    watched_peak_rss_mb: float  # the watchdog's highest sample
    exit_status: int
    stopped: str | None  # why the watchdog stopped it, if it did
    min_available_mb: float


def run_child(
    args: list[str],
    data_dir: Path,
    log_name: str,
    *,
    max_rss_mb: float,
    min_available_mb: float,
    timeout_s: float,
) -> ChildResult:
    """`python bench/cluster_scale.py ARGS` under /usr/bin/time -v, watched every second."""
    time_file = data_dir / f"{log_name}.time"
    log = (data_dir / f"{log_name}.log").open("w", encoding="utf-8")
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    if TIME_BIN.exists():
        command = [str(TIME_BIN), "-v", "-o", str(time_file), *command]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=_env(data_dir), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    watched, lowest, stopped = 0.0, float("inf"), None
    while process.poll() is None:
        pid = _python_child(process.pid) if TIME_BIN.exists() else process.pid
        rss = _rss_mb(pid) if pid else 0.0
        available = _available_mb()
        watched, lowest = max(watched, rss), min(lowest, available)
        elapsed = time.perf_counter() - started
        reason = None
        stop_file = data_dir / "STOP"  # a stop by hand, with its reason recorded
        if stop_file.exists():
            reason = "stopped by hand: " + (stop_file.read_text().strip() or "no reason given")
            stop_file.unlink()
        if rss > max_rss_mb:
            reason = f"RSS {rss:,.0f} MB passed {max_rss_mb:,.0f} MB"
        elif available < min_available_mb:
            reason = f"available memory {available:,.0f} MB fell under {min_available_mb:,.0f} MB"
        elif elapsed > timeout_s:
            reason = f"still running after {elapsed:,.0f} s (limit {timeout_s:,.0f} s)"
        if reason and pid:
            stopped = reason
            print(f"  stopping pid {pid}: {reason}", flush=True)
            os.kill(pid, 9)
            process.wait()
            break
        time.sleep(1.0)
    wall = time.perf_counter() - started
    log.close()
    peak = watched
    if time_file.exists():
        text = time_file.read_text()
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        if found:
            peak = int(found.group(1)) / 1024
    return ChildResult(wall, peak, watched, process.returncode, stopped, lowest)


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stage_seconds(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per segment of a child's life: up to the first stage (imports, loading), each
    progress stage from its first event to its last, and any gap between stages ("before
    saving": coarse levels, centrality), up to the child's last event."""
    stages = [e for e in events if e["event"] == "stage"]
    segments: dict[str, float] = {}
    if not stages:
        if events:
            segments["(no stage reached)"] = events[-1]["t"]
        return segments
    segments["start-up (imports, load)"] = stages[0]["t"]
    order: list[str] = []
    bounds: dict[str, list[float]] = {}
    for event in stages:
        name = str(event["stage"])
        if name not in bounds:
            order.append(name)
            bounds[name] = [event["t"], event["t"]]
        bounds[name][1] = event["t"]
    for index, name in enumerate(order):
        first, last = bounds[name]
        segments[name] = last - first
        following = bounds[order[index + 1]][0] if index + 1 < len(order) else events[-1]["t"]
        if following - last > 0.05:
            label = f"before {order[index + 1]}" if index + 1 < len(order) else f"after {name}"
            segments[label] = following - last
    return {name: round(seconds, 1) for name, seconds in segments.items()}


def span_totals(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per instrumented step: calls, total seconds, RSS and peak RSS so far (VmHWM) after
    it; the step running at the end
    (a stopped child) is marked with its elapsed time."""
    totals: dict[str, dict[str, float]] = {}
    open_spans: dict[str, float] = {}
    for event in events:
        if event["event"] == "span-start":
            open_spans[event["name"]] = event["t"]
        elif event["event"] == "span":
            entry = totals.setdefault(
                event["name"], {"calls": 0, "seconds": 0.0, "rss_mb": 0, "hwm_mb": 0}
            )
            entry["calls"] += 1
            entry["seconds"] = round(entry["seconds"] + event["seconds"], 3)
            entry["rss_mb"] = max(entry["rss_mb"], event["rss_mb"])
            entry["hwm_mb"] = max(entry["hwm_mb"], event["hwm_mb"])
            open_spans.pop(event["name"], None)
    end = events[-1]["t"] if events else 0.0
    for name, start in open_spans.items():
        totals[f"{name} (unfinished)"] = {"calls": 1, "seconds": round(end - start, 3)}
    return totals


def evaluate(data_dir: Path, design: Design) -> dict[str, Any]:
    """The latest run's topics against the planted ones (outliers are one more label on both
    sides), and what the run recorded."""
    from sklearn.metrics import adjusted_rand_score, v_measure_score
    from sqlalchemy import select

    from db.cluster_queries import latest_run, level_counts
    from db.models import Cluster, ClusterMember, Question
    from db.queries import get_corpus
    from db.session import open_database

    sessions = open_database(f"sqlite:///{data_dir / 'qclust.db'}")
    with sessions() as session:
        corpus = get_corpus(session, CORPUS)
        run = latest_run(session, corpus.id)
        if run is None:
            return {}
        members = session.execute(
            select(ClusterMember.question_id, ClusterMember.cluster_key).where(
                ClusterMember.run_id == run.id
            )
        ).all()
        text_of = dict(
            session.execute(
                select(Question.id, Question.text).where(Question.corpus_id == corpus.id)
            ).all()
        )
        parent_of = {
            int(key): parent
            for key, parent in session.execute(
                select(Cluster.key, Cluster.parent_key).where(
                    Cluster.run_id == run.id, Cluster.level == 0
                )
            )
        }
        counts = level_counts(session, run)
        params = dict(run.params)
        summary = {
            "run_seconds": run.seconds,
            "clusters": run.cluster_count,
            "noise_share": run.noise_share,
            "groups": run.group_count,
            "questions": run.question_count,
        }
    keys = np.array([int(key) for _, key in members], dtype=np.int64)
    truth = np.array([truth_of(text_of[int(qid)], design) for qid, _ in members], dtype=np.int64)
    parents = {key: parent for key, parent in parent_of.items() if parent is not None}
    coarse = np.array([parents.get(int(key), -1) for key in keys.tolist()], dtype=np.int64)
    return {
        **summary,
        "chosen_min_cluster_size": params.get("chosen_min_cluster_size"),
        "level_scores": params.get("level_scores"),
        "level_counts": counts,
        "v_measure": float(v_measure_score(truth[:, 0], keys)),
        "ari": float(adjusted_rand_score(truth[:, 0], keys)),
        "planted_noise_share": float(np.mean(truth[:, 0] < 0)),
        "v_measure_level1_vs_supers": (
            float(v_measure_score(truth[:, 1], coarse)) if len(counts) > 1 else None
        ),
    }


def _checkpoint(database: Path) -> None:
    """Fold SQLite's write-ahead log into the file, so that a copy of the file is complete."""
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def ingest(design: Design, data_dir: Path, limits: dict[str, float]) -> dict[str, Any]:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    path = data_dir / "questions.txt"
    started = time.perf_counter()
    write_corpus(design, path)
    written = time.perf_counter() - started
    print(f"  wrote {path} in {written:.1f} s; ingesting", flush=True)
    events_path = data_dir / "ingest_events.jsonl"
    result = run_child(
        ["--child-ingest", json.dumps(asdict(design)), str(path), str(events_path)],
        data_dir, "ingest", **limits,
    )  # fmt: skip
    events = read_events(events_path)
    finished = next((e for e in events if e["event"] == "finished"), {})
    if result.exit_status != 0 or not finished:
        raise RuntimeError(f"ingest failed ({result}); see {data_dir / 'ingest.log'}")
    _checkpoint(data_dir / "qclust.db")
    shutil.copy2(data_dir / "qclust.db", data_dir / "ingested.db")  # each run starts from it
    record = {
        "child": asdict(result),
        "write_file_s": round(written, 1),
        "ingest_report_s": round(float(finished["seconds"]), 1),
        "added": finished["added"],
        "index_kind": finished["index_kind"],
        "stages": stage_seconds(events),
    }
    (data_dir / "ingest.json").write_text(json.dumps(record, indent=2))
    return record


def cluster(
    data_dir: Path,
    tag: str,
    options: list[str],
    changes: dict[str, int],
    limits: dict[str, float],
) -> dict[str, Any]:
    for leftover in ("qclust.db-wal", "qclust.db-shm"):  # a stopped run's log: not for the copy
        (data_dir / leftover).unlink(missing_ok=True)
    shutil.copy2(data_dir / "ingested.db", data_dir / "qclust.db")  # the corpus's first run
    events_path = data_dir / f"cluster-{tag}_events.jsonl"
    events_path.unlink(missing_ok=True)
    result = run_child(
        [
            "--child-cluster", str(events_path), "--cli-options", json.dumps(options),
            "--what-if-json", json.dumps(changes),
        ],
        data_dir, f"cluster-{tag}", **limits,
    )  # fmt: skip
    events = read_events(events_path)
    return {
        "child": asdict(result),
        "stages": stage_seconds(events),
        "spans": span_totals(events),
        "last_event": events[-1] if events else None,
        "finished": any(e["event"] == "finished" for e in events),
    }


def _what_if(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if name not in WHAT_IFS or not value.isdigit():
        raise SystemExit(f"--what-if takes NAME=INT with NAME one of {', '.join(WHAT_IFS)}")
    return name, int(value)


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    design = Design.for_size(n, noise_share=args.noise_share, sigma=args.sigma)
    data_dir = OUT / str(n)
    limits = {
        "max_rss_mb": args.max_rss_gb * 1024,
        "min_available_mb": args.min_available_gb * 1024,
    }
    print(f"n={n:,}: {design}", flush=True)
    ingest_record = (
        json.loads((data_dir / "ingest.json").read_text())
        if not args.reingest and (data_dir / "ingest.json").exists()
        else ingest(design, data_dir, {**limits, "timeout_s": args.ingest_timeout_min * 60})
    )
    print(f"  ingest: {ingest_record['child']['wall_s']:.0f} s; clustering", flush=True)
    options = shlex.split(args.options)
    changes = dict(_what_if(change) for change in args.what_if or [])
    timeout = {"timeout_s": args.timeout_min * 60}
    clustered = cluster(data_dir, args.tag, options, changes, {**limits, **timeout})
    print(f"  cluster: {json.dumps(clustered['child'])}", flush=True)
    quality = evaluate(data_dir, design) if clustered["finished"] else {}
    result = {
        "n": n,
        "tag": args.tag,
        "command": " ".join(["qclust cluster --corpus scale -q", *options])
        + "".join(f" [what-if {name}={value}]" for name, value in changes.items()),
        "what_if": {name: f"{WHAT_IFS[name]}: {value}" for name, value in changes.items()},
        "design": asdict(design),
        "planted_pairs": design.planted_pairs(),
        "ingest": ingest_record,
        "cluster": clustered,
        "quality": quality,
    }
    (data_dir / f"result-{args.tag}.json").write_text(json.dumps(result, indent=2))
    return result


# -- the report ----------------------------------------------------------------------------


STAGES = ("start-up (imports, load)", "neighbours", "duplicates", "topics", "names", "map")


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _order(result: dict[str, Any]) -> tuple[int, bool, str]:
    return result["n"], result["tag"] != "default", result["tag"]


def report(results: list[dict[str, Any]], path: Path) -> None:
    header = [
        "n", "command", "ingest s", "cluster wall s", "peak RSS MB", *STAGES, "levels etc.",
        "saving", "topics found", "chosen size", "levels", "noise", "groups (planted pairs)",
        "V", "ARI",
    ]  # fmt: skip
    lines = [
        "# `qclust cluster` at scale (synthetic clustered corpus)",
        "",
        "Generated by `HF_HUB_OFFLINE=1 .venv/bin/python bench/cluster_scale.py --n N`; see the",
        "module docstring for the corpus. Ingest: the real `ingest_file` (synthetic encoder)."
        " Cluster: `qclust cluster --corpus scale -q` in a fresh child under /usr/bin/time -v.",
        "Stage seconds come from the pipeline's progress callback; 'levels etc.' is the gap",
        "between the map and saving (coarse levels, centrality). 2 cores, 24 GiB, no swap.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for result in sorted(results, key=_order):
        child, stages = result["cluster"]["child"], result["cluster"]["stages"]
        quality: dict[str, Any] = result["quality"] or {}
        topic_stage = next((v for k, v in stages.items() if k.startswith("topics")), None)
        counts = quality.get("level_counts") or []
        wall = _fmt(child["wall_s"]) + ("" if result["cluster"]["finished"] else " (stopped)")
        row = [
            _fmt(result["n"]),
            f"`{result['command']}`",
            _fmt(result["ingest"]["child"]["wall_s"]),
            wall,
            _fmt(child["peak_rss_mb"]),
            _fmt(stages.get(STAGES[0]), 1),
            _fmt(stages.get("neighbours"), 1),
            _fmt(stages.get("duplicates"), 1),
            _fmt(topic_stage, 1),
            _fmt(stages.get("names"), 1),
            _fmt(stages.get("map"), 1),
            _fmt(stages.get("before saving"), 1),
            _fmt(stages.get("saving"), 1),
            _fmt(quality.get("clusters")),
            _fmt(quality.get("chosen_min_cluster_size")),
            " / ".join(str(c) for c in counts) if counts else "-",
            (
                f"{quality['noise_share']:.1%} ({quality['planted_noise_share']:.0%} planted)"
                if "noise_share" in quality
                else "-"
            ),
            f"{_fmt(quality.get('groups'))} ({_fmt(result['planted_pairs'])})",
            _fmt(quality.get("v_measure"), 3),
            _fmt(quality.get("ari"), 3),
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Details per size", ""]
    for result in sorted(results, key=_order):
        design, clustered = result["design"], result["cluster"]
        quality = result["quality"] or {}
        lines += [
            f"### n = {result['n']:,}: `{result['command']}`",
            "",
            f"- corpus: {design['topics']:,} topics in {design['supers']} super-topics, "
            f"{design['noise']:,} noise points, sigma {design['sigma']}, "
            f"{result['planted_pairs']:,} planted near-duplicate pairs",
            f"- ingest: {result['ingest']['child']['wall_s']:,.0f} s wall "
            f"(writing the file: {result['ingest']['write_file_s']} s more), peak RSS "
            f"{result['ingest']['child']['peak_rss_mb']:,.0f} MB, index "
            f"{result['ingest']['index_kind']}; stages {result['ingest']['stages']}",
            f"- cluster child: {json.dumps(clustered['child'])}",
            f"- stages (s): {clustered['stages']}",
            f"- coherence by candidate size: {quality.get('level_scores')}",
            f"- clusters per level: {quality.get('level_counts')}; V-measure of level 1 "
            f"against the super-topics: {_fmt(quality.get('v_measure_level1_vs_supers'), 3)}",
            "",
            "| step (instrumented) | calls | seconds | RSS after, MB | peak RSS so far, MB |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {int(entry['calls'])} | {entry['seconds']:,.1f} | "
            f"{_fmt(entry.get('rss_mb'))} | {_fmt(entry.get('hwm_mb'))} |"
            for name, entry in clustered["spans"].items()
        ]
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def all_results() -> Iterator[dict[str, Any]]:
    for found in sorted(OUT.glob("*/result-*.json")):
        yield json.loads(found.read_text())


def refresh(path: Path) -> None:
    """Recompute each stored result's stage and step tables from its events file."""
    for found in sorted(OUT.glob("*/result-*.json")):
        result = json.loads(found.read_text())
        events = read_events(found.parent / f"cluster-{result['tag']}_events.jsonl")
        if events:
            result["cluster"]["stages"] = stage_seconds(events)
            result["cluster"]["spans"] = span_totals(events)
            found.write_text(json.dumps(result, indent=2))
    report(list(all_results()), path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="corpus size (repeatable)")
    parser.add_argument("--reingest", action="store_true", help="ingest again even if done")
    parser.add_argument("--noise-share", type=float, default=0.03)
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--max-rss-gb", type=float, default=16.0)
    parser.add_argument("--min-available-gb", type=float, default=1.5)
    parser.add_argument("--timeout-min", type=float, default=60.0, help="per clustering")
    parser.add_argument("--ingest-timeout-min", type=float, default=90.0)
    parser.add_argument("--report", type=Path, default=OUT / "cluster_scale.md")
    parser.add_argument("--child-ingest", nargs=3, metavar=("DESIGN", "PATH", "EVENTS"))
    parser.add_argument(
        "--options", default="", help="more `qclust cluster` options, e.g. '--min-cluster-size 100'"
    )
    parser.add_argument("--tag", default="default", help="names this run's files (result-TAG)")
    parser.add_argument("--refresh", action="store_true", help="only rewrite the report")
    parser.add_argument("--child-cluster", metavar="EVENTS")
    parser.add_argument(
        "--what-if",
        action="append",
        metavar="NAME=INT",
        help="a proposed fix, tried in the clustering child: "
        + "; ".join(f"{name}: {what}" for name, what in WHAT_IFS.items()),
    )
    parser.add_argument("--cli-options", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--what-if-json", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ingest:
        design, path, events = args.child_ingest
        child_ingest(design, path, events)
        return
    if args.child_cluster:
        child_cluster(
            args.child_cluster, json.loads(args.cli_options), json.loads(args.what_if_json)
        )
        return
    if args.refresh:
        refresh(args.report)
        return
    for n in args.n or [100_000]:
        result = run_size(n, args)
        report(list(all_results()), args.report)
        if not result["cluster"]["finished"]:
            print(f"n={n:,} did not finish; stopping here", flush=True)
            break
    print(f"report: {args.report}", flush=True)


if __name__ == "__main__":
    main()
