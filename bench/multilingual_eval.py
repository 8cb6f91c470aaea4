"""Multilingual quality through the real CLI (`qclust eval ... --lang-column --json`), per
language, for several models side by side:

- `mstsb`: STS per language, `../shared/data/multilingual_stsb/mstsb_dev_16lang.tsv` (16 languages)
- `stsb-mt`: STS per language, `../shared/data/stsb_multi_mt/stsb_multi_mt_dev.tsv` (11 languages)
- `cross`: cross-lingual STS en-xx, made from the stsb_multi_mt dev file by
  `qclust data cross-lingual` (pivot sentence with its partner's translation, both ways)
- `tatoeba`: cross-lingual retrieval, `../shared/data/tatoeba/tatoeba_eng_pairs.tsv`: each
  sentence against the English translations of its language's 1,000 sentences (`--langs`)

With `--speed N`: instead, encoding speed of every model in one process, on the first
stsb_dev_1 sentences of each of the 16 mstsb languages (N in all), batch 64, best of 2, warm.

Each result is one JSON line in `--out` (appended, so runs can be split across models); the
table prints from everything in that file. Model labels are `label=path[:dims]`.

    .venv/bin/python bench/multilingual_eval.py --model minilm=all-MiniLM-L6-v2 \
        --model e5=/path/to/me5 [--sets mstsb,stsb-mt,cross,tatoeba] [--out FILE]
    .venv/bin/python bench/multilingual_eval.py --speed 4000 --model ... [--out FILE]
    .venv/bin/python bench/multilingual_eval.py --table [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
MSTSB = DATA / "multilingual_stsb" / "mstsb_dev_16lang.tsv"
STSB_MT = DATA / "stsb_multi_mt" / "stsb_multi_mt_dev.tsv"
TATOEBA = DATA / "tatoeba" / "tatoeba_eng_pairs.tsv"
# Tatoeba languages: those of the STS sets, plus Arabic, Hindi, Turkish, Korean, Vietnamese.
TATOEBA_LANGS = "deu,spa,fra,ita,jpn,nld,pol,por,rus,cmn,ara,hin,tur,kor,vie,ces"
QCLUST = [str(ROOT / ".venv" / "bin" / "qclust")]


def eval_args(name: str, cross_file: Path) -> list[str]:
    if name == "mstsb":
        return ["sts", str(MSTSB), "--lang-column", "lang", "--text-column",
                "stsb_dev_1,stsb_dev_2", "--label", "score"]  # fmt: skip
    if name == "stsb-mt":
        return ["sts", str(STSB_MT), "--lang-column", "lang"]
    if name == "cross":
        return ["sts", str(cross_file), "--lang-column", "lang"]
    if name == "tatoeba":
        return ["retrieval", str(TATOEBA), "--lang-column", "lang", "--langs", TATOEBA_LANGS,
                "--text-column", "text,english"]  # fmt: skip
    raise SystemExit(f"unknown set {name}")


def run(
    label: str, model: str, sets: list[str], out: Path, env: dict[str, str], langs: str
) -> None:
    path, _, dims = model.partition(":")
    cross_file = out.parent / "stsb_multi_mt_dev_en-xx.tsv"
    if "cross" in sets and not cross_file.exists():
        subprocess.run([*QCLUST, "data", "cross-lingual", str(STSB_MT), str(cross_file)],
                       check=True, env=env)  # fmt: skip
    for name in sets:
        command = [*QCLUST, "eval", *eval_args(name, cross_file), "--model", path, "--json"]
        if dims:
            command += ["--truncate-dim", dims]
        if langs and name == "mstsb":
            command += ["--langs", langs]
        print("$", " ".join(command), file=sys.stderr, flush=True)
        done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
        record = json.loads(done.stdout.strip().splitlines()[-1])
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"label": label, "set": name, "dims": dims} | record) + "\n")
        print(f"{label} {name}: {record['seconds']:.0f} s", file=sys.stderr, flush=True)


def speed(models: list[str], count: int, out: Path) -> None:
    import csv
    import time

    sys.path.insert(0, str(ROOT))
    from indexer.encoder import Encoder

    by_language: dict[str, list[str]] = {}
    with MSTSB.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            by_language.setdefault(row["lang"], []).append(row["stsb_dev_1"])
    each = count // len(by_language)
    texts = [text for found in by_language.values() for text in found[:each]]
    for spec in models:
        label, _, model = spec.partition("=")
        path, _, dims = model.partition(":")
        encoder = Encoder.for_new_corpus(
            path, truncate_dim=int(dims) if dims else None, device="cpu", batch_size=64
        )
        encoder.encode(texts[:128])  # warm
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            encoder.encode(texts)
            best = min(best, time.perf_counter() - started)
        record = {"label": label, "set": "speed", "dims": dims, "sentences": len(texts),
                  "per_second": len(texts) / best, "torch_threads": _threads()}  # fmt: skip
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"{label}: {record['per_second']:.0f} sentences/s", file=sys.stderr, flush=True)


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def headline(record: dict) -> dict[str, float]:  # type: ignore[type-arg]
    """Per language: cosine Spearman for STS, recall@1 for retrieval."""
    metrics = record["metrics"]
    if record["kind"] == "sts":
        return {lang: m["cosine"]["spearman"] for lang, m in metrics.items()}
    return {lang: m["recall"]["1"] for lang, m in metrics.items()}


def table(out: Path) -> None:
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    speeds = {r["label"]: r for r in records if r["set"] == "speed"}
    if speeds:
        print("\nspeed (sentences/s, CPU)\n")
        for label, r in speeds.items():
            print(f"| {label} | {r['per_second']:.0f} |")
    records = [r for r in records if r["set"] != "speed"]
    latest = {(r["label"], r["set"]): r for r in records}
    labels = list(dict.fromkeys(r["label"] for r in records))
    for name in dict.fromkeys(r["set"] for r in records):
        found = {label: headline(latest[label, name]) for label in labels
                 if (label, name) in latest}  # fmt: skip
        languages = list(dict.fromkeys(lang for scores in found.values() for lang in scores))
        print(f"\n{name} ({'recall@1' if name == 'tatoeba' else 'cosine Spearman'})\n")
        print("| language | " + " | ".join(found) + " |")
        print("|---|" + "---:|" * len(found))
        for lang in languages:
            cells = [f"{scores[lang]:.3f}" if lang in scores else "" for scores in found.values()]
            print(f"| {lang} | " + " | ".join(cells) + " |")
        means = [
            sum(v for lang, v in scores.items() if lang not in ("all", "average"))
            / max(1, sum(lang not in ("all", "average") for lang in scores))
            for scores in found.values()
        ]
        print("| mean of languages | " + " | ".join(f"{m:.3f}" for m in means) + " |")
        seconds = [f"{latest[label, name]['seconds']:.0f} s" for label in found]
        print("| seconds | " + " | ".join(seconds) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=[], help="label=path[:dims]")
    parser.add_argument("--sets", default="mstsb,stsb-mt,cross,tatoeba")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "multilingual.jsonl")
    parser.add_argument("--table", action="store_true", help="only print the table")
    parser.add_argument("--mstsb-langs", default="", help="only these mstsb languages")
    parser.add_argument("--speed", type=int, default=0, help="measure speed on N sentences")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    env.setdefault("QCLUST_DATA_DIR", str(args.out.parent / "qclust"))
    if args.speed:
        speed(args.model, args.speed, args.out)
    elif not args.table:
        for spec in args.model:
            label, _, model = spec.partition("=")
            run(label, model, args.sets.split(","), args.out, env, args.mstsb_langs)
    table(args.out)


if __name__ == "__main__":
    main()
