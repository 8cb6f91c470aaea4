"""A deterministic corpus of N distinct, question-like texts from the public sets in
../shared/data (issue 14: a 1,000,000-question corpus for `bench/scale.py`).

    .venv/bin/python bench/make_corpus.py --n 1000000 --out bench/out/corpus-1000000.csv

How the texts are made:

1. Bases: every text of quora_pairs (question1 and question2), banking77 (train), clinc150
   (train + val), stackoverflow_titles, stsbenchmark (sentence1 and sentence2 of train + dev)
   and tatoeba (its English side), in that order, whitespace-collapsed. A base whose key (the
   product's own duplicate key, `indexer.validation.text_hash`: NFKC, whitespace, case) was
   seen before is dropped, the first one kept. Labels: banking77 and clinc150 keep their
   intent, stackoverflow its tag number; quora questions joined by is_duplicate = 1 pairs and
   STS sentences joined by pairs scoring >= 4.0 share a label `dup-K` (their connected
   component; a component of one gets none); tatoeba has none.
2. Bases used: B = min(all bases, ceil(N / 6)), the first B of a seeded permutation, so every
   size has about six texts per base (the original and about five variants) and sources in
   their natural proportions.
3. Jobs: B "emit the base" jobs and N - B "make variant r of base b" jobs (r = 1, 2, ...,
   bases taken round-robin), in one seeded shuffled order, so that any prefix of the file is a
   representative sample. A variant applies one to three of (each step drawn from one stream of
   a seeded `random.Random`):
   - an opener ("Quick question:", "Hi all,", ...; for a text that asks, one ending with "?"
     or opening with how/what/can/is/..., also "Does anyone know", "Can someone tell me", ...,
     which lower-case the text's first letter) or a closer ("thanks!", "any ideas?", ...),
     or both;
   - a word substitution from a small table of synonyms and contractions, both directions
     ("problem" <-> "issue", "do not" <-> "don't", ...; the first letter's case kept);
   - a typo in one word of four letters or more: two inner letters swapped, one dropped or
     doubled, or a keyboard neighbour typed;
   - casing (all lower case, first letter lower) or punctuation (the question mark dropped,
     doubled or spaced, commas removed);
   and one variant in twelve of a labelled base is instead a join of two bases of the same
   source and label: "<first, its ending '?' removed> and also <second, first letter lower>".
   A variant whose key is already taken is drawn again (up to 10 times, then the job is
   skipped); skipped jobs are made up at the end, in order, so exactly N rows come out.
4. Rows: id (q0000001, ...), question, source, label, base (the base's index among all bases,
   "i+j" for a join): variants of one base are near-duplicates by construction.

Same arguments, same bytes: the seed is fixed (--seed), nothing depends on hash order, and the
source files are read in a fixed order. Memory: the bases, one 64-bit digest per row written
and the job order (about 150 MB at 1M). Counts (bases per source, duplicates dropped, variants,
joins, redraws) go to stderr and, with --stats, to a JSON file.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.validation import text_hash  # noqa: E402  (the product's duplicate key)

DATA = ROOT.parent / "shared" / "data"
SEED = 14
TEXTS_PER_BASE = 6
JOIN_SHARE = 1 / 12
MAX_TRIES = 10
MAX_BASE_CHARS = 300
HEADER = ("id", "question", "source", "label", "base")

OPENERS = (
    "Quick question:", "Hi all,", "Hello,", "Hey,", "Question:", "Hi team,", "Help:",
    "Newbie here:", "Sorry if this is obvious, but", "Not sure if this is the right place:",
    "Urgent:", "Need help:", "Hi everyone,", "Good morning,", "Can anyone help?",
)  # fmt: skip
VERB_OPENERS = (
    "Does anyone know", "Can someone tell me", "I was wondering", "Could someone explain",
    "Anyone know", "Please tell me", "I'd like to know", "Can you help me understand",
)  # fmt: skip
CLOSERS = (
    "thanks!", "Thanks in advance.", "any ideas?", "please help", "thx", "Cheers.", "anyone?",
    "TIA", "help appreciated", ":)", "Thank you!", "any advice?", "(asking for a friend)",
    "pls", "thanks a lot", "what do you think?",
)  # fmt: skip
SYNONYMS = (
    ("problem", "issue"), ("fix", "solve"), ("get", "obtain"), ("buy", "purchase"),
    ("help", "assist"), ("best", "top"), ("way", "method"), ("use", "utilize"),
    ("make", "create"), ("find", "locate"), ("start", "begin"), ("need", "require"),
    ("big", "large"), ("small", "little"), ("quick", "fast"), ("error", "bug"),
    ("show", "display"), ("change", "modify"), ("delete", "remove"), ("money", "funds"),
    ("phone", "mobile"), ("car", "vehicle"), ("job", "position"), ("answer", "reply"),
    ("easy", "simple"), ("hard", "difficult"), ("picture", "photo"), ("buy", "get"),
    ("happy", "glad"), ("look at", "check"), ("want to", "would like to"),
    ("do not", "don't"), ("cannot", "can't"), ("I am", "I'm"), ("it is", "it's"),
    ("is not", "isn't"), ("does not", "doesn't"), ("what is", "what's"), ("I have", "I've"),
    ("how do I", "how can I"), ("how can I", "how do I"), ("possible", "feasible"),
)  # fmt: skip
KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "ol", "a": "qsz", "s": "awdx", "d": "sefc", "f": "drgv",
    "g": "fthb", "h": "gyjn", "j": "hukm", "k": "jil", "l": "kop", "z": "asx", "x": "zsdc",
    "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z]{4,}")
_ASKING = re.compile(
    r"(how|what|why|when|where|which|who|can|could|is|are|do|does|should|will|would)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Base:
    text: str
    source: str
    label: str


# -- reading the sources --------------------------------------------------------------------


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t")


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


class _Components:
    """Union-find over texts: the connected components of a pairs file's positive pairs."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, text: str) -> str:
        root = text
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while text != root:  # path compression
            self.parent[text], text = root, self.parent.get(text, text)
        return root

    def union(self, a: str, b: str) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self, prefix: str) -> dict[str, str]:
        """Text -> `prefix`K for members of components of two or more, K by first root."""
        groups: dict[str, list[str]] = {}
        for text in self.parent:  # insertion order: deterministic
            groups.setdefault(self.find(text), []).append(text)
        found: dict[str, str] = {}
        for number, members in enumerate(m for m in groups.values() if len(m) > 1):
            for text in members:
                found[text] = f"{prefix}{number}"
        return found


