"""Rebuilding the index of N stored vectors from the database, against reading them from a
local `.npy` file, in one run.

N synthetic unit vectors (384-d float32, seeded) are written once into a corpus of a SQLite
file and of a fresh PostgreSQL schema, and into an `.npy` file. Then, each in a fresh child
process (so peak memory is per side): the baseline loads the `.npy` and builds the index; the
qclust side opens the corpus with no cache file, which reads every vector from the database and
builds the same index (`indexer.corpus_index.open_index`, cache write included). Reported:
seconds, peak RSS, and the ratio to the baseline.

    .venv/bin/python bench/index_rebuild.py [--rows 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "rebuild"
DIMENSION = 384
WRITE_CHUNK = 20_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(rows: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((rows, DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def populate(url: str, rows: int, vectors: np.ndarray) -> None:
    """A corpus of `rows` questions whose vectors are `vectors`, written as ingest writes them."""
    from sqlalchemy import insert

    from db.models import Corpus, Encoder, Question
    from db.session import open_database
    from db.vectors import write_vectors

    sessions = open_database(url)
    with sessions.begin() as session:
        encoder = Encoder(model="synthetic", dimension=DIMENSION)
        session.add(encoder)
        session.flush()
        corpus = Corpus(name="bench", encoder_id=encoder.id)
        session.add(corpus)
        session.flush()
        corpus_id, encoder_id = corpus.id, encoder.id
    for start in range(0, rows, WRITE_CHUNK):
        stop = min(start + WRITE_CHUNK, rows)
        with sessions.begin() as session:
            found = session.scalars(
                insert(Question).returning(Question.id, sort_by_parameter_order=True),
                [{"corpus_id": corpus_id, "text": f"q{i}", "text_hash": f"{i:064x}"}
                 for i in range(start, stop)],
            ).all()  # fmt: skip
            ids = np.asarray(found, dtype=np.int64)
            write_vectors(session, corpus_id, encoder_id, ids, vectors[start:stop], "float32")
        print(f"  wrote {stop:,} / {rows:,}", end="\r", flush=True)
    print()
    sessions.kw["bind"].dispose()


def child_npy(path: Path) -> dict[str, float]:
    from indexer.index import build_index, choose_factory

    started = time.perf_counter()
    vectors = np.load(path)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    index = build_index(vectors, ids, choose_factory(len(vectors), exact_max=len(vectors)))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "ntotal": int(index.ntotal)}


def child_database(url: str, data_dir: Path) -> dict[str, float]:
    from db.session import open_database
    from db.settings import Settings
    from indexer.corpus_index import locate_corpus, open_index

    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, database_url=url, device="cpu")
    sessions = open_database(url)
    started = time.perf_counter()
    location = locate_corpus(sessions, settings, "bench")
    index = open_index(sessions, location, exact_max=location.vector_count)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "ntotal": int(index.ntotal)}


def run_child(*args: str) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    measured = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    measured["process_seconds"] = time.perf_counter() - started
    return measured


def _postgres_schema(server: str, rows: int) -> str:
    from sqlalchemy import create_engine, text

    schema = f"bench_rebuild_{rows}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{server}?options=-csearch_path%3D{schema}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        found = (
            child_npy(Path(rest[0])) if kind == "npy" else child_database(rest[0], Path(rest[1]))
        )
        print(json.dumps(found))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    vectors = synthetic(args.rows)
    npy = OUT / f"vectors-{args.rows}.npy"
    np.save(npy, vectors)
    targets = {
        "SQLite": f"sqlite:///{OUT / f'rebuild-{args.rows}.db'}",
        "PostgreSQL": _postgres_schema(args.postgres, args.rows),
    }
    (OUT / f"rebuild-{args.rows}.db").unlink(missing_ok=True)
    for name, url in targets.items():
        started = time.perf_counter()
        populate(url, args.rows, vectors)
        print(f"{name}: wrote {args.rows:,} vectors in {time.perf_counter() - started:.0f} s")
    del vectors

    baseline = run_child("npy", str(npy))
    print(f"\n{args.rows:,} stored vectors, 384-d float32, exact index (IDMap2,Flat)")
    print("| source | seconds | peak RSS (MB) | ratio to .npy |")
    print("|---|---|---|---|")
    print(f"| local .npy file (baseline) | {baseline['seconds']:.1f} | "
          f"{baseline['peak_rss_mb']:.0f} | 1.00 |")  # fmt: skip
    for name, url in targets.items():
        found = run_child("db", url, str(OUT / f"data-{name}"))
        assert found["ntotal"] == args.rows
        print(f"| {name} | {found['seconds']:.1f} | {found['peak_rss_mb']:.0f} | "
              f"{found['seconds'] / baseline['seconds']:.2f} |")  # fmt: skip
    os.remove(npy)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
