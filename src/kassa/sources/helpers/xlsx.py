"""Excel workbooks (openpyxl, read-only, cached values) read as the text a CSV export would have held.

Numbers become their shortest decimal text, dates ISO text; each row keeps its spreadsheet row number.
A legacy ``.xls`` workbook (OLE2) is recognised by its magic bytes so it can be refused by name.

A workbook is a ZIP archive: a 330 KB upload can unpack to 70 MB of sheet XML. Before openpyxl sees it,
:func:`check_archive` adds up the unpacked sizes the archive's central directory declares (Python's
``zipfile`` never returns more than an entry declares, so the sum bounds what can be read) and refuses a
workbook over ``import_limits.xlsx_unpacked_bytes`` or packed more densely than ``xlsx_ratio``. Rows are
streamed (:func:`iter_xlsx_rows`) and counted against ``import_limits.rows``; format detection reads only
the first rows, once per file (:func:`head_rows`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from kassa.errors import ImportFailed
from kassa.i18n import Translator
from kassa.settings import ImportLimits

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


# A workbook this small cannot hurt however densely it is packed (a sheet of one repeated cell packs
# 300:1); the ratio is judged only above it.
RATIO_FLOOR_BYTES = 16 * 2**20


def check_archive(path: Path, file: str, limits: ImportLimits) -> None:
    """Refuse a workbook whose declared unpacked size or packing ratio is beyond ``limits``."""
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(file, exc) from None
    packed = max(path.stat().st_size, 1)
    ratio = unpacked / packed
    if unpacked > limits.xlsx_unpacked_bytes or (unpacked > RATIO_FLOOR_BYTES and ratio > limits.xlsx_ratio):
        raise ImportFailed(
            _(
                "{file}: the workbook unpacks to {unpacked} MiB from {packed} KiB ({ratio:.0f} times its size); kassa reads at most {limit} MiB unpacked and {max_ratio:.0f} times the file's size (import_limits.xlsx_unpacked_bytes and xlsx_ratio in the settings). Real exports pack about 10 times: save the sheet again from Excel, or export CSV",
                file=file,
                unpacked=unpacked // 2**20,
                packed=packed // 1024,
                ratio=ratio,
                limit=limits.xlsx_unpacked_bytes // 2**20,
                max_ratio=limits.xlsx_ratio,
            )
        )


def _sheet_rows(ws: Any, file: str, limits: ImportLimits) -> Iterator[tuple[int, list[str]]]:
    # Read-only sheets trust the <dimension> the writer recorded; Yandex Direct writes
    # ref="A1" whatever the sheet holds, so only row 1 would be read. Forget it and read every row.
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    seen = 0
    for row in ws.iter_rows():
        seen += 1  # empty rows too: a sheet of a million empty rows costs the time of a million
        if seen > limits.rows:
            raise ImportFailed(
                _(
                    "{file}: the sheet has more than {limit} rows (import_limits.rows in the settings); split it, or export CSV by month",
                    file=file,
                    limit=limits.rows,
                )
            )
        cells = [c for c in row if getattr(c, "row", None) is not None]
        if not cells:
            continue
        number = cells[0].row
        width = max(c.column for c in cells)
        values = [""] * width
        for c in cells:
            text = cell_text(c.value)
            if len(text) > limits.field_chars:
                raise ImportFailed(
                    _(
                        "{file}, line {line}, column {column}: the cell is {n} characters long, more than {limit} (import_limits.field_chars in the settings)",
                        file=file,
                        line=number,
                        column=c.column_letter,
                        n=len(text),
                        limit=limits.field_chars,
                    )
                )
            values[c.column - 1] = text
        yield number, values


def _first_sheet_with_data(wb: Any, file: str, limits: ImportLimits) -> Iterator[tuple[int, list[str]]]:
    for ws in wb.worksheets:
        blank: list[tuple[int, list[str]]] = []  # rows before the first with data: kept, as a CSV keeps them
        rows = _sheet_rows(ws, file, limits)
        for number, values in rows:
            if not any(v.strip() for v in values):
                blank.append((number, values))
                continue
            yield from blank
            yield number, values
            yield from rows
            return


@contextlib.contextmanager
def _workbook(path: Path, file: str) -> Iterator[Any]:
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
            yield wb
        finally:
            wb.close()


def iter_xlsx_rows(
    path: Path, file: str, limits: ImportLimits
) -> Generator[tuple[int, list[str]], None, None]:
    """Rows of the first worksheet that has any data, streamed; row numbers are the spreadsheet's."""
    check_archive(path, file, limits)
    with _workbook(path, file) as wb:
        rows = _first_sheet_with_data(wb, file, limits)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except ImportFailed:
                raise
            except Exception as exc:  # damaged sheet XML, bad shared-string index…
                raise _unreadable(file, exc) from None
            yield row


_HEADS: OrderedDict[tuple[object, ...], list[tuple[int, list[str]]] | ImportFailed] = OrderedDict()
_HEADS_KEPT = 16
_HEADS_LOCK = threading.Lock()  # the dashboard detects uploads on worker threads


def head_rows(path: Path, n: int, limits: ImportLimits | None = None) -> list[tuple[int, list[str]]]:
    """The first ``n`` rows of a workbook, for format detection; an unreadable one raises ImportFailed.

    Every XLSX-capable format looks at the same rows; without the cache each of them opened and parsed
    the workbook again (9 times for one file). Keyed by path, modification time and size, so a file
    replaced in place is read afresh; a refusal is kept too, so a bad file is not opened 9 times either.
    """
    limits = limits or ImportLimits()
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, n, *limits.model_dump().values())
    with _HEADS_LOCK:
        kept = _HEADS.get(key)
        if kept is not None:
            _HEADS.move_to_end(key)
    if kept is None:
        rows: list[tuple[int, list[str]]] = []
        try:
            with contextlib.closing(iter_xlsx_rows(path, str(path), limits)) as it:
                for row in it:
                    rows.append(row)
                    if len(rows) >= n:
                        break
            kept = rows
        except ImportFailed as exc:
            kept = exc
        with _HEADS_LOCK:
            _HEADS[key] = kept
            while len(_HEADS) > _HEADS_KEPT:
                _HEADS.popitem(last=False)
    if isinstance(kept, ImportFailed):
        raise kept
    return [(line, list(cells)) for line, cells in kept]  # callers may edit their copy