def _pair_source(
    paths: list[Path], columns: tuple[str, str], positive: tuple[str, float], source: str
) -> Iterator[Base]:
    pairs = [
        (_clean(row[columns[0]]), _clean(row[columns[1]]), float(row[positive[0]]))
        for path in paths
        for row in _rows(path)
    ]
    components = _Components()
    for a, b, score in pairs:
        if score >= positive[1] and a and b:
            components.union(a, b)
    labels = components.labels(f"{source}-dup-")
    for a, b, _ in pairs:
        yield Base(a, source, labels.get(a, ""))
        yield Base(b, source, labels.get(b, ""))


def read_sources(data: Path) -> Iterator[Base]:
    """Every candidate base, source by source, in a fixed order."""
    yield from _pair_source(
        [data / "quora_pairs" / "quora_pairs_dev.tsv"], ("question1", "question2"),
        ("is_duplicate", 1.0), "quora",
    )  # fmt: skip
    for source, paths in (
        ("banking77", ["banking77/banking77_train.tsv"]),
        ("clinc150", ["clinc150/clinc150_train.tsv", "clinc150/clinc150_val.tsv"]),
        ("stackoverflow", ["stackoverflow_titles/stackoverflow_titles.tsv"]),
    ):
        for path in paths:
            for row in _rows(data / path):
                yield Base(_clean(row["text"]), source, row["label"])
    yield from _pair_source(
        [data / "stsbenchmark" / "sts_train.tsv", data / "stsbenchmark" / "sts_dev.tsv"],
        ("sentence1", "sentence2"), ("score", 4.0), "stsbenchmark",
    )  # fmt: skip
    for row in _rows(data / "tatoeba" / "tatoeba_eng_pairs.tsv"):
        yield Base(_clean(row["english"]), "tatoeba", "")


def _key(text: str) -> int:
    return int(text_hash(text)[:16], 16)


