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
* **Size.** Rows are streamed from the file (text decoded incrementally, XLSX sheet XML parsed as it is
  read) into polars frames of :data:`CHUNK_ROWS` rows, so memory holds the text columns, not the file
  and its lines; fields, lines, rows and the unpacked size of a workbook are bounded by the settings'
  ``import_limits`` (:class:`kassa.settings.ImportLimits`), refused naming the file, line and column.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed, MissingColumn, RowError
from kassa.i18n import Translator
from kassa.settings import ImportLimits
from kassa.sources.helpers.text import (
    HEAD_BYTES,
    TextRecords,
    detect_file_encoding,
    head_of_file,
    head_text,
    sniff_delimiter,
    split_line,
)
from kassa.sources.helpers.xlsx import OLE_MAGIC, XLSX_MAGIC, head_rows, iter_xlsx_rows
from kassa.sources.validate import LINE

_ = Translator("sources")

HEADER_SEARCH_ROWS = 40
CHUNK_ROWS = 65_536  # rows turned into a polars frame at a time: Python lists of that many rows, not more
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


Rows = Iterator[tuple[int, list[str]]]


def read_rows(
    path: Path,
    *,
    delimiter: str | None = None,
    quote: str | None = '"',
    encoding: str | None = None,
    limits: ImportLimits | None = None,
) -> tuple[Rows, str, str | None, TextRecords | None]:
    """Every record of a text or XLSX file as ``(line, cells)``, streamed, with the encoding and
    delimiter used and, for text, the :class:`TextRecords` (whose ``header`` names columns in errors)."""
    file = str(path)
    limits = limits or ImportLimits()
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as exc:
        raise ImportFailed(
            _("{file}: cannot read the file ({reason})", file=file, reason=exc.strerror or str(exc))
        ) from None
    if magic.startswith(XLSX_MAGIC):
        return iter_xlsx_rows(path, file, limits), "xlsx", None, None
    if magic.startswith(OLE_MAGIC):
        raise ImportFailed(
            _("{file}: an old Excel .xls workbook; save it as .xlsx or CSV and import that", file=file)
        )
    enc = encoding or detect_file_encoding(path)
    head = head_of_file(path, enc)
    if not head.strip() and path.stat().st_size <= HEAD_BYTES:
        raise ImportFailed(_("{file}: the file is empty", file=file))
    lines = head.splitlines()
    if path.stat().st_size > HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample may be incomplete
    d = delimiter or sniff_delimiter(lines, quote)
    records = TextRecords(path, delimiter=d, quote=quote, encoding=enc, limits=limits, file=file)
    return iter(records), enc, d, records


def _too_many_rows(file: str, limits: ImportLimits) -> ImportFailed:
    return ImportFailed(
        _(
            "{file}: more than {limit} rows (import_limits.rows in the settings); split the file, e.g. by month",
            file=file,
            limit=limits.rows,
        )
    )


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
    body: Iterable[tuple[int, list[str]]] | None = None,
    limits: ImportLimits | None = None,
) -> TextTable:
    """Build the :class:`TextTable` of rows below ``rows[header_index]`` (see the module docstring).

    ``body``, if given, is the rest of the file after ``rows`` (streamed); the rows are gathered
    :data:`CHUNK_ROWS` at a time into frames.
    """
    limits = limits or ImportLimits()
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
    unnamed = [i for i in range(width) if not header[i]]
    filled: set[int] = set()  # unnamed columns with a value in some row
    frames: list[pl.DataFrame] = []
    chunk: list[list[str]] = []
    lines: list[int] = []
    tmp = [f"c{i}" for i in range(width)]

    def flush() -> None:
        if lines:
            cols = {tmp[i]: [cells[i] for cells in chunk] for i in range(width)}
            frame = pl.DataFrame(cols, schema=dict.fromkeys(tmp, pl.String()))
            frames.append(frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64)))
            chunk.clear()
            lines.clear()

    count = 0
    for line, cells in itertools.chain(rows[header_index + 1 :], body or ()):
        count += 1
        if count > limits.rows:
            raise _too_many_rows(file, limits)
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
        padded = cells[:width] + [""] * (width - len(cells))
        for i in unnamed:
            if i not in filled and padded[i].strip():
                filled.add(i)
        chunk.append(padded)
        lines.append(line)
        if len(lines) >= CHUNK_ROWS:
            flush()
    flush()
    # Unnamed columns that are empty in every row are the export's trailing separators, not data.
    keep = [i for i in range(width) if header[i] or i in filled]
    names = _column_names(header, keep)
    schema: dict[str, pl.DataType] = {n: pl.String() for n in names}
    schema[LINE] = pl.Int64()
    if frames:
        frame = pl.concat(frames, rechunk=False).select(
            *[pl.col(tmp[i]).alias(n) for n, i in zip(names, keep, strict=True)], pl.col(LINE)
        )
    else:
        frame = pl.DataFrame(schema=schema)
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
    limits: ImportLimits | None = None,
) -> TextTable:
    """Read a CSV/TSV/XLSX export whose header names at least ``min_hits`` of the ``known`` columns.

    Raises :class:`ImportFailed` for unreadable files (or beyond ``limits``, by default the settings'
    defaults) and :class:`MissingColumn` when no header is found (the message lists what was looked
    for, naming ``format_title`` if given).
    """
    stream, enc, d, records = read_rows(
        path, delimiter=delimiter, quote=quote, encoding=encoding, limits=limits
    )
    rows = list(itertools.islice(stream, HEADER_SEARCH_ROWS))
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
    if records is not None:
        records.header = rows[idx][1]
    return table_from_rows(
        rows,
        idx,
        file=str(path),
        encoding=enc,
        delimiter=d,
        drop_totals=drop_totals,
        body=stream,
        limits=limits,
    )


def header_of(path: Path, head: bytes, known: Collection[str], min_hits: int = 2) -> list[str] | None:
    """The normalised header cells of a file if one of its first rows names ``known`` columns (for ``detect``).

    Text files are judged from ``head`` alone; an XLSX workbook is opened (read-only) to see its first rows.
    """
    try:
        if head.startswith(XLSX_MAGIC):
            rows = head_rows(path, HEADER_SEARCH_ROWS)
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
