"""CSV files the app hands out, safe to open in a spreadsheet.

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
