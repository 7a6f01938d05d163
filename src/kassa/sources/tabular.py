"""Reading what real exported files contain: a file read as a table of text cells below its header.

Ad platforms, analytics and CRMs export "CSV" that is rarely the clean CSV kassa's own format asks for.
:func:`read_table` turns such a file into a polars frame of **text** columns plus ``__line`` (the line or
spreadsheet row each row came from), ready for a source to rename columns, rewrite local spellings with
the expressions of :mod:`kassa.sources.helpers.values` and call :func:`kassa.sources.validate.validate`.
Bytes become text in :mod:`kassa.sources.helpers.text` (encodings, BOMs, delimiters) or
:mod:`kassa.sources.helpers.xlsx` (workbooks); JSON exports are read by
:mod:`kassa.sources.helpers.json_files`.

What :func:`read_table` copes with beyond that, and how:

* **Title lines above the header** (Google Ads UI: report name and date range; Yandex Direct API: report
  name) — the header is the first of the first 40 rows that contains at least ``min_hits`` of the column
  names the source knows; rows above it are kept in :attr:`TextTable.title_lines`.
* **Totals rows** (``Итого``, ``Всего``, ``Total: …``, ``Total rows: 5``), **repeated header lines**
  (exports concatenated by hand), **blank rows** and **empty trailing columns** are dropped; the
  dropped lines are listed in :attr:`TextTable.skipped` so nothing vanishes unexplained.
* A row with more non-empty cells than the header has is refused with a :class:`RowError`; a row with
  fewer cells is padded (spreadsheets drop trailing empty cells).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed, MissingColumn, RowError
from kassa.i18n import Translator
from kassa.sources.helpers.text import (
    decode,
    head_text,
    read_bytes,
    rows_from_text,
    sniff_delimiter,
    split_line,
)
from kassa.sources.helpers.xlsx import OLE_MAGIC, XLSX_MAGIC, rows_from_xlsx
from kassa.sources.validate import LINE

_ = Translator("sources")

HEADER_SEARCH_ROWS = 40
# Totals and summary rows of platform exports: Direct UI "Итого", Google Ads "Total: All campaigns",
# Direct Reports API footer "Total rows: 5", Russian "Всего"/"Итог".
TOTALS = re.compile(r"^\s*(итого|итог|всего|total|totals|grand total)\b", re.IGNORECASE)


@dataclass
class TextTable:
    """A file read as text cells: what :func:`read_table` returns.

    ``frame`` has one String column per header cell, named by :func:`norm_name` of the header text
    (a repeated name gets ``_2``, ``_3``…; an unnamed non-empty column becomes ``column_<n>``), plus
    ``__line`` (Int64). ``errors`` are rows refused while splitting (e.g. more cells than the header).
    """

    frame: pl.DataFrame
    header: list[str]
    header_line: int
    encoding: str
    delimiter: str | None
    title_lines: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    totals: list[tuple[int, list[str]]] = field(default_factory=list)  # cells of the dropped totals rows
    file: str = ""

    @property
    def rows_read(self) -> int:
        """Data rows of the file: loaded or refused (totals, repeated headers and blank rows excluded)."""
        return self.frame.height + len({e.line for e in self.errors})

    def with_frame(self, frame: pl.DataFrame, errors: list[RowError] | None = None) -> TextTable:
        """The same table with its rows replaced (e.g. duplicates removed) and more refused rows."""
        return dataclasses.replace(self, frame=frame, errors=[*self.errors, *(errors or [])])

    def has(self, *names: str) -> bool:
        return all(norm_name(n) in self.frame.columns for n in names)


def norm_name(name: object) -> str:
    """Header text compared case- and space-insensitively: ``" Расход (руб.) "`` -> ``"расход (руб.)"``."""
    text = "" if name is None else str(name)
    text = text.replace("\ufeff", "").replace("\u00a0", " ").replace("\u202f", " ").strip().strip('"').strip()
    return re.sub(r"\s+", " ", text).lower()


def read_rows(
    path: Path, *, delimiter: str | None = None, quote: str | None = '"', encoding: str | None = None
) -> tuple[list[tuple[int, list[str]]], str, str | None]:
    """Every record of a text or XLSX file as ``(line, cells)``, with the encoding and delimiter used."""
    file = str(path)
    data = read_bytes(path)
    if data.startswith(XLSX_MAGIC):
        return rows_from_xlsx(path, file), "xlsx", None
    if data.startswith(OLE_MAGIC):
        raise ImportFailed(
            _("{file}: an old Excel .xls workbook; save it as .xlsx or CSV and import that", file=file)
        )
    text, enc = decode(data, encoding)
    if not text.strip():
        raise ImportFailed(_("{file}: the file is empty", file=file))
    d = delimiter or sniff_delimiter(text[:65536].splitlines(), quote)
    return rows_from_text(text, d, quote, file), enc, d


def find_header(
    rows: Sequence[tuple[int, list[str]]], known: Collection[str], min_hits: int = 2
) -> int | None:
    """Index in ``rows`` of the first row (among the first 40) naming at least ``min_hits`` known columns."""
    want = {norm_name(k) for k in known}
    need = min(min_hits, len(want))
    for i, (_line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {norm_name(c) for c in cells}
        if len(names & want) >= need:
            return i
    return None


def is_totals(cells: Sequence[str]) -> bool:
    """A summary row: its first non-empty cell starts with Итого / Всего / Total."""
    for c in cells:
        if c.strip():
            return bool(TOTALS.match(c))
    return False


def _column_names(header: list[str], keep: list[int]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i in keep:
        base = norm_name(header[i]) if i < len(header) else ""
        if not base:
            base = f"column_{i + 1}"
        n = seen.get(base, 0) + 1
        seen[base] = n
        names.append(base if n == 1 else f"{base}_{n}")
    return names


def table_from_rows(
    rows: Sequence[tuple[int, list[str]]],
    header_index: int,
    *,
    file: str,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    drop_totals: bool = True,
) -> TextTable:
    """Build the :class:`TextTable` of rows below ``rows[header_index]`` (see the module docstring)."""
    header_line, header = rows[header_index]
    header = [h.strip() for h in header]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    header_norm = [norm_name(h) for h in header]
    title_lines = [" ".join(c for c in cells if c.strip()) for _l, cells in rows[:header_index]]
    skipped: list[tuple[int, str]] = []
    totals: list[tuple[int, list[str]]] = []
    errors: list[RowError] = []
    body: list[tuple[int, list[str]]] = []
    for line, cells in rows[header_index + 1 :]:
        if not any(c.strip() for c in cells):
            continue
        if [norm_name(c) for c in cells[:width]] == header_norm:
            skipped.append((line, "repeated header"))
            continue
        if drop_totals and is_totals(cells):
            skipped.append((line, "totals row"))
            totals.append((line, cells))
            continue
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            errors.append(
                RowError(
                    file,
                    line,
                    None,
                    extra[0],
                    _("the row has {n} cells but the header has {m}", n=len(cells), m=width),
                )
            )
            continue
        body.append((line, cells[:width] + [""] * (width - len(cells))))
    # Unnamed columns that are empty in every row are the export's trailing separators, not data.
    keep = [i for i in range(width) if header[i] or any(cells[i].strip() for _l, cells in body)]
    names = _column_names(header, keep)
    data: dict[str, list[str] | list[int]] = {
        n: [cells[i] for _l, cells in body] for n, i in zip(names, keep, strict=True)
    }
    data[LINE] = [line for line, _c in body]
    schema: dict[str, pl.DataType] = {n: pl.String() for n in names}
    schema[LINE] = pl.Int64()
    frame = pl.DataFrame(data, schema=schema)
    return TextTable(
        frame,
        [header[i] for i in keep],
        header_line,
        encoding,
        delimiter,
        title_lines,
        skipped,
        errors,
        totals,
        file,
    )


def read_table(
    path: Path,
    known: Collection[str],
    *,
    min_hits: int = 2,
    delimiter: str | None = None,
    quote: str | None = '"',
    encoding: str | None = None,
    drop_totals: bool = True,
    format_title: str = "",
) -> TextTable:
    """Read a CSV/TSV/XLSX export whose header names at least ``min_hits`` of the ``known`` columns.

    Raises :class:`ImportFailed` for unreadable files and :class:`MissingColumn` when no header is
    found (the message lists what was looked for, naming ``format_title`` if given).
    """
    rows, enc, d = read_rows(path, delimiter=delimiter, quote=quote, encoding=encoding)
    idx = find_header(rows, known, min_hits)
    if idx is None:
        expected = ", ".join(sorted(known)[:12])
        raise MissingColumn(
            _(
                "{file}: no header row with the columns of {format} found in the first {n} lines (looked for: {expected})",
                file=str(path),
                format=format_title or "this format",
                n=HEADER_SEARCH_ROWS,
                expected=expected,
            )
        )
    return table_from_rows(rows, idx, file=str(path), encoding=enc, delimiter=d, drop_totals=drop_totals)


def header_of(path: Path, head: bytes, known: Collection[str], min_hits: int = 2) -> list[str] | None:
    """The normalised header cells of a file if one of its first rows names ``known`` columns (for ``detect``).

    Text files are judged from ``head`` alone; an XLSX workbook is opened (read-only) to see its first rows.
    """
    try:
        if head.startswith(XLSX_MAGIC):
            rows = rows_from_xlsx(path, str(path))[:HEADER_SEARCH_ROWS]
        elif head.startswith(OLE_MAGIC):
            return None
        else:
            text = head_text(head)
            lines = text.splitlines()[:HEADER_SEARCH_ROWS]
            if lines and len(head) >= 65536:
                lines = lines[:-1]  # the last line of a cut sample may be incomplete
            d = sniff_delimiter(lines)
            rows = [(i + 1, split_line(ln, d, '"')) for i, ln in enumerate(lines)]
    except Exception:
        return None
    idx = find_header(rows, known, min_hits)
    return None if idx is None else [norm_name(c) for c in rows[idx][1]]


def pick_columns(
    table: TextTable,
    aliases: Mapping[str, Sequence[str]],
    *,
    required: Iterable[str],
    file: str,
    format_title: str,
) -> pl.DataFrame:
    """Frame of canonical column names (first alias present wins) plus ``__line``.

    ``aliases`` maps a canonical name to the header names a format may use for it; a missing required
    column raises :class:`MissingColumn` naming every alias that was looked for.
    """
    cols = table.frame.columns
    exprs: list[pl.Expr] = [pl.col(LINE)]
    missing: list[str] = []
    required_set = set(required)
    for canon, names in aliases.items():
        found = next((norm_name(n) for n in names if norm_name(n) in cols), None)
        if found is None:
            if canon in required_set:
                missing.append(f"{canon} ({' / '.join(names)})")
            continue
        exprs.append(pl.col(found).alias(canon))
    if missing:
        raise MissingColumn(
            _(
                "{file}: {format} export lacks column(s): {missing}",
                file=file,
                format=format_title,
                missing="; ".join(missing),
            )
        )
    return table.frame.select(exprs)
