"""Fine-tuning the default model on Quora duplicate pairs: held-out AP and F1 before and after.

`quora_pairs_dev.tsv` is split by question (`indexer.finetune.split_by_question`: questions
joined through pairs stay on one side), 80% of question groups to train, the rest held out;
one epoch of OnlineContrastiveLoss, batch 32, on this machine's CPU; the held-out pairs are
scored with the base model and the trained one (cosine: AP, best F1, precision, recall).

    .venv/bin/python bench/finetune.py [--epochs 1] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUORA = ROOT.parent / "shared" / "data" / "quora_pairs" / "quora_pairs_dev.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="first N pairs only (0 = all)")
    args = parser.parse_args()

    from indexer.encoder import EncoderSpec
    from indexer.finetune import Pair, finetune

    with QUORA.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    pairs = [Pair(r["question1"], r["question2"], int(r["is_duplicate"])) for r in rows]
    pairs = pairs[: args.limit or None]
    folder = Path(tempfile.mkdtemp(prefix="qclust-ft-")) / "model"
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30:
            print(f"  step {done} of {total}", flush=True)
            last[0] = time.perf_counter()

    try:
        report = finetune(
            EncoderSpec(model="all-MiniLM-L6-v2"), pairs, folder, epochs=args.epochs,
            device="cpu", progress=progress,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    before, after = report.before, report.after
    assert before is not None
    assert after is not None
    print(f"{len(pairs):,} Quora pairs: {report.train_pairs:,} to train, "
          f"{report.held_out_pairs:,} held out (no shared question); "
          f"{args.epochs} epoch(s) in {report.seconds:.0f} s on CPU\n")  # fmt: skip
    print("| held-out, cosine | AP | best F1 | precision | recall | F1 threshold |")
    print("|---|---|---|---|---|---|")
    for name, s in (("all-MiniLM-L6-v2", before), ("fine-tuned", after)):
        print(f"| {name} | {s.average_precision:.4f} | {s.f1:.4f} | {s.precision:.4f} | "
              f"{s.recall:.4f} | {s.f1_threshold:.3f} |")  # fmt: skip
    print(f"| change | {after.average_precision - before.average_precision:+.4f} | "
          f"{after.f1 - before.f1:+.4f} | | | |")  # fmt: skip


if __name__ == "__main__":
    main()
