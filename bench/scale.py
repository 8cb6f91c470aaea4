"""qclust end to end on a corpus of N real-looking questions (issue 14, "on one machine"):
ingest, database size, search, index memory, clustering and the Clusters and Map pages.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/scale.py --n 100000 [--n 1000000]
        [--steps corpus,ingest,search,cluster,pages] [--cluster-timeout-min 45]

For each N, in the fresh data folder bench/out/scale14/<N>/ (SQLite, the default database),
every step is a child process under `/usr/bin/time -v` (peak RSS: its maximum resident set
size), watched every second by cluster_scale's watchdog rules (stopped past --max-rss-gb, under
--min-available-gb of free memory, or past its timeout):

- corpus: `bench/make_corpus.py --n N` (kept in bench/out/scale14/corpus-<N>.csv and reused);
  the sample is its first --sample rows (the file's order is a seeded shuffle);
- model: `qclust distill bench/out/static-minilm-256` (the default model's static student,
  256-d), made once and reused;
- ingest: `qclust ingest` of the sample with the default model into its own data folder
  (<N>/sample/), then of all N rows with the static model (corpus "scale"); the rate is rows
  per second of the ingest's own reported time (encoding, database, index), and of the wall;
- database: qclust.db's size after a WAL checkpoint;
- search: a child (`scale.py --child-search`) opens the service as `qclust search` and the HTTP
  route do (`Service.search`, the model loaded once) and times 1,000 queries (corpus rows drawn
  with a fixed seed, then varied by make_corpus's own `make_variant`), one call each: the whole
  call, the encoding alone and the index search alone; then the same with the searcher's index
  swapped for an exact `IDMap2,Flat` over the same vectors (the baseline), a plain
  `IndexFlatIP` search, and recall@10 of the product's index against the exact top 10. Where
  the product keeps an exact index at this N (exact_index_max), a second child measures the
  IVF index the product builds with QCLUST_EXACT_INDEX_MAX below N (index cache in <N>/ivf/).
  Index memory: the cache file's bytes per vector, and the RSS growth when the index opens;
- cluster: `qclust cluster --corpus scale -q` with --cluster-timeout-min (a timeout is
  reported as such);
- pages: a child (`scale.py --child-pages`) runs the app through Streamlit's AppTest, as
  tests/app does, and times `run()` of each page, a first and a second (cached) open each,
  with any exception or error element recorded: Clusters first, Map first, and Labelling
  first (then Search, Duplicates, Corpora), each order in its own fresh process.

Results: bench/out/scale14/result-<N>.json, and bench/out/scale14/scale14.md (one table per N,
each figure with its command; ratios are against the baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cluster_scale as peer  # the watchdog's helpers (bench/cluster_scale.py)
import make_corpus

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "scale14"
STATIC = ROOT / "bench" / "out" / "static-minilm-256"
QCLUST = Path(sys.executable).parent / "qclust"
CORPUS, SAMPLE = "scale", "sample"
STEPS = ("corpus", "ingest", "search", "cluster", "pages")
SEED = 14


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **peer._env(data_dir),
        "QCLUST_NGPU": "0",
        "QCLUST_CONFIG": str(data_dir / "no-such-qclust.toml"),
        **extra,
    }


def run_step(
    name: str, argv: list[str], data_dir: Path, args: argparse.Namespace, *,
    timeout_s: float, env: dict[str, str] | None = None, logs: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """ARGV under /usr/bin/time -v, watched; wall, peak RSS, exit status, output."""
    logs = logs or data_dir
    logs.mkdir(parents=True, exist_ok=True)
    time_file, log_path = logs / f"{name}.time", logs / f"{name}.log"
    command = [str(peer.TIME_BIN), "-v", "-o", str(time_file), *argv]
    print(f"  {name}: {shlex.join(argv)}", flush=True)
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command, env=env or _env(data_dir), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        watched, stopped = 0.0, None
        while process.poll() is None:
            pid = peer._python_child(process.pid)
            rss = peer._rss_mb(pid) if pid else 0.0
            watched, elapsed = max(watched, rss), time.perf_counter() - started
            if rss > args.max_rss_gb * 1024:
                stopped = f"RSS {rss:,.0f} MB passed {args.max_rss_gb} GiB"
            elif peer._available_mb() < args.min_available_gb * 1024:
                stopped = f"available memory fell under {args.min_available_gb} GiB"
            elif elapsed > timeout_s:
                stopped = f"timed out after {elapsed:,.0f} s (limit {timeout_s:,.0f} s)"
            if stopped and pid:
                print(f"  stopping {name} (pid {pid}): {stopped}", flush=True)
                os.kill(pid, 9)
                process.wait()
                break
            time.sleep(0.5)
    wall = time.perf_counter() - started
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())
    output = log_path.read_text(errors="replace")
    result = {
        "command": shlex.join(argv),
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(int(found.group(1)) / 1024) if found else round(watched),
        "exit_status": process.returncode,
        "stopped": stopped,
        "log": str(log_path.relative_to(ROOT)),
        "output_tail": output[-1500:],
    }
    status = "ok" if process.returncode == 0 else f"FAILED ({process.returncode})"
    print(f"  {name}: {status}, {wall:,.1f} s, peak {result['peak_rss_mb']:,} MB", flush=True)
    return result


# -- steps run by the parent ------------------------------------------------------------------


def make_files(n: int, args: argparse.Namespace) -> dict[str, Any]:
    corpus, stats = OUT / f"corpus-{n}.csv", OUT / f"corpus-{n}.json"
    step: dict[str, Any] = {"reused": True}
    if not (corpus.exists() and stats.exists()):
        argv = [sys.executable, "bench/make_corpus.py", "--n", str(n), "--out", str(corpus),
                "--stats", str(stats)]  # fmt: skip
        step = run_step(f"corpus-{n}", argv, OUT, args, timeout_s=1800)
    sample = OUT / f"sample-{n}-{args.sample}.csv"
    with corpus.open(encoding="utf-8", newline="") as source:
        rows = [row for _, row in zip(range(args.sample + 1), csv.reader(source), strict=False)]
    with sample.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    if not STATIC.exists():
        distilled = run_step("distill", [str(QCLUST), "distill", str(STATIC)], OUT, args,
                             timeout_s=3600)  # fmt: skip
        (OUT / "distill.json").write_text(json.dumps(distilled, indent=2))
    return {"step": step, "stats": json.loads(stats.read_text()), "file": str(corpus),
            "sample": str(sample)}  # fmt: skip


def ingest_argv(path: str, corpus: str, model: Path | None) -> list[str]:
    argv = [str(QCLUST), "ingest", path, "--corpus", corpus, "--text-column", "question",
            "--id-column", "id", "-q"]  # fmt: skip
    return argv + (["--model", str(model)] if model else [])


def _reported_seconds(output: str) -> float | None:
    found = re.search(r"holds [\d,]+ vectors? \(([\d.]+) s\)", output)
    return float(found.group(1)) if found else None


def ingest(n: int, files: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    data_dir = OUT / str(n)
    shutil.rmtree(data_dir, ignore_errors=True)
    (data_dir / "sample").mkdir(parents=True)
    found: dict[str, Any] = {}
    for name, path, corpus, model, folder, rows in (
        ("ingest-default", files["sample"], SAMPLE, None, data_dir / "sample", args.sample),
        ("ingest-static", files["file"], CORPUS, STATIC, data_dir, n),
    ):
        step = run_step(name, ingest_argv(path, corpus, model), folder, args,
                        timeout_s=args.ingest_timeout_min * 60, logs=data_dir)  # fmt: skip
        seconds = _reported_seconds(step["output_tail"])
        step["rows"] = rows
        step["reported_s"] = seconds
        step["rate_reported"] = round(rows / seconds, 1) if seconds else None
        step["rate_wall"] = round(rows / step["wall_s"], 1)
        found[name] = step
    database = data_dir / "qclust.db"
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    found["database_bytes"] = database.stat().st_size
    return found


def search(n: int, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = OUT / str(n)
    found: dict[str, Any] = {}
    argv = [sys.executable, "bench/scale.py", "--child-search", str(data_dir / "search.json"),
            "--corpus-file", str(OUT / f"corpus-{n}.csv"),
            "--queries", str(args.queries)]  # fmt: skip
    step = run_step("search", argv, data_dir, args, timeout_s=3600)
    step["figures"] = _read_json(data_dir / "search.json")
    found["product"] = step
    figures = step["figures"] or {}
    if figures.get("index_kind", "").startswith("IDMap"):
        ivf_dir = data_dir / "ivf"
        env = _env(ivf_dir, QCLUST_EXACT_INDEX_MAX=str(n // 2),
                   QCLUST_DATABASE_URL=f"sqlite:///{data_dir / 'qclust.db'}")  # fmt: skip
        argv[3] = str(data_dir / "search-ivf.json")
        step = run_step("search-ivf", argv, ivf_dir, args, timeout_s=3600, env=env,
                        logs=data_dir)  # fmt: skip
        step["env"] = f"QCLUST_EXACT_INDEX_MAX={n // 2} QCLUST_DATA_DIR={ivf_dir}"
        step["figures"] = _read_json(data_dir / "search-ivf.json")
        found["ivf"] = step
    cli = [str(QCLUST), "search", "how do I reset my password", "--corpus", CORPUS, "--json"]
    found["cli"] = run_step("search-cli", cli, data_dir, args, timeout_s=1800)
    return found


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def cluster(n: int, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = OUT / str(n)
    argv = [str(QCLUST), "cluster", "--corpus", CORPUS, "-q"]
    step = run_step("cluster", argv, data_dir, args, timeout_s=args.cluster_timeout_min * 60)
    step["finished"] = step["exit_status"] == 0 and step["stopped"] is None
    if step["finished"]:
        step["quality"] = topic_quality(data_dir / "qclust.db", OUT / f"corpus-{n}.csv")
    return step


def topic_quality(database: Path, corpus_file: Path) -> dict[str, Any]:
    """The latest run's topics against the corpus's labels: V-measure over the rows of each
    labelled source (banking77 and clinc150 intents, stackoverflow tags; outliers count as one
    cluster, as in bench/cluster.py), topics and outlier share."""
    from sklearn.metrics import v_measure_score

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        (run_id,) = connection.execute(
            "SELECT r.id FROM cluster_run r JOIN corpus c ON c.id = r.corpus_id "
            "WHERE c.name = ? AND lower(r.status) = 'done' ORDER BY r.id DESC LIMIT 1",
            (CORPUS,),
        ).fetchone()
        key_of = dict(
            connection.execute(
                "SELECT q.external_id, m.cluster_key FROM cluster_member m "
                "JOIN question q ON q.id = m.question_id WHERE m.run_id = ?",
                (run_id,),
            )
        )
    by_source: dict[str, tuple[list[str], list[int]]] = {}
    with corpus_file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["source"] in ("banking77", "clinc150", "stackoverflow"):
                truth, found = by_source.setdefault(row["source"], ([], []))
                truth.append(row["label"])
                found.append(key_of[row["id"]])
    truth = [f"{source}:{label}" for source, (labels, _) in by_source.items() for label in labels]
    by_source["all three"] = (truth, [key for _, found in by_source.values() for key in found])
    keys = list(key_of.values())
    return {
        "run_id": run_id,
        "topics": len(set(keys) - {-1}),
        "outlier_share": round(sum(k < 0 for k in keys) / len(keys), 4),
        "v_measure": {
            source: {
                "rows": len(truth),
                "v": round(float(v_measure_score(truth, found)), 3),
                "labels": len(set(truth)),
            }
            for source, (truth, found) in sorted(by_source.items())
        },
    }


def pages(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Fresh children: Clusters opened first, Map first, then Labelling, Search, Duplicates and
    Corpora (a first open pays imports and the corpus's searcher)."""
    data_dir = OUT / str(n)
    env = _env(data_dir, QCLUST_DEFAULT_CORPUS=CORPUS)
    found: dict[str, Any] = {}
    for order in ("clusters,map", "map,clusters", "labelling,search,duplicates,corpora"):
        first = order.split(",")[0]
        out = data_dir / f"pages-{first}-first.json"
        argv = [sys.executable, "bench/scale.py", "--child-pages", str(out), "--order", order]
        step = run_step(f"pages-{first}-first", argv, data_dir, args, timeout_s=1800, env=env)
        step["figures"] = _read_json(out)
        found[first] = step
    return found


