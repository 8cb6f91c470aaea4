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
import numpy.typing as npt

from db.errors import QclustError

if TYPE_CHECKING:  # pandas loads when a file is read, not with every `qclust` command
    import pandas as pd

LABEL_GUESSES = ("label", "is_duplicate", "duplicate", "score", "similarity", "relevance")
MIN_ROWS = 2
CODE_LENGTH = 8  # mean characters of a column such as "lang" (en, de-CH, zh-TW)


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


def text_columns(
    table: EvalTable, names: Sequence[str] | None, count: int, skip: str | Sequence[str]
) -> list[str]:
    """`count` text columns: the named ones, else the first columns (not `skip`) holding text."""
    skipped = {skip} if isinstance(skip, str) else set(skip)
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
    found = [c for c in columns if c not in skipped and _holds_text(table.frame[c])]
    if len(found) < count:
        raise EvalDataError(
            f"{table.path}: needs {count} text columns, found {len(found)} "
            f"({', '.join(found) or 'none'}); name them with --text-column"
        )
    return found[:count]


def _holds_text(column: pd.Series) -> bool:
    """Mostly not numbers, and not a code column (a language, a label: short and repeated)."""
    import pandas as pd

    values = column.astype(str).str.strip()
    numeric = pd.to_numeric(values, errors="coerce").notna().mean()
    code = values.str.len().mean() <= CODE_LENGTH and values.nunique() <= len(values) / 2
    return bool(numeric < 0.5 and not code)


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


def select_groups(
    table: EvalTable, column: str | None, wanted: Sequence[str] | None = None
) -> tuple[EvalTable, list[str] | None]:
    """Each row's group, such as its language (None without `column`); only `wanted` ones kept."""
    if column is None:
        if wanted:
            raise EvalDataError("choosing languages needs a language column (--lang-column)")
        return table, None
    frame = table.frame
    if column not in frame.columns:
        raise EvalDataError(
            f"{table.path}: no column '{column}'; columns: {', '.join(frame.columns)}"
        )
    values = frame[column].astype(str)
    if wanted:
        missing = [group for group in wanted if group not in set(values)]
        if missing:
            raise EvalDataError(
                f"{table.path}: no rows in {', '.join(missing)}; "
                f"'{column}' holds {', '.join(sorted(set(values)))}"
            )
        frame = frame[values.isin(wanted).to_numpy()].reset_index(drop=True)
        table = EvalTable(table.path, frame, table.sha256)
    return table, frame[column].astype(str).tolist()


@dataclass(frozen=True)
class PairsFile:
    """Two text columns and a label or score per row, read and checked (and a group per row,
    such as its language, when asked for)."""

    table: EvalTable
    first: list[str]
    second: list[str]
    scores: npt.NDArray[np.float64]
    groups: list[str] | None = None

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        return self.scores.astype(np.int64)


def read_pairs(
    path: Path,
    *,
    text_names: Sequence[str] | None = None,
    label: str | None = None,
    binary: bool = True,
    min_rows: int = MIN_ROWS,
    group_column: str | None = None,
    groups: Sequence[str] | None = None,
) -> PairsFile:
    """A pairs file for `eval pairs|sts`, `calibrate` and `train`; `binary`: labels are 0/1.

    `group_column` (a language column) is read as each row's group; `groups` keeps those only.
    """
    table, row_groups = select_groups(read_table(path), group_column, groups)
    require_rows(table, min_rows)
    label_name = label_column(table, label)
    skip = [label_name, *([group_column] if group_column else [])]
    first, second = text_columns(table, text_names, 2, skip)
    values = numbers(table, label_name)
    if binary and not values.isin([0, 1]).all():
        bad = values[~values.isin([0, 1])].iloc[0]
        raise EvalDataError(f"{path}: labels must be 0 or 1; column '{label_name}' has {bad:g}")
    return PairsFile(
        table,
        texts(table, first),
        texts(table, second),
        values.to_numpy(dtype=np.float64),
        row_groups,
    )


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """The counterpart of `read_table`: the format by suffix; refuses to overwrite a file."""
    if path.exists():
        raise EvalDataError(f"{path} exists; choose a new file")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_NONE, escapechar="\\")
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise EvalDataError(f"{path}: unknown file type '{suffix}'; use CSV, TSV, JSONL or Parquet")
