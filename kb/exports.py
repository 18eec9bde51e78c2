"""Tables out of the product: CSV and XLSX files for the bureau's reports and logs.

A report is a list of sheets, each a title and rows of cells. Text cells that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-`` or ``@``, and the tab/carriage-return
variants) are neutralised with a leading apostrophe, in both formats; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None | date | datetime
Sheet = tuple[str, Sequence[Sequence[Any]]]


def neutralise(value: Any) -> Cell:
    """A cell safe to open in a spreadsheet: numbers as they are, dangerous text quoted."""
    if value is None or isinstance(value, bool):
        return "" if value is None else ("是" if value else "否")
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(sheets: Iterable[Sheet]) -> bytes:
    """CSV with a BOM (Excel opens it as UTF-8); several sheets follow one another, each under
    its title, separated by an empty line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for n, (title, rows) in enumerate(sheets):
        if n:
            writer.writerow([])
        if title:
            writer.writerow([neutralise(title)])
        for row in rows:
            writer.writerow([neutralise(c) for c in row])
    return out.getvalue().encode("utf-8-sig")


def _sheet_title(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    clean = "".join("_" if c in "[]:*?/\\" else c for c in title)[:31] or "Sheet"
    name, n = clean, 1
    while name in used:
        n += 1
        name = f"{clean[:28]}({n})"
    used.add(name)
    return name


def to_xlsx(sheets: Iterable[Sheet]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    for title, rows in sheets:
        sheet = workbook.create_sheet(_sheet_title(title, used))
        for row in rows:
            # neutralised text is stored as a string, so Excel never evaluates it
            sheet.append([neutralise(c) for c in row])
        for column in sheet.columns:
            width = max((len(str(c.value or "")) for c in column), default=8)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(8, width * 2))
    if not workbook.sheetnames:
        workbook.create_sheet("Sheet")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(sheets: list[Sheet], fmt: str) -> bytes:
    return to_csv(sheets) if fmt == "csv" else to_xlsx(sheets)
