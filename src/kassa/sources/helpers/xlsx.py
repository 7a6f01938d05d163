"""Excel workbooks (openpyxl, read-only, cached values) read as the text a CSV export would have held.

Numbers become their shortest decimal text, dates ISO text; each row keeps its spreadsheet row number.
A legacy ``.xls`` workbook (OLE2) is recognised by its magic bytes so it can be refused by name.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

from kassa.errors import ImportFailed
from kassa.i18n import Translator

_ = Translator("sources")

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other OLE2 files)


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a CSV export would have held."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return (
            value.isoformat(sep=" ")
            if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _unreadable(file: str, exc: Exception) -> ImportFailed:
    """The error for a workbook openpyxl cannot read, naming what it raised."""
    return ImportFailed(
        _(
            "{file}: not a readable XLSX workbook ({reason})",
            file=file,
            reason=type(exc).__name__ + (f": {exc}" if str(exc) else ""),
        )
    )


def _first_sheet_with_data(wb: Any) -> list[tuple[int, list[str]]]:
    for ws in wb.worksheets:
        # Read-only sheets trust the <dimension> the writer recorded; Yandex Direct writes
        # ref="A1" whatever the sheet holds, so only row 1 would be read. Forget it and read every row.
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()
        rows: list[tuple[int, list[str]]] = []
        for row in ws.iter_rows():
            cells = [c for c in row if getattr(c, "row", None) is not None]
            if not cells:
                continue
            number = cells[0].row
            width = max(c.column for c in cells)
            values = [""] * width
            for c in cells:
                values[c.column - 1] = cell_text(c.value)
            rows.append((number, values))
        if any(any(v.strip() for v in cells) for _n, cells in rows):
            return rows
    return []


def rows_from_xlsx(path: Path, file: str) -> list[tuple[int, list[str]]]:
    """Rows of the first worksheet that has any data; row numbers are the spreadsheet's."""
    import openpyxl

    with warnings.catch_warnings():
        # openpyxl warns about styles it cannot use ("Workbook contains no default style" in Direct's
        # exports); only cached values are read, so that is noise to the user, not a problem.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (
            Exception
        ) as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…) on bad files
            raise _unreadable(file, exc) from None
        try:
            return _first_sheet_with_data(wb)
        except Exception as exc:
            raise _unreadable(file, exc) from None
        finally:
            wb.close()
