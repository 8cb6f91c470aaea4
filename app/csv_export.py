"""Tables the app hands out (CSV safe to open in a spreadsheet, Parquet, JSONL).

A cell that starts with `=`, `+`, `-` or `@` (or a tab or line break) is read as a formula by
Excel, LibreOffice and Google Sheets: a question such as `=HYPERLINK(...)` would run. OWASP's
advice is to prefix such a cell with a single quote, which spreadsheets show as text.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise_formula(value: Any) -> Any:
    """A string cell that a spreadsheet would evaluate, quoted; any other value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised; numeric, boolean and date columns stay as
    they are (a negative score is a number, not a formula)."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or pd.api.types.is_datetime64_any_dtype(values)
        ):
            safe[column] = values.map(neutralise_formula)
    return safe


def safe_csv(frame: pd.DataFrame) -> bytes:
    """`frame` as UTF-8 CSV bytes, without an index, formulas neutralised."""
    return neutralise_formulas(frame).to_csv(index=False).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as Parquet. A column of mixed values (numbers and text under one JSONL key, say)
    has no Parquet type: such columns are written as text, blanks kept."""
    import io

    import pyarrow as pa

    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (pa.ArrowException, TypeError):
        frame = frame.copy()
        for column in frame.columns[frame.dtypes == object]:  # noqa: E721  (a dtype)
            frame[column] = frame[column].map(lambda v: v if v is None else str(v))
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def jsonl_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8")


def table_bytes(frame: pd.DataFrame, kind: str) -> bytes:
    """The app's downloads, one way for every front end: 'csv' (spreadsheet-safe), 'parquet'
    or 'jsonl'."""
    if kind == "parquet":
        return parquet_bytes(frame)
    if kind == "jsonl":
        return jsonl_bytes(frame)
    return safe_csv(frame)
