"""Search latency as the analyst sees it on the Search page, against the bare searcher call.

Runs the real Streamlit app through `AppTest` on an ingested corpus (the model and index are
warm after the first query, as in a running UI), types each query, and reads the page's own
"N results in X ms" caption; the baseline is `CorpusSearcher.check_duplicates` on the same
queries in the same process. Reports median and 90th percentile of both and their ratio.

    .venv/bin/python bench/ui_search.py [--data-dir bench/out/demo] [--corpus demo]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "how do I reset my password",
    "can I get a refund for last month",
    "the app crashes when I upload a photo",
    "how to export my data to excel",
    "is there a dark mode",
    "why was my card declined",
    "how do I invite my team",
    "where can I find my invoices",
    "two factor authentication is not working",
    "how do I delete my account",
    "what are your support hours",
    "can I change my plan to yearly",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "out" / "demo")
    parser.add_argument("--corpus", default="demo")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        QCLUST_DATA_DIR=str(args.data_dir), QCLUST_DEFAULT_CORPUS=args.corpus,
        QCLUST_DEVICE="cpu", HF_HUB_OFFLINE="1",
    )  # fmt: skip

    from streamlit.testing.v1 import AppTest

    from db.settings import Settings
    from indexer.search import open_searcher

    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120).run()
    at.text_input(key="query").input("warm up").run()  # loads the model and index once
    ui_ms: list[float] = []
    for _ in range(args.rounds):
        for query in QUERIES:
            at.text_input(key="query").input(query).run()
            caption = next(c.value for c in at.caption if " results in " in c.value)
            ui_ms.append(float(re.search(r"in (\d+) ms", caption).group(1)))  # type: ignore[union-attr]

    searcher = open_searcher(args.corpus, settings=Settings())
    searcher.check_duplicates("warm up")
    bare_ms: list[float] = []
    for _ in range(args.rounds):
        for query in QUERIES:
            started = time.perf_counter()
            searcher.check_duplicates(query, k=10)
            bare_ms.append((time.perf_counter() - started) * 1000)

    print(f"{searcher.size:,} questions in '{args.corpus}', {len(ui_ms)} searches each, k=10\n")
    print("| path | median ms | p90 ms |")
    print("|---|---|---|")
    for name, values in (
        ("Search page (its own caption)", ui_ms),
        ("bare check_duplicates", bare_ms),
    ):
        print(f"| {name} | {statistics.median(values):.0f} | {percentile(values, 0.9):.0f} |")
    ratio = statistics.median(ui_ms) / statistics.median(bare_ms)
    print(f"| ratio page / bare (median) | {ratio:.2f} | |")


if __name__ == "__main__":
    main()
