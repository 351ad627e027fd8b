"""Tables leaving the system as CSV or XLSX, safe to open in a spreadsheet.

A spreadsheet treats a cell whose text starts with = + - @ (or a tab or carriage return, which some
programs strip first) as a formula, so a vendor's title or a judge's comment such as
`=HYPERLINK("https://evil.example","Open")` would run on the computer of whoever opens the export.
This module holds the one rule for every export (judging results, applications, subscribers): in
CSV such text gets a leading single quote, the spreadsheet convention for "this is text"; in XLSX
it is written as a text cell (never a formula) marked with the same quote prefix. Only text is
touched: numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def cell_safe(value: Any) -> Any:
    """`value` as a CSV cell: text a spreadsheet would run gets a leading quote; anything else is unchanged."""
    return "'" + value if is_formula_like(value) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell (and column name) passed through `cell_safe`. Numeric columns are left
    alone, and text columns keep their very objects where nothing needs a quote, so a table without
    formula-like text gives the same CSV bytes as before."""
    columns = [cell_safe(c) for c in frame.columns]
    changed = {}
    for n in range(frame.shape[1]):
        series = frame.iloc[:, n]
        if series.dtype != object or not any(is_formula_like(v) for v in series):
            continue
        changed[n] = pd.Series([cell_safe(v) for v in series], index=series.index, dtype=object)
    if not changed and columns == list(frame.columns):
        return frame
    out = frame.copy()
    for n, series in changed.items():
        out.isetitem(n, series)
    out.columns = columns
    return out


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """A CSV for people: safe cells, with a BOM so that Excel reads UTF-8 correctly."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def frame_to_xlsx(frame: pd.DataFrame, sheet_name: str) -> bytes:
    """An XLSX workbook of `frame`; formula-like text is written as text with a quote prefix, never as a
    formula (openpyxl would otherwise store any text starting with = as one)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet_name)
        for row in writer.sheets[sheet_name].iter_rows():
            for cell in row:
                if is_formula_like(cell.value):
                    cell.data_type = "s"
                    cell.quotePrefix = True
    return buffer.getvalue()
