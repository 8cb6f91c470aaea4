"""The int8 ONNX copy of all-MiniLM-L6-v2 against the model itself, on the CPU, in one run.

Quantise the packaged default model (`qclust models quantize`'s code, timed), load both through
`Encoder` as ingest and search do, then:
- throughput: 2,000 sentences (the first 1,000 distinct STS-B dev sentences and 1,000 distinct
  Quora dev questions), the encoder's batch size, warm, best of `--repeats` with the two models
  taking turns, so that other work on the machine slows both alike;
- quality: STS-B dev Spearman of cosine and Quora dev average precision of cosine, the way
  `qclust eval` computes them, and how close the two models' vectors are (cosine).

The bar (issue 14): >= 2.5x the throughput at >= 99% of both scores.

    nice -n 10 .venv/bin/python bench/onnx_encode.py [--repeats R] [--quora-pairs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
STS = SHARED / "stsbenchmark" / "sts_dev.tsv"
QUORA = SHARED / "quora_pairs" / "quora_pairs_dev.tsv"
SPEED_BAR, QUALITY_BAR = 2.5, 0.99

from indexer.encoder import Encoder  # noqa: E402
from indexer.eval_data import PairsFile, read_pairs  # noqa: E402
from indexer.evaluate import encode_pairs, similarities  # noqa: E402


def speed_texts(sts: PairsFile, quora: PairsFile, each: int = 1000) -> list[str]:
    first = list(dict.fromkeys([*sts.first, *sts.second]))[:each]
    second = list(dict.fromkeys([*quora.first, *quora.second]))[:each]
    return first + second


def throughputs(encoders: dict[str, Encoder], texts: list[str], repeats: int) -> dict[str, float]:
    best = dict.fromkeys(encoders, float("inf"))
    for encoder in encoders.values():
        encoder.encode(texts[:256])  # warm-up, outside the clock
    for _ in range(repeats):
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def quality(encoder: Encoder, sts: PairsFile, quora: PairsFile) -> tuple[float, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score

    a, b = encode_pairs(encoder, sts.first, sts.second)
    spearman = float(spearmanr(sts.scores, similarities(a, b)["cosine"])[0])
    a, b = encode_pairs(encoder, quora.first, quora.second)
    ap = float(average_precision_score(quora.labels, similarities(a, b)["cosine"]))
    return spearman, ap


def agreement(source: Encoder, int8: Encoder, texts: list[str]) -> tuple[float, float, float]:
    """Mean, 1st percentile and least cosine between the two models' vectors of each text."""
    cosines = np.sum(source.encode(texts) * int8.encode(texts), axis=1)  # both unit length
    return float(cosines.mean()), float(np.percentile(cosines, 1)), float(cosines.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quora-pairs", type=int, default=0, help="first N pairs (0 = all)")
    args = parser.parse_args()
    command = "nice -n 10 .venv/bin/python bench/onnx_encode.py " + " ".join(sys.argv[1:])

    import onnxruntime
    import torch

    from indexer.onnx_encoder import available_threads, quantize

    sts = read_pairs(STS, text_names=["sentence1", "sentence2"], label="score", binary=False)
    quora = read_pairs(QUORA, text_names=["question1", "question2"], label="is_duplicate")
    if args.quora_pairs:
        n = args.quora_pairs
        quora = PairsFile(quora.table, quora.first[:n], quora.second[:n], quora.scores[:n])
    folder = Path(tempfile.mkdtemp(prefix="qclust-onnx-")) / "minilm-int8"
    try:
        started = time.perf_counter()
        quantize("all-MiniLM-L6-v2", folder)
        quantize_seconds = time.perf_counter() - started
        encoders = {
            "source": Encoder.for_new_corpus("all-MiniLM-L6-v2", device="cpu"),
            "int8": Encoder.for_new_corpus(str(folder), device="cpu"),
        }
        texts = speed_texts(sts, quora)
        load_before = os.getloadavg()[0]
        speed = throughputs(encoders, texts, args.repeats)
        load_after = os.getloadavg()[0]
        scores = {name: quality(encoder, sts, quora) for name, encoder in encoders.items()}
        close = agreement(encoders["source"], encoders["int8"], texts)
        size_mb = (folder / "model_qint8.onnx").stat().st_size / 1e6
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)

    (sts_0, ap_0), (sts_1, ap_1) = scores["source"], scores["int8"]
    ratio, sts_kept, ap_kept = speed["int8"] / speed["source"], sts_1 / sts_0, ap_1 / ap_0
    batch = encoders["source"].batch_size
    print(f"`{command}`\n")
    print(f"{len(texts):,} sentences (1,000 STS-B dev + 1,000 Quora dev), batch size {batch}, "
          f"best of {args.repeats}, turns taken; {os.cpu_count()} CPUs seen, torch "
          f"{torch.get_num_threads()} threads, onnxruntime "
          f"{available_threads()} threads; load average "
          f"{load_before:.1f} -> {load_after:.1f}")  # fmt: skip
    print(f"STS-B dev {len(sts.first):,} pairs, Quora dev {len(quora.first):,} pairs; "
          f"quantised in {quantize_seconds:.0f} s, {size_mb:.0f} MB (source 91 MB)\n")  # fmt: skip
    print("| model | sentences/s | speed | STS-B Spearman (cos) | % of source | "
          "Quora AP (cos) | % of source |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print(f"| all-MiniLM-L6-v2, sentence-transformers (torch {torch.__version__}) | "
          f"{speed['source']:,.0f} | 1.00x | {sts_0:.4f} | 100% | {ap_0:.4f} | 100% |")  # fmt: skip
    print(f"| int8 ONNX (onnxruntime {onnxruntime.__version__}) | {speed['int8']:,.0f} | "
          f"{ratio:.2f}x | {sts_1:.4f} | {sts_kept:.1%} | {ap_1:.4f} | "
          f"{ap_kept:.1%} |")  # fmt: skip
    print(f"\ncosine of int8 to source vectors: mean {close[0]:.4f}, 1st percentile "
          f"{close[1]:.4f}, least {close[2]:.4f}")  # fmt: skip
    met = ratio >= SPEED_BAR and min(sts_kept, ap_kept) >= QUALITY_BAR
    print(f"bar (>= {SPEED_BAR}x, >= {QUALITY_BAR:.0%} of both): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
