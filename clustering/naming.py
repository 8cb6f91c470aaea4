"""Cluster names from class-based TF-IDF: terms frequent in a cluster and rare in the corpus.

Weight of term t in cluster c: tf(t, c) * log(1 + A / f(t)), with tf normalised per cluster,
f(t) the term's frequency over all clusters and A the mean number of words per cluster (the
c-TF-IDF of BERTopic). No language model is involved. Stop words of several languages are
skipped, and so is a term found in most clusters: in a mixed-language corpus the function words
of every language are everywhere, and no stop-word list covers every language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from clustering.stopwords import MULTILINGUAL_STOP_WORDS

Labels = npt.NDArray[np.int64]
# Terms in more than this share of the clusters name none of them (from this many clusters on).
EVERYWHERE_SHARE = 0.75
EVERYWHERE_MIN_CLUSTERS = 4
# Scripts written without spaces (Japanese, Chinese) come out as one token per phrase; a
# phrase that long is never a good name.
LONGEST_KEYWORD = 24
NAMING_SAMPLE = 200_000  # questions counted for names, at most (see `naming_sample`)
MIN_NAMING_TEXTS = 50
MISSPELT_RATIO = 10  # a word's correct spelling is used this many times as often
# English contractions and possessives ("don't", "we've", "Mary's"): without this the
# tokenizer splits them at the apostrophe and names clusters "don t" or "mary s".
_CONTRACTION = re.compile(r"(?i)(?<=\w)(?:n['’]t|['’](?:s|ve|re|ll|d|m))\b")
_APOSTROPHE = re.compile(r"['’]")
# What voice assistants are addressed by: in every question, naming nothing.
WAKE_WORDS = frozenset({"alexa", "siri", "cortana", "olly", "hey"})
# Words of two characters or more (and "c#", "c++"); a lone letter names nothing.
TOKEN_PATTERN = r"(?u)\b\w[\w+#.-]*[\w+#]|\b\w[+#]+"


def normalise_for_naming(text: str) -> str:
    """Lower case, contractions and possessives cut off, other apostrophes dropped
    ("o'clock" -> "oclock"), so that every token is a word."""
    return _APOSTROPHE.sub("", _CONTRACTION.sub("", text.lower()))


def ctfidf_keywords(
    texts: Sequence[str],
    labels: Labels,
    *,
    top_n: int = 8,
    ngram_range: tuple[int, int] = (1, 2),
    misspelt: MisspellingCheck | None = None,
) -> dict[int, list[str]]:
    """The `top_n` keywords of every cluster label >= 0. `misspelt`: the corpus's word counts,
    for naming several levels of the same texts (else counted from the texts named)."""
    clusters = sorted(int(c) for c in np.unique(labels) if c >= 0)
    if not clusters:
        return {}
    vectorizer = CountVectorizer(
        stop_words=sorted(MULTILINGUAL_STOP_WORDS | WAKE_WORDS),
        ngram_range=ngram_range,
        preprocessor=normalise_for_naming,
        token_pattern=TOKEN_PATTERN,
    )
    members = naming_sample(labels)
    try:  # counted per question, so no n-gram spans two questions
        per_text = vectorizer.fit_transform([texts[int(i)] for i in members])
    except ValueError:  # only stop words everywhere
        return {cluster: [] for cluster in clusters}
    row_of = {cluster: row for row, cluster in enumerate(clusters)}
    membership = sparse.csr_matrix(
        (
            np.ones(len(members)),
            ([row_of[int(labels[i])] for i in members], np.arange(len(members))),
        ),
        shape=(len(clusters), len(members)),
    )
    counts = (membership @ per_text).astype(np.float64).tocsr()
    terms = vectorizer.get_feature_names_out()
    words_per_cluster = np.asarray(counts.sum(axis=1)).ravel()
    term_frequency = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(words_per_cluster.mean() / np.maximum(term_frequency, 1.0))
    idf[[len(term) > LONGEST_KEYWORD for term in terms]] = 0.0
    if len(clusters) >= EVERYWHERE_MIN_CLUSTERS:
        share = np.asarray((counts > 0).sum(axis=0)).ravel() / len(clusters)
        idf[share > EVERYWHERE_SHARE] = 0.0
    counts.sort_indices()
    misspelt = misspelt or MisspellingCheck([texts[int(i)] for i in members])
    keywords: dict[int, list[str]] = {}
    for row, cluster in enumerate(clusters):  # each cluster's own terms, not the vocabulary
        span = slice(counts.indptr[row], counts.indptr[row + 1])
        found = counts.indices[span]
        weights = counts.data[span] / max(words_per_cluster[row], 1.0) * idf[found]
        ranked = [
            str(terms[found[i]]) for i in np.argsort(-weights, kind="stable") if weights[i] > 0
        ]
        keywords[cluster] = without_misspellings(ranked, top_n, misspelt)
    return keywords


class MisspellingCheck:
    """Whether a word is a misspelling: one typo from a word the texts use `MISSPELT_RATIO`
    times as often ("whhat" of "what", "plaese" of "please", stop words included). At a
    million questions misspellings are common enough to rank, and a model that reads
    subwords can even gather them into a topic of their own."""

    def __init__(self, texts: Sequence[str]) -> None:
        vectorizer = CountVectorizer(preprocessor=normalise_for_naming, token_pattern=TOKEN_PATTERN)
        try:
            per_text = vectorizer.fit_transform(texts)
        except ValueError:  # no words at all
            self.count: dict[str, int] = {}
        else:
            totals = np.asarray(per_text.sum(axis=0)).ravel()
            self.count = dict(zip(vectorizer.get_feature_names_out(), totals.tolist(), strict=True))
        common = sorted(self.count, key=self.count.__getitem__, reverse=True)[:2000]
        self.letters = sorted({letter for word in common for letter in word})
        self._seen: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        if word not in self._seen:
            floor = MISSPELT_RATIO * max(self.count.get(word, 1), 1)
            self._seen[word] = len(word) >= 4 and any(
                self.count.get(other, 0) >= floor for other in one_typo_variants(word, self.letters)
            )
        return self._seen[word]


def one_typo_variants(word: str, letters: Sequence[str]) -> set[str]:
    """Every word one typo from `word`: a letter dropped, doubled or added, changed, or two
    neighbours swapped (Norvig's edits, over `letters`)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changed = {a + c + b[1:] for a, b in splits if b for c in letters}
    added = {a + c + b for a, b in splits for c in letters}
    return (dropped | swapped | changed | added) - {word}


def without_misspellings(
    ranked: Sequence[str], top_n: int, misspelt: MisspellingCheck
) -> list[str]:
    """The first `top_n` of `ranked` terms, less any with a word one typo away from a word of
    a term kept before it ("pasword" after "password"; "cards" after "card" too), or with a
    misspelt word (`misspelt`)."""
    kept: list[str] = []
    kept_words: set[str] = set()
    for term in ranked:
        words = term.split()
        if any(one_typo_apart(word, other) for word in words for other in kept_words):
            continue
        if any(misspelt(word) for word in words):
            continue
        kept.append(term)
        kept_words.update(words)
        if len(kept) == top_n:
            break
    return kept


def one_typo_apart(a: str, b: str, *, shortest: int = 4) -> bool:
    """Whether two different words of `shortest` letters or more differ by one letter changed,
    added, dropped, or two neighbours swapped (what make_corpus's typos and plurals do)."""
    if a == b or min(len(a), len(b)) < shortest or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        swapped = len(differ) == 2 and differ[1] == differ[0] + 1
        return len(differ) == 1 or (
            swapped and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]]
        )
    short, long = sorted((a, b), key=len)
    first = next(
        (i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short)
    )
    return short[first:] == long[first + 1 :]


