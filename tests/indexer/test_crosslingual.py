"""Cross-lingual pairs: pivot sentences matched with their translations' partners."""

from __future__ import annotations

import pandas as pd
import pytest

from indexer.crosslingual import cross_lingual_pairs, translation_pairs
from indexer.eval_data import EvalDataError

PARALLEL = pd.DataFrame(
    [
        ("en", "A man plays.", "A man is playing.", "5.0"),
        ("en", "A dog runs.", "A cat sleeps.", "0.5"),
        ("de", "Ein Mann spielt.", "Ein Mann spielt gerade.", "4.9"),
        ("de", "Ein Hund rennt.", "Eine Katze schläft.", "0.4"),
        ("ja", "男が遊ぶ。", "男が遊んでいる。", "4.8"),
        ("ja", "犬が走る。", "猫が寝ている。", "0.6"),
    ],
    columns=["lang", "s1", "s2", "score"],
)


def test_pairs_the_pivot_with_each_language_both_ways_keeping_the_pivot_score() -> None:
    pairs = cross_lingual_pairs(PARALLEL, lang="lang", first="s1", second="s2")
    assert pairs["lang"].tolist() == ["en-de"] * 4 + ["en-ja"] * 4
    german = pairs[pairs["lang"] == "en-de"]
    assert list(zip(german["s1"], german["s2"], german["score"], strict=True)) == [
        ("A man plays.", "Ein Mann spielt gerade.", "5.0"),
        ("A dog runs.", "Eine Katze schläft.", "0.5"),
        ("Ein Mann spielt.", "A man is playing.", "5.0"),
        ("Ein Hund rennt.", "A cat sleeps.", "0.5"),
    ]


def test_keeps_the_monolingual_rows_when_asked() -> None:
    pairs = cross_lingual_pairs(
        PARALLEL, lang="lang", first="s1", second="s2", keep_monolingual=True
    )
    assert len(pairs) == len(PARALLEL) + 8
    assert pairs["lang"].tolist()[: len(PARALLEL)] == PARALLEL["lang"].tolist()


def test_matches_rows_by_key_when_a_language_misses_some() -> None:
    keyed = PARALLEL.assign(idx=["0", "1", "1", "0", "0", "9"])  # German in another order
    pairs = cross_lingual_pairs(keyed, lang="lang", first="s1", second="s2", key="idx")
    german = pairs[pairs["lang"] == "en-de"]
    assert german["s2"].tolist()[:2] == ["Eine Katze schläft.", "Ein Mann spielt gerade."]
    japanese = pairs[pairs["lang"] == "en-ja"]
    assert len(japanese) == 2  # only key 0 is in both


def test_translation_pairs_join_each_sentence_to_its_translations_once() -> None:
    pairs = translation_pairs(PARALLEL, lang="lang", columns=["s1", "s2"])
    assert set(pairs["label"]) == {1}
    assert len(pairs) == 2 * 2 * 2  # two languages, two rows, two columns
    german = pairs[pairs["lang"] == "en-de"]
    assert ("A cat sleeps.", "Eine Katze schläft.") in set(
        zip(german["text"], german["translation"], strict=True)
    )
    repeated = PARALLEL.iloc[[0, 0, 2, 2, 4, 4]]  # each language's first row twice
    assert len(translation_pairs(repeated, lang="lang", columns=["s1", "s2"])) == 2 * 2


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (PARALLEL, {"pivot": "fr"}, "no rows in the pivot language 'fr'"),
        (PARALLEL.iloc[:-1], {}, "'ja' has 1 rows and 'en' 2"),
        (PARALLEL.assign(idx=["0", "0", "1", "2", "3", "4"]), {"key": "idx"}, "occurs twice"),
        (PARALLEL, {"key": "nope"}, "no column 'nope'"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(
    frame: pd.DataFrame, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(EvalDataError, match=message):
        cross_lingual_pairs(frame, lang="lang", first="s1", second="s2", **kwargs)
