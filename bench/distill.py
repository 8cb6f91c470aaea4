"""The distilled static model against its teacher: speed on CPU and quality kept.

In one run: distil all-MiniLM-L6-v2 (`qclust distill`, timed), then encode the 20,000
StackOverflow titles with teacher and student (sentences per second, best of `--repeats`, same
batch size, same process, warm), and score both on STS-B dev (Spearman of cosine) and the Quora
dev pairs (average precision of cosine), the way `qclust eval` does. Student dimensions 256,
plus Matryoshka truncations of the student to 128 and 64.

    .venv/bin/python bench/distill.py [--repeats R] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
TITLES = SHARED / "stackoverflow_titles" / "stackoverflow_titles.tsv"
STS = SHARED / "stsbenchmark" / "sts_dev.tsv"
QUORA = SHARED / "quora_pairs" / "quora_pairs_dev.tsv"


def _column(path: Path, *names: str) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [[row[name] for row in rows] for name in names]


def throughput(encoder: object, texts: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        encoder.encode(texts)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def quality(encoder: object) -> tuple[float, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score

    from indexer.evaluate import encode_pairs, similarities

    first, second, score = _column(STS, "sentence1", "sentence2", "score")
    a, b = encode_pairs(encoder, first, second)  # type: ignore[arg-type]
    sts = float(spearmanr([float(s) for s in score], similarities(a, b)["cosine"])[0])
    first, second, label = _column(QUORA, "question1", "question2", "is_duplicate")
    a, b = encode_pairs(encoder, first, second)  # type: ignore[arg-type]
    ap = float(average_precision_score([int(x) for x in label], similarities(a, b)["cosine"]))
    return sts, ap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N titles only (0 = all)")
    args = parser.parse_args()

    from indexer.distill import distill_static
    from indexer.encoder import Encoder, EncoderSpec

    (titles,) = _column(TITLES, "text")
    titles = titles[: args.limit or None]
    folder = Path(tempfile.mkdtemp(prefix="qclust-m2v-")) / "student"
    try:
        started = time.perf_counter()
        distill_static("all-MiniLM-L6-v2", folder, device="cpu")
        distill_seconds = time.perf_counter() - started
        teacher = Encoder.for_new_corpus("all-MiniLM-L6-v2", device="cpu")
        students = {
            dims: Encoder(EncoderSpec(model=str(folder), truncate_dim=dims), device="cpu")
            for dims in (None, 128, 64)
        }
        teacher.encode(titles[:256])  # warm-up, outside the clock
        teacher_speed = throughput(teacher, titles, args.repeats)
        teacher_sts, teacher_ap = quality(teacher)
        print(f"distillation: {distill_seconds:.1f} s")
        print(f"{len(titles):,} StackOverflow titles, best of {args.repeats}, 2 CPU cores\n")
        print("| model | dims | sentences/s | speed vs teacher | STS-B dev Spearman | "
              "% of teacher | Quora AP | % of teacher |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        print(f"| all-MiniLM-L6-v2 (teacher) | 384 | {teacher_speed:,.0f} | 1.0x | "
              f"{teacher_sts:.4f} | 100% | {teacher_ap:.4f} | 100% |")  # fmt: skip
        for dims, student in students.items():
            student.encode(titles[:256])
            speed = throughput(student, titles, args.repeats)
            sts, ap = quality(student)
            print(f"| static student | {dims or 256} | {speed:,.0f} | "
                  f"{speed / teacher_speed:.0f}x | {sts:.4f} | {sts / teacher_sts:.1%} | "
                  f"{ap:.4f} | {ap / teacher_ap:.1%} |")  # fmt: skip
        print(f"\n(teacher encoded with batch size {teacher.batch_size}; np {np.__version__})")
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