def load_bases(data: Path, stats: dict[str, Counter[str]]) -> list[Base]:
    bases: list[Base] = []
    keys: set[int] = set()
    for base in read_sources(data):
        stats["read"][base.source] += 1
        if not base.text or len(base.text) > MAX_BASE_CHARS:
            stats["dropped: empty or too long"][base.source] += 1
            continue
        key = _key(base.text)
        if key in keys:
            stats["dropped: duplicate"][base.source] += 1
            continue
        keys.add(key)
        bases.append(base)
        stats["bases"][base.source] += 1
    return bases


# -- variants ---------------------------------------------------------------------------------


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if (len(first) > 1 and first.isupper()) or first in {"I", "I'm", "I've", "I'd", "I'll"}:
        return text  # an acronym or "I" keeps its case
    return text[:1].lower() + text[1:]


def _frame(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        asks = text.endswith("?") or _ASKING.match(text) is not None
        opener = rng.choice(OPENERS + VERB_OPENERS if asks else OPENERS)
        body = _lower_first(text) if opener in VERB_OPENERS else text
        text = f"{opener} {body}"
    if roll >= 0.3:
        text = f"{text} {rng.choice(CLOSERS)}"
    return text


_SYNONYM_PATTERNS = [
    (re.compile(rf"\b{re.escape(a)}\b", re.IGNORECASE), b) for a, b in SYNONYMS
] + [(re.compile(rf"\b{re.escape(b)}\b", re.IGNORECASE), a) for a, b in SYNONYMS]


def _substitute(text: str, rng: random.Random) -> str:
    found = [
        (match, replacement)
        for pattern, replacement in _SYNONYM_PATTERNS
        for match in pattern.finditer(text)
    ]
    if not found:
        return _typo(text, rng)
    match, replacement = rng.choice(found)
    if match.group()[0].isupper():
        replacement = replacement[0].upper() + replacement[1:]
    return text[: match.start()] + replacement + text[match.end() :]


def _typo(text: str, rng: random.Random) -> str:
    words = list(_WORD.finditer(text))
    if not words:
        return _punctuate(text, rng)
    word = rng.choice(words)
    letters, at = word.group(), rng.randrange(1, len(word.group()) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        typed = letters[: at - 1] + letters[at] + letters[at - 1] + letters[at + 1 :]
    elif kind == 1:
        typed = letters[:at] + letters[at + 1 :]
    elif kind == 2:
        typed = letters[:at] + letters[at] + letters[at:]
    else:
        near = KEYBOARD.get(letters[at].lower(), letters[at])
        typed = letters[:at] + rng.choice(near) + letters[at + 1 :]
    return text[: word.start()] + typed + text[word.end() :]


def _punctuate(text: str, rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return text.lower()
    if kind == 1:
        return _lower_first(text).rstrip("?.!") or text
    if kind == 2 and text.endswith("?"):
        return text[:-1].rstrip() + rng.choice(("??", " ?", "?!", "???"))
    if kind == 3 and "," in text:
        return text.replace(",", "")
    return text.rstrip("?.!") + rng.choice(("?", "??", " ?", ""))


STEPS = (_frame, _frame, _substitute, _typo, _punctuate)


def make_variant(text: str, rng: random.Random) -> str:
    """One to three steps, each drawn from STEPS (framing twice as likely)."""
    drawn = rng.sample(STEPS, rng.choice((1, 1, 2, 2, 3)))
    for step in dict.fromkeys(drawn):  # framing once at most
        text = step(text, rng)
    return text


def join(first: str, second: str) -> str:
    return f"{first.rstrip('?.! ')} and also {_lower_first(second)}"


# -- the corpus -------------------------------------------------------------------------------


class Generator:
    def __init__(self, bases: list[Base], n: int, seed: int) -> None:
        self.bases, self.n = bases, n
        self.rng = random.Random(seed)
        chosen = np.random.default_rng(seed).permutation(len(bases))
        self.used = chosen[: min(len(bases), math.ceil(n / TEXTS_PER_BASE))]
        # Keys of the bases written; those of unused bases are free for variants to take.
        self.keys = {_key(bases[b].text) for b in self.used.tolist()}
        groups: dict[tuple[str, str], list[int]] = {}
        for b in self.used.tolist():
            base = bases[b]
            if base.label:
                groups.setdefault((base.source, base.label), []).append(b)
        self.group_of = {b: members for members in groups.values() for b in members}
        self.stats: Counter[str] = Counter()

    def jobs(self) -> Iterator[int]:
        """Job j < B emits base used[j]; job j >= B makes a variant of base used[(j-B) % B]."""
        yield from np.random.default_rng([self.n, 1]).permutation(self.n).tolist()
        yield from range(self.n, self.n * 4)  # make-up jobs for skipped ones

    def variant(self, b: int) -> tuple[str, str] | None:
        base = self.bases[b]
        for _ in range(MAX_TRIES):
            group = self.group_of.get(b)
            if group and len(group) > 1 and self.rng.random() < JOIN_SHARE:
                other = self.rng.choice(group)
                if other == b:
                    continue
                text, tag = join(base.text, self.bases[other].text), f"{b}+{other}"
                if self.rng.random() < 0.5:
                    text = make_variant(text, self.rng)
                kind = "joins"
            else:
                text, tag, kind = make_variant(base.text, self.rng), str(b), "variants"
            text = " ".join(text.split())
            key = _key(text)
            if key not in self.keys:
                self.keys.add(key)
                self.stats[kind] += 1
                return text, tag
            self.stats["redraws (key taken)"] += 1
        self.stats["jobs skipped"] += 1
        return None

    def rows(self) -> Iterator[tuple[str, str, str, str]]:
        used, count = self.used.tolist(), len(self.used)
        written = 0
        for job in self.jobs():
            if written == self.n:
                return
            if job < count:
                base = self.bases[used[job]]
                row: tuple[str, str] | None = (base.text, str(used[job]))
            else:
                base = self.bases[used[(job - count) % count]]
                row = self.variant(used[(job - count) % count])
            if row is not None:
                written += 1
                yield row[0], base.source, base.label, row[1]
        raise RuntimeError(f"only {written:,} distinct texts could be made of {self.n:,}")


def write_corpus(n: int, out: Path, *, seed: int = SEED, data: Path = DATA) -> dict[str, object]:
    started = time.perf_counter()
    stats: dict[str, Counter[str]] = {
        name: Counter() for name in ("read", "dropped: empty or too long", "dropped: duplicate")
    }
    stats["bases"] = Counter()
    bases = load_bases(data, stats)
    generator = Generator(bases, n, seed)
    per_source: dict[str, Counter[str]] = {"used bases": Counter(), "rows": Counter()}
    for b in generator.used.tolist():
        per_source["used bases"][bases[b].source] += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for number, (text, source, label, base) in enumerate(generator.rows(), start=1):
            writer.writerow((f"q{number:07d}", text, source, label, base))
            per_source["rows"][source] += 1
    tmp.replace(out)
    summary: dict[str, object] = {
        "n": n,
        "seed": seed,
        "out": str(out),
        "all bases": len(bases),
        "bases used": len(generator.used),
        **{name: dict(counter) for name, counter in {**stats, **per_source}.items()},
        "made": dict(generator.stats),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return summary


def print_summary(summary: dict[str, object]) -> None:
    sources = list(summary["read"])  # type: ignore[call-overload]
    names = ("read", "dropped: empty or too long", "dropped: duplicate", "bases", "used bases")
    print("| source | " + " | ".join(names) + " | rows |", file=sys.stderr)
    print("|---" * (len(names) + 2) + "|", file=sys.stderr)
    for source in sources:
        cells = [f"{summary[name].get(source, 0):,}" for name in (*names, "rows")]  # type: ignore[attr-defined]
        print(f"| {source} | " + " | ".join(cells) + " |", file=sys.stderr)
    print(
        f"{summary['n']:,} rows: {summary['bases used']:,} bases of {summary['all bases']:,}, "
        f"made {summary['made']}, in {summary['seconds']} s -> {summary['out']}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, required=True, help="rows to write")
    parser.add_argument("--out", type=Path, required=True, help="the CSV to write")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--stats", type=Path, help="also write the counts here, as JSON")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    summary = write_corpus(args.n, args.out, seed=args.seed, data=args.data)
    print_summary(summary)
    if args.stats:
        args.stats.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
