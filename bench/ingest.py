"""Ingest speed: `qclust ingest` against a bare `SentenceTransformer.encode`, in one run.

Both sides run in a fresh child process each (so peak memory is per side), on the same texts,
model and batch size. Two spans are timed: "work" starts after the libraries are imported and
includes the model load on both sides; "process" is the child's whole life, Python start-up and
imports included. The ratio of work spans (qclust sentences/s divided by bare sentences/s) says
what the database, hashing, vector writes and index cost on top of encoding; the goal is >= 0.9.
`--postgres URL` stores into a fresh schema of that PostgreSQL database, not a SQLite file.

    .venv/bin/python bench/ingest.py [--limit N] [--repeats R] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "stackoverflow_titles" / "stackoverflow_titles.tsv"
BATCH_SIZE = 64
POSTGRES: str | None = None


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle, delimiter="\t")]


def run_bare(path: Path) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer

    from indexer.encoder import packaged_default_model

    texts = _texts(path)
    started = time.perf_counter()
    model = SentenceTransformer(str(packaged_default_model()), device="cpu")
    model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    return {"rows": len(texts), "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def run_qclust(path: Path) -> dict[str, float]:
    import sentence_transformers  # noqa: F401  (imported before the clock, as on the bare side)

    from app.cli import app

    with tempfile.TemporaryDirectory() as data_dir, _database(data_dir) as url:
        os.environ.update(
            QCLUST_DATA_DIR=data_dir, QCLUST_DEVICE="cpu", QCLUST_BATCH_SIZE=str(BATCH_SIZE),
            QCLUST_DATABASE_URL=url,
        )  # fmt: skip
        started = time.perf_counter()
        app(["ingest", str(path), "--corpus", "so", "--text-column", "text", "-q"],
            standalone_mode=False)  # fmt: skip
        seconds = time.perf_counter() - started
    return {"rows": len(_texts(path)), "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


@contextmanager
def _database(data_dir: str) -> Iterator[str]:
    """A SQLite file in `data_dir`, or a fresh schema of $BENCH_POSTGRES, dropped afterwards."""
    server = os.environ.get("BENCH_POSTGRES")
    if not server:
        yield f"sqlite:///{data_dir}/qclust.db"
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{os.getpid()}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def child(mode: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            **({"BENCH_POSTGRES": POSTGRES} if POSTGRES else {}),
        },
    )
    measured = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    measured["process_seconds"] = time.perf_counter() - started
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="first N titles only (0 = all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--postgres", help="store into a fresh schema of this database URL")
    parser.add_argument("--child", choices=["bare", "qclust"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, default=DATA, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global POSTGRES
    POSTGRES = args.postgres
    if args.child:
        runner = run_bare if args.child == "bare" else run_qclust
        print(json.dumps(runner(args.file)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = DATA
        if args.limit:
            path = Path(tmp) / "titles.tsv"
            lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
            path.write_text("".join(lines[: args.limit + 1]), encoding="utf-8")
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "qclust": []}
        for _ in range(args.repeats):  # interleaved, so drift hits both sides alike
            for mode in runs:
                runs[mode].append(child(mode, path))
                last = runs[mode][-1]
                rate = last["rows"] / last["seconds"]
                print(f"{mode:>7}: {rate:8.1f} sentences/s, work {last['seconds']:.1f} s, "
                      f"process {last['process_seconds']:.1f} s, "
                      f"peak {last['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip

    best = {mode: min(r["seconds"] for r in results) for mode, results in runs.items()}
    whole = {mode: min(r["process_seconds"] for r in results) for mode, results in runs.items()}
    rows = runs["bare"][0]["rows"]
    ratio = best["bare"] / best["qclust"]
    where = "PostgreSQL" if POSTGRES else "SQLite"
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{rows:,} StackOverflow titles, batch {BATCH_SIZE}, best of {args.repeats}, "
          f"stored in {where}")  # fmt: skip
    print("| pipeline | sentences/s (work) | work s | process s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for mode, label in (("bare", "bare SentenceTransformer.encode"), ("qclust", "qclust ingest")):
        peak = max(r["peak_rss_mb"] for r in runs[mode])
        print(f"| {label} | {rows / best[mode]:.1f} | {best[mode]:.1f} | {whole[mode]:.1f} "
              f"| {peak:.0f} |")  # fmt: skip
    print(f"\nratio qclust / bare, work: {ratio:.3f} (goal >= 0.9); "
          f"whole process: {whole['bare'] / whole['qclust']:.3f}")  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
