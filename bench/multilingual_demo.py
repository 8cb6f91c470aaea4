"""Cross-lingual duplicates on the project's mixed-language demo corpus, per model.

`demo/multilingual.csv` holds 48 questions, each asked once in six languages (en es de fr ja
ru). Every question is encoded as qclust encodes it (the model's prompt, normalised), then:

- translation@1: the share of questions whose nearest other question is the same question in
  another language (per query language and overall);
- translations@5: the share of the five translations among the five nearest others;
- pair precision / recall / F1 at the best-F1 cosine threshold over all 41,328 pairs (720
  duplicates), the threshold `qclust calibrate` would pick from complete labels.

    .venv/bin/python bench/multilingual_demo.py MODEL [MODEL ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "demo" / "multilingual.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from indexer.encoder import Encoder

    with CORPUS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    groups = np.array([row["group"] for row in rows])
    languages = np.array([row["lang"] for row in rows])
    same = groups[:, None] == groups[None, :]
    np.fill_diagonal(same, False)
    upper = np.triu_indices(len(rows), 1)
    print("| model | translation@1 | translations@5 | best-F1 threshold | P | R | F1 | "
          + " | ".join(f"@1 {lang}" for lang in dict.fromkeys(languages)) + " |")  # fmt: skip
    for model in args.models:
        encoder = Encoder.for_new_corpus(model, device="cpu")
        started = time.perf_counter()
        vectors = encoder.encode([row["question"] for row in rows])
        seconds = time.perf_counter() - started
        scores = vectors @ vectors.T
        np.fill_diagonal(scores, -np.inf)
        nearest = np.argsort(-scores, axis=1)[:, :5]
        hits = np.take_along_axis(same, nearest, axis=1)
        pair_scores, pair_truth = scores[upper], same[upper]
        order = np.argsort(-pair_scores)
        true_positives = np.cumsum(pair_truth[order])
        precision = true_positives / np.arange(1, len(order) + 1)
        recall = true_positives / pair_truth.sum()
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1))
        per_language = [hits[languages == lang, 0].mean() for lang in dict.fromkeys(languages)]
        print(
            f"| {Path(model).name} | {hits[:, 0].mean():.3f} | {hits.mean():.3f} | "
            f"{pair_scores[order][best]:.3f} | {precision[best]:.3f} | {recall[best]:.3f} | "
            f"{f1[best]:.3f} | " + " | ".join(f"{v:.3f}" for v in per_language) + " |",
            flush=True,
        )
        print(f"  ({len(rows)} questions encoded in {seconds:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
