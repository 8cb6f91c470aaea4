"""Cross-lingual pairs from a parallel pairs file, for evaluation and training.

Multilingual STS files (such as stsb_multi_mt) hold the same scored pairs in every language, in
the same order or under a shared id. Sentence 1 from the pivot language with sentence 2 from
another language (and the other way round) is a cross-lingual pair with the same gold score:
what the en-xx columns of multilingual STS benchmarks measure, and what a multilingual model
should learn, since an analyst's Spanish ticket must match an English one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from indexer.eval_data import EvalDataError

if TYPE_CHECKING:
    import pandas as pd


def cross_lingual_pairs(
    frame: pd.DataFrame,
    *,
    lang: str,
    first: str,
    second: str,
    pivot: str = "en",
    key: str | None = None,
    keep_monolingual: bool = False,
) -> pd.DataFrame:
    """Pairs of pivot and other-language sentences; `lang` becomes e.g. "en-de".

    Rows are matched to the pivot's rows by `key` when given, else by their position within
    their language (every language must then have as many rows as the pivot). Every other
    column (the score) is taken from the pivot's row.
    """
    import pandas as pd

    _require(frame, lang, first, second, key)
    parts: list[pd.DataFrame] = [frame] if keep_monolingual else []
    for other, base, translated in _matched_rows(frame, lang, pivot, key):
        forward = base.assign(**{second: translated[second].to_numpy()})
        backward = base.assign(**{first: translated[first].to_numpy()})
        parts.append(pd.concat([forward, backward]).assign(**{lang: f"{pivot}-{other}"}))
    return pd.concat(parts, ignore_index=True)


def translation_pairs(
    frame: pd.DataFrame,
    *,
    lang: str,
    columns: list[str],
    pivot: str = "en",
    key: str | None = None,
) -> pd.DataFrame:
    """(pivot sentence, its translation) pairs with label 1, each once: positives for
    MultipleNegativesRankingLoss, which pulls translations together across languages."""
    import pandas as pd

    _require(frame, lang, *columns, key)
    parts = [
        pd.DataFrame(
            {
                lang: f"{pivot}-{other}",
                "text": base[column].to_numpy(),
                "translation": translated[column].to_numpy(),
                "label": 1,
            }
        )
        for other, base, translated in _matched_rows(frame, lang, pivot, key)
        for column in columns
    ]
    return pd.concat(parts, ignore_index=True).drop_duplicates(["text", "translation"])


def _require(frame: pd.DataFrame, *columns: str | None) -> None:
    for column in columns:
        if column is not None and column not in frame.columns:
            raise EvalDataError(f"no column '{column}'; columns: {', '.join(frame.columns)}")


def _matched_rows(
    frame: pd.DataFrame, lang: str, pivot: str, key: str | None
) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """For each other language: the pivot's rows and that language's, matched row for row."""
    languages = list(dict.fromkeys(frame[lang].astype(str)))
    if pivot not in languages:
        raise EvalDataError(
            f"no rows in the pivot language '{pivot}'; languages: {', '.join(languages)}"
        )
    pivot_rows = _keyed(frame[frame[lang] == pivot], key)
    for other in languages:
        if other == pivot:
            continue
        rows = _keyed(frame[frame[lang] == other], key)
        if key is None and len(rows) != len(pivot_rows):
            raise EvalDataError(
                f"'{other}' has {len(rows):,} rows and '{pivot}' {len(pivot_rows):,}; rows "
                "can only be matched by position when the counts agree (name a --key column)"
            )
        shared = pivot_rows.index.intersection(rows.index)
        if shared.empty:
            raise EvalDataError(f"no row of '{other}' matches a row of '{pivot}'")
        yield other, pivot_rows.loc[shared], rows.loc[shared]


def _keyed(rows: pd.DataFrame, key: str | None) -> pd.DataFrame:
    if key is None:
        return rows.reset_index(drop=True)
    if rows[key].duplicated().any():
        duplicate = rows[key][rows[key].duplicated()].iloc[0]
        raise EvalDataError(f"key '{duplicate}' occurs twice in one language")
    return rows.set_index(key, drop=False)