def naming_sample(labels: Labels, *, cap: int = NAMING_SAMPLE, seed: int = 0) -> Labels:
    """Rows whose texts name the clusters: every clustered row up to `cap` of them; beyond,
    a seeded share of each cluster, never fewer than `MIN_NAMING_TEXTS` (or all) of any,
    because word frequencies settle long before a million questions are counted."""
    members = np.flatnonzero(labels >= 0)
    if len(members) <= cap:
        return members
    shuffled = members[np.random.default_rng(seed).permutation(len(members))]
    shuffled = shuffled[np.argsort(labels[shuffled], kind="stable")]
    clusters, starts, sizes = np.unique(labels[shuffled], return_index=True, return_counts=True)
    quotas = np.maximum(MIN_NAMING_TEXTS, np.ceil(sizes * cap / len(members))).astype(np.int64)
    rank = np.arange(len(shuffled)) - np.repeat(starts, sizes)
    return np.sort(shuffled[rank < np.repeat(quotas, sizes)])


def name_from_keywords(keywords: Sequence[str], *, words: int = 3) -> str:
    """A short name that reads as phrases: each keyword in turn, as the first top phrase that
    contains it ("birthday" -> "birthday party"), skipping any that repeats a chosen word."""
    phrases = [keyword for keyword in keywords if " " in keyword]
    chosen: list[str] = []
    used: set[str] = set()
    for keyword in keywords:
        longer = [p for p in phrases if keyword in p.split() and not used & set(p.split())]
        candidate = longer[0] if " " not in keyword and longer else keyword
        if used & set(candidate.split()):
            candidate = keyword
        if used & set(candidate.split()):
            continue
        chosen.append(candidate)
        used.update(candidate.split())
        if len(chosen) == words:
            break
    return " / ".join(chosen) or "(unnamed)"


def representatives(
    vectors: npt.NDArray[np.float32], labels: Labels, strengths: npt.NDArray[np.float32]
) -> dict[int, list[int]]:
    """Members of every cluster, most central first (closest to the cluster's mean direction)."""
    ordered: dict[int, list[int]] = {}
    for cluster in (int(c) for c in np.unique(labels) if c >= 0):
        members = np.flatnonzero(labels == cluster)
        centre = vectors[members].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        closeness = vectors[members] @ centre
        ordered[cluster] = [int(m) for m in members[np.lexsort((-strengths[members], -closeness))]]
    return ordered