# -- children ---------------------------------------------------------------------------------


def _rss_now_mb() -> float:
    return peer._status_mb("VmRSS")


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "mean_ms": round(float(np.mean(values)), 2),
    }


def queries_of(corpus_file: Path, count: int) -> list[str]:
    """`count` corpus rows drawn with a fixed seed, each varied as make_corpus varies bases."""
    with corpus_file.open(encoding="utf-8", newline="") as handle:
        texts = [row["question"] for row in csv.DictReader(handle)]
    rng = random.Random(SEED)
    return [make_corpus.make_variant(texts[i], rng) for i in rng.sample(range(len(texts)), count)]


def _timed(call: Any, items: list[Any]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for item in items:
        started = time.perf_counter()
        results.append(call(item))
        times.append((time.perf_counter() - started) * 1000)
    return times, results


def child_search(out: Path, corpus_file: Path, count: int) -> None:
    import faiss
    import numpy as np

    from app.service import Service
    from db.settings import get_settings
    from indexer.corpus_index import load_vectors, locate_corpus
    from indexer.index import EXACT_FACTORY, index_kind
    from indexer.index import search as index_search

    queries = queries_of(corpus_file, count)
    settings = get_settings()
    service = Service(settings)
    location = locate_corpus(service.sessions, settings, CORPUS)
    service.searchers.encoder(location.spec)  # the model first, so the RSS growth is the index's
    before = _rss_now_mb()
    started = time.perf_counter()
    searcher = service.state(CORPUS).searcher
    open_s, grown = time.perf_counter() - started, _rss_now_mb() - before
    service.search(CORPUS, "warm up", 10)
    figures: dict[str, Any] = {
        "queries": len(queries), "ntotal": searcher.size, "index_kind": index_kind(searcher.index),
        "nprobe": _nprobe(searcher.index), "open_s": round(open_s, 2),
        "rss_growth_mb": round(grown, 1),
        "rss_growth_bytes_per_vector": round(grown * 2**20 / max(searcher.size, 1), 1),
    }  # fmt: skip
    cache = location.cache_folder / "index.qcache"
    if cache.exists():
        figures["cache_file_bytes"] = cache.stat().st_size
        figures["cache_bytes_per_vector"] = round(cache.stat().st_size / searcher.size, 1)
    figures["service"] = percentiles(_timed(lambda q: service.search(CORPUS, q, 10), queries)[0])
    ids, matrix = load_vectors(service.sessions, location)
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    # One loop, each query encoded then searched in both indexes: the same conditions for
    # both (faiss right after torch pays for torch's spinning threads on a small machine).
    encode_ms, index_ms, flat_ms, overlap = [], [], [], []
    for query in queries:
        started = time.perf_counter()
        vector = searcher.encoder.encode([query])
        encoded = time.perf_counter()
        hits = index_search(searcher.index, vector, 10)[1][0]
        searched = time.perf_counter()
        exact = ids[flat.search(vector, 10)[1][0]]
        done = time.perf_counter()
        encode_ms.append((encoded - started) * 1000)
        index_ms.append((searched - encoded) * 1000)
        flat_ms.append((done - searched) * 1000)
        overlap.append(len(set(hits.tolist()) & set(exact.tolist())) / 10)
    figures["encode"] = percentiles(encode_ms)
    figures["index_only"] = percentiles(index_ms)
    figures["exact_flat_index_only"] = percentiles(flat_ms)
    figures["recall_at_10"] = round(float(np.mean(overlap)), 4)
    vectors = searcher.encoder.encode(queries)  # alone, with no encoding between searches
    figures["index_only_batch_loop"] = percentiles(
        _timed(lambda v: index_search(searcher.index, v[None, :], 10), list(vectors))[0]
    )
    figures["exact_flat_batch_loop"] = percentiles(
        _timed(lambda v: flat.search(v[None, :], 10), list(vectors))[0]
    )
    exact_index = faiss.index_factory(matrix.shape[1], EXACT_FACTORY, faiss.METRIC_INNER_PRODUCT)
    exact_index.add_with_ids(matrix, ids)
    del matrix  # the indexes hold their own copies
    searcher.index = exact_index  # the product's own path, over the exact baseline index
    figures["service_exact"] = percentiles(
        _timed(lambda q: service.search(CORPUS, q, 10), queries)[0]
    )
    figures["peak_rss_mb"] = round(peer._status_mb("VmHWM"))
    out.write_text(json.dumps(figures, indent=2))


def _nprobe(index: Any) -> int | None:
    import faiss

    try:
        return int(faiss.extract_index_ivf(index).nprobe)
    except RuntimeError:
        return None


def child_pages(out: Path, order: list[str]) -> None:
    from streamlit.testing.v1 import AppTest

    entry = ROOT / "app" / "streamlit_app.py"
    figures: dict[str, Any] = {"order": order}
    started = time.perf_counter()
    at = AppTest.from_file(str(entry), default_timeout=1200).run()
    figures["home_s"] = round(time.perf_counter() - started, 2)
    for label in ("first", "second"):
        for page in order:
            started = time.perf_counter()
            at.switch_page(f"pages/{page}.py").run()
            key = f"{page}_{label}"
            figures[f"{key}_s"] = round(time.perf_counter() - started, 2)
            problems = [str(e.value)[:300] for e in [*at.exception, *at.error]]
            figures[f"{key}_problems"] = problems
            figures[f"{key}_title"] = at.title[0].value if at.title else None
            figures[f"{key}_notes"] = [str(e.value)[:200] for e in [*at.info, *at.warning]]
    figures["peak_rss_mb"] = round(peer._status_mb("VmHWM"))
    out.write_text(json.dumps(figures, indent=2))


# -- the report -------------------------------------------------------------------------------


def _ms(figure: dict[str, Any] | None, which: str) -> str:
    return f"{figure[which]:,.1f}" if figure else "-"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def table(result: dict[str, Any]) -> list[str]:
    n, rows = result["n"], []
    env = f"QCLUST_DATA_DIR=bench/out/scale14/{n}"

    def add(figure: str, value: Any, baseline: str = "", ratio: str = "", cmd: str = "") -> None:
        rows.append(f"| {figure} | {value} | {baseline} | {ratio} | `{cmd}` |")

    files = result.get("files") or {}
    if files:
        stats = files["stats"]
        add("corpus rows (bases used / all bases)", f"{stats['n']:,} ({stats['bases used']:,} / "
            f"{stats['all bases']:,}), {stats['seconds']} s", cmd=files["step"].get(
            "command", f"make_corpus.py --n {n} (reused)"))  # fmt: skip
    distilled = _read_json(OUT / "distill.json")
    if distilled:
        add("static model distilled once (256-d, from the default model)",
            f"{distilled['wall_s']:,.0f} s; peak {distilled['peak_rss_mb']:,} MB",
            cmd=distilled["command"])  # fmt: skip
    ingest = result.get("ingest") or {}
    if ingest:
        default, static = ingest["ingest-default"], ingest["ingest-static"]
        add(
            f"ingest, default model, {default['rows']:,}-row sample: q/s (reported; wall)",
            f"{default['rate_reported']} ({default['rate_wall']}); "
            f"peak {default['peak_rss_mb']:,} MB",
            cmd=default["command"],
        )
        add(
            f"ingest, static model, all {n:,}: q/s (reported; wall)",
            f"{static['rate_reported']} ({static['rate_wall']}); {static['wall_s']:,.0f} s; "
            f"peak {static['peak_rss_mb']:,} MB",
            f"default {default['rate_reported']} q/s",
            _ratio(static["rate_reported"], default["rate_reported"]),
            static["command"],
        )
        size = ingest["database_bytes"]
        add("database size after ingest (WAL checkpointed)",
            f"{size / 2**20:,.0f} MiB ({size / n:,.0f} B/question)", cmd=env)  # fmt: skip
    for key, label in (("product", "product index"), ("ivf", "product IVF (exact_index_max < N)")):
        step = (result.get("search") or {}).get(key)
        fig = (step or {}).get("figures")
        if not fig:
            if step:
                add(f"search, {label}", f"FAILED ({step['exit_status']})", cmd=step["command"])
            continue
        cmd = (step.get("env", env) + " " + step["command"]).strip()
        kind = f"{fig['index_kind']}" + (f", nprobe {fig['nprobe']}" if fig["nprobe"] else "")
        s, e = fig["service"], fig["service_exact"]
        add(f"search p50 / p95 ms, service, {kind}", f"{s['p50_ms']} / {s['p95_ms']}",
            f"exact IDMap2,Flat: {e['p50_ms']} / {e['p95_ms']}",
            _ratio(s["p95_ms"], e["p95_ms"]) + " (p95)", cmd)  # fmt: skip
        i, f = fig["index_only"], fig["exact_flat_index_only"]
        add(f"index search alone, each right after its encoding, p50 / p95 ms, {kind}",
            f"{i['p50_ms']} / {i['p95_ms']}",
            f"IndexFlatIP: {f['p50_ms']} / {f['p95_ms']}",
            _ratio(i["p95_ms"], f["p95_ms"]) + " (p95)", cmd)  # fmt: skip
        i, f = fig["index_only_batch_loop"], fig["exact_flat_batch_loop"]
        add(f"index search alone, no encoding between, p50 / p95 ms, {kind}",
            f"{i['p50_ms']} / {i['p95_ms']}", f"IndexFlatIP: {f['p50_ms']} / {f['p95_ms']}",
            _ratio(i["p95_ms"], f["p95_ms"]) + " (p95)", cmd)  # fmt: skip
        add(f"query encoding alone p50 / p95 ms ({label})",
            f"{fig['encode']['p50_ms']} / {fig['encode']['p95_ms']}", cmd=cmd)  # fmt: skip
        add(f"recall@10 vs exact, {fig['queries']:,} queries, {kind}", fig["recall_at_10"],
            "IndexFlatIP", "", cmd)  # fmt: skip
        add(f"index memory per vector, {kind}: cache file; RSS growth",
            f"{fig.get('cache_bytes_per_vector', '-')} B; {fig['rss_growth_bytes_per_vector']} B "
            f"(open {fig['open_s']} s; peak {step['peak_rss_mb']:,} MB)", cmd=cmd)  # fmt: skip
    cli = (result.get("search") or {}).get("cli")
    if cli:
        add("`qclust search` one call, cold process (wall)", f"{cli['wall_s']} s; peak "
            f"{cli['peak_rss_mb']:,} MB", cmd=f"{env} {cli['command']}")  # fmt: skip
    clustered = result.get("cluster")
    if clustered:
        failed = f"failed ({clustered['exit_status']})"
        state = "finished" if clustered["finished"] else clustered["stopped"] or failed
        add("clustering wall; peak RSS", f"{clustered['wall_s'] / 60:,.1f} min; "
            f"{clustered['peak_rss_mb'] / 1024:,.2f} GiB ({state})",
            "goal at 1M: 30 min, 16 GiB", cmd=f"{env} {clustered['command']}")  # fmt: skip
        quality = clustered.get("quality")
        if quality:
            per_source = ", ".join(
                f"{source} {q['v']} ({q['rows']:,} rows, {q['labels']} labels)"
                for source, q in quality["v_measure"].items()
            )
            add("topics; outliers; V-measure by source against its labels",
                f"{quality['topics']}; {quality['outlier_share']:.1%}; {per_source}",
                cmd="bench/scale.py topic_quality (after the cluster step)")  # fmt: skip
    for first, shown in (result.get("pages") or {}).items():
        fig, cmd = shown.get("figures"), f"{env} {shown['command']}"
        if not fig:
            add(f"pages, {first} first", f"FAILED ({shown['exit_status']})", cmd=cmd)
            continue
        for page in fig["order"]:
            problems = fig[f"{page}_first_problems"] + fig[f"{page}_second_problems"]
            where = "opened first" if page == first else f"after {first}"
            add(f"{page.title()} page ({where}), run() s: first / second (cached)",
                f"{fig[f'{page}_first_s']} / {fig[f'{page}_second_s']}"
                + (f"; PROBLEMS: {problems}" if problems else "; no exception"),
                "goal at 1M: 2 s", cmd=cmd)  # fmt: skip
    return [f"### n = {n:,}", "", "| figure | value | baseline (same run) | ratio | command |",
            "|---|---|---|---|---|", *rows, ""]  # fmt: skip


def report() -> Path:
    lines = ["# bench/scale.py (issue 14)", "", f"{os.cpu_count()} cores; see the module "
             "docstring for what each figure is.", ""]  # fmt: skip
    results = [json.loads(p.read_text()) for p in sorted(OUT.glob("result-*.json"))]
    for result in sorted(results, key=lambda r: r["n"]):
        lines += table(result)
    path = OUT / "scale14.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_size(n: int, args: argparse.Namespace) -> None:
    path = OUT / f"result-{n}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"n": n}
    wanted = set(args.steps.split(","))
    if "ingest" in wanted:  # a fresh data folder: what was measured on the old one goes
        result = {"n": n}
    print(f"n={n:,}: {sorted(wanted)}", flush=True)
    result["files"] = make_files(n, args)
    for name, step in (("ingest", ingest), ("search", search), ("cluster", cluster),
                       ("pages", pages)):  # fmt: skip
        if name in wanted:
            result[name] = step(n, args) if name != "ingest" else ingest(n, result["files"], args)
            path.write_text(json.dumps(result, indent=2))
    print("\n".join(table(result)), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="corpus size (repeatable)")
    parser.add_argument(
        "--steps", default=",".join(STEPS), help="comma-separated: " + ",".join(STEPS)
    )
    parser.add_argument(
        "--sample", type=int, default=5000, help="rows ingested with the default model"
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cluster-timeout-min", type=float, default=45.0)
    parser.add_argument("--ingest-timeout-min", type=float, default=120.0)
    parser.add_argument("--max-rss-gb", type=float, default=20.0)
    parser.add_argument("--min-available-gb", type=float, default=1.5)
    parser.add_argument("--child-search", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-pages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--order", default="clusters,map", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_search:
        child_search(args.child_search, args.corpus_file, args.queries)
        return
    if args.child_pages:
        child_pages(args.child_pages, args.order.split(","))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for n in args.n or [100_000]:
        run_size(n, args)
    print(f"report: {report()}", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
