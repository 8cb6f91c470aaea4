"""Reading evaluation files (pairs, scored pairs, labelled texts) into columns, with clear errors.

CSV, TSV, JSONL or Parquet, by suffix. Columns are named by the caller or guessed: the label
or score column by its usual names, the text columns as the first columns that hold text.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from db.errors import QclustError

if TYPE_CHECKING:  # pandas loads when a file is read, not with every `qclust` command
    import pandas as pd

LABEL_GUESSES = ("label", "is_duplicate", "duplicate", "score", "similarity", "relevance")
MIN_ROWS = 2


class EvalDataError(QclustError):
    """An evaluation file that cannot be used as it is; the message says why and how to fix."""


@dataclass(frozen=True)
class EvalTable:
    path: Path
    frame: pd.DataFrame
    sha256: str


def read_table(path: Path) -> EvalTable:
    import pandas as pd

    if not path.is_file():
        raise EvalDataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tsv", ".tab"):
            # Texts hold quotes of their own: read tabs literally.
            frame = pd.read_csv(
                path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False
            )
        elif suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise EvalDataError(
                f"{path}: unknown file type '{suffix}'; use CSV, TSV, JSONL or Parquet"
            )
    except EvalDataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise EvalDataError(f"{path}: cannot read it ({exc})") from exc
    return EvalTable(path, frame, hashlib.sha256(path.read_bytes()).hexdigest())


def label_column(table: EvalTable, name: str | None) -> str:
    columns = list(table.frame.columns)
    if name is not None:
        if name not in columns:
            raise EvalDataError(f"{table.path}: no column '{name}'; columns: {', '.join(columns)}")
        return name
    for guess in LABEL_GUESSES:
        if guess in columns:
            return guess
    raise EvalDataError(
        f"{table.path}: no label or score column (looked for {', '.join(LABEL_GUESSES)}); "
        f"name it with --label-column. Columns: {', '.join(columns)}"
    )


def text_columns(table: EvalTable, names: Sequence[str] | None, count: int, skip: str) -> list[str]:
    """`count` text columns: the named ones, else the first columns (not `skip`) holding text."""
    columns = list(table.frame.columns)
    if names:
        missing = [name for name in names if name not in columns]
        if missing:
            raise EvalDataError(
                f"{table.path}: no column {', '.join(missing)}; columns: {', '.join(columns)}"
            )
        if len(names) != count:
            raise EvalDataError(f"name {count} text columns, not {len(names)}")
        return list(names)
    found = [c for c in columns if c != skip and _holds_text(table.frame[c])]
    if len(found) < count:
        raise EvalDataError(
            f"{table.path}: needs {count} text columns, found {len(found)} "
            f"({', '.join(found) or 'none'}); name them with --text-columns"
        )
    return found[:count]


def _holds_text(column: pd.Series) -> bool:
    import pandas as pd

    values = column.astype(str).str.strip()
    numeric = pd.to_numeric(values, errors="coerce").notna().mean()
    return bool(numeric < 0.5)


def numbers(table: EvalTable, column: str) -> pd.Series:
    import pandas as pd

    values = pd.to_numeric(table.frame[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        first = int(np.argmax(bad.to_numpy()))
        raise EvalDataError(
            f"{table.path}:{first + 2}: '{table.frame[column].iloc[first]}' in column "
            f"'{column}' is not a number"  # line numbers count the header as line 1
        )
    return values.astype(float)


def texts(table: EvalTable, column: str) -> list[str]:
    values = table.frame[column].astype(str).tolist()
    empty = [i for i, text in enumerate(values) if not text.strip()]
    if empty:
        raise EvalDataError(f"{table.path}:{empty[0] + 2}: empty text in column '{column}'")
    return values


def require_rows(table: EvalTable, minimum: int = MIN_ROWS) -> None:
    if len(table.frame) < minimum:
        raise EvalDataError(
            f"{table.path}: {len(table.frame)} rows; an evaluation needs at least {minimum}"
        )
