"""Reading what real exported files contain: the shared toolkit of every tabular source.

Ad platforms, analytics and CRMs export "CSV" that is rarely the clean CSV kassa's own format asks for.
This module turns such a file into a polars frame of **text** columns plus ``__line`` (the line or
spreadsheet row each row came from), ready for a source to rename columns and call
:func:`kassa.sources.validate.validate`, which is strict (ISO dates, dot decimals). In between, the
expressions :func:`number_text`, :func:`micros_text`, :func:`date_text`, :func:`timestamp_text` and
:func:`epoch_text` rewrite local spellings into that canonical text, vectorised.

What :func:`read_table` copes with, and how:

* **Encodings** — a BOM decides (UTF-8, UTF-16 LE/BE); UTF-16 without a BOM is recognised by its NUL
  bytes; otherwise strict UTF-8, else the single-byte Cyrillic code page whose decoding yields more
  Cyrillic letters (cp1251 for Russian Excel, cp866 for old DOS exports).
* **Delimiters** — ``;`` (Russian Excel), ``,`` and tab are sniffed: the one that splits the most lines
  into the same number (≥ 2) of cells wins.
* **Title lines above the header** (Google Ads UI: report name and date range; Yandex Direct API: report
  name) — the header is the first of the first 40 rows that contains at least ``min_hits`` of the column
  names the source knows; rows above it are kept in :attr:`TextTable.title_lines`.
* **Totals rows** (``Итого``, ``Всего``, ``Total: …``, ``Total rows: 5``), **repeated header lines**
  (exports concatenated by hand), **blank rows** and **empty trailing columns** are dropped; the
  dropped lines are listed in :attr:`TextTable.skipped` so nothing vanishes unexplained.
* **XLSX** (openpyxl, read-only, cached values): numbers become their shortest decimal text, dates ISO
  text; ``__line`` is the spreadsheet row number.
* A row with more non-empty cells than the header has is refused with a :class:`RowError`; a row with
  fewer cells is padded (spreadsheets drop trailing empty cells).

Local number and date spellings handled by the expressions: ``1 234 567,89`` (space, no-break space
U+00A0, narrow no-break space U+202F or thin space as thousands separator), ``"1,204"`` (English
thousands), ``1.234,50``, currency signs and words (₽, руб., р., $, €, RUB, USD…), a ``%`` suffix,
the Unicode minus; ``27.11.2026``, ``27.11.2026 14:05``, ISO, ``20261127``, Excel serial day numbers
(``46353`` = 2026-11-27, day 0 = 1899-12-30), ``1 September 2026`` and ``September 1, 2026``. A value
that cannot be rewritten is passed on **unchanged**, so ``validate`` refuses it quoting what the file said.

Line numbers are exact: text is split with :mod:`csv`, whose ``line_num`` counts physical lines, so a
quoted cell spanning lines does not shift the lines reported after it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed, MissingColumn, RowError
from kassa.i18n import Translator
from kassa.sources.validate import LINE

_ = Translator("sources")

HEADER_SEARCH_ROWS = 40
DELIMITERS = (";", ",", "\t")
# Totals and summary rows of platform exports: Direct UI "Итого", Google Ads "Total: All campaigns",
# Direct Reports API footer "Total rows: 5", Russian "Всего"/"Итог".
TOTALS = re.compile(r"^\s*(итого|итог|всего|total|totals|grand total)\b", re.IGNORECASE)
NULL_MARKERS = ("", "-", "--", "—", "–", "n/a", "N/A", "null", "NULL", "None")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other OLE2 files)
EXCEL_EPOCH = "1899-12-30"  # Excel day 0 (the 1900 leap-year bug makes day 60 = 1900-02-29, unused here)


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


# --------------------------------------------------------------------------------------------------
# Encodings and delimiters


def norm_name(name: object) -> str:
    """Header text compared case- and space-insensitively: ``" Расход (руб.) "`` -> ``"расход (руб.)"``."""
    text = "" if name is None else str(name)
    text = text.replace("\ufeff", "").replace("\u00a0", " ").replace("\u202f", " ").strip().strip('"').strip()
    return re.sub(r"\s+", " ", text).lower()


def _cyrillic_share(text: str) -> float:
    high = [c for c in text if ord(c) > 127]
    if not high:
        return 1.0
    return sum(1 for c in high if "А" <= c <= "я" or c in "Ёё") / len(high)


def detect_encoding(data: bytes) -> str:
    """The Python codec name ``data`` is written in (see the module docstring for the rules)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = data[:4096]
    if len(sample) >= 4:
        # UTF-16 text of mostly ASCII/Cyrillic has a NUL (or 0x04 for Cyrillic) in every other byte.
        even_nul = sample[0::2].count(0)
        odd_nul = sample[1::2].count(0)
        half = len(sample) / 2
        if odd_nul > 0.3 * half and even_nul < 0.05 * half:
            return "utf-16-le"
        if even_nul > 0.3 * half and odd_nul < 0.05 * half:
            return "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of a head sample is still UTF-8.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    cp1251 = data[:65536].decode("cp1251", errors="replace")
    cp866 = data[:65536].decode("cp866", errors="replace")
    return "cp866" if _cyrillic_share(cp866) > _cyrillic_share(cp1251) else "cp1251"


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """``(text, encoding)``; undecodable bytes become U+FFFD rather than failing the whole file."""
    enc = encoding or detect_encoding(data)
    return data.decode(enc, errors="replace").lstrip("\ufeff"), enc


def head_text(head: bytes) -> str:
    """The first bytes of a file as text, for ``Source.detect`` (any of the encodings above)."""
    if head.startswith(XLSX_MAGIC) or head.startswith(OLE_MAGIC):
        return ""
    text, _enc = decode(head)
    return text


def _split_line(line: str, delimiter: str, quote: str | None) -> list[str]:
    try:
        return next(
            csv.reader(
                [line],
                delimiter=delimiter,
                quotechar=quote or '"',
                quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
            )
        )
    except (csv.Error, StopIteration):
        return line.split(delimiter)


def sniff_delimiter(lines: Sequence[str], quote: str | None = '"') -> str:
    """The delimiter (``;``, ``,`` or tab) that splits the most lines into the same cell count ≥ 2.

    Title lines above a header usually have no delimiter at all, so they do not vote; ties go to the
    larger cell count (a decimal comma inside ``;``-separated rows adds cells only on some lines).
    """
    best, best_score = ",", (0, 0)
    sample = [ln for ln in lines[:60] if ln.strip()]
    for d in DELIMITERS:
        counts: dict[int, int] = {}
        for ln in sample:
            n = len(_split_line(ln, d, quote))
            if n >= 2:
                counts[n] = counts.get(n, 0) + 1
        if not counts:
            continue
        width, votes = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if (votes, width) > best_score:
            best, best_score = d, (votes, width)
    return best


# --------------------------------------------------------------------------------------------------
# Rows


def _rows_from_text(text: str, delimiter: str, quote: str | None, file: str) -> list[tuple[int, list[str]]]:
    """``(first physical line, cells)`` for every record of the text."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    buf = io.StringIO(text, newline="")
    reader = csv.reader(
        buf,
        delimiter=delimiter,
        quotechar=quote or '"',
        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
        strict=False,
    )
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            out.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFailed(
            _(
                "{file}, line {line}: cannot split the line into cells: {reason}",
                file=file,
                line=start,
                reason=str(exc),
            )
        ) from None
    return out


def _cell_text(value: object) -> str:
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


def _rows_from_xlsx(path: Path, file: str) -> list[tuple[int, list[str]]]:
    """Rows of the first worksheet that has any data; row numbers are the spreadsheet's."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, ValueError…) on bad files
        raise ImportFailed(
            _(
                "{file}: not a readable XLSX workbook ({reason})",
                file=file,
                reason=type(exc).__name__ + (f": {exc}" if str(exc) else ""),
            )
        ) from None
    try:
        for ws in wb.worksheets:
            rows: list[tuple[int, list[str]]] = []
            for row in ws.iter_rows():
                cells = [c for c in row if getattr(c, "row", None) is not None]
                if not cells:
                    continue
                number = cells[0].row
                width = max(c.column for c in cells)
                values = [""] * width
                for c in cells:
                    values[c.column - 1] = _cell_text(c.value)
                rows.append((number, values))
            if any(any(v.strip() for v in cells) for _n, cells in rows):
                return rows
        return []
    except Exception as exc:
        raise ImportFailed(
            _(
                "{file}: not a readable XLSX workbook ({reason})",
                file=file,
                reason=type(exc).__name__ + (f": {exc}" if str(exc) else ""),
            )
        ) from None
    finally:
        wb.close()


def read_rows(
    path: Path, *, delimiter: str | None = None, quote: str | None = '"', encoding: str | None = None
) -> tuple[list[tuple[int, list[str]]], str, str | None]:
    """Every record of a text or XLSX file as ``(line, cells)``, with the encoding and delimiter used."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed(
            _("{file}: cannot read the file ({reason})", file=file, reason=exc.strerror or str(exc))
        ) from None
    if data.startswith(XLSX_MAGIC):
        return _rows_from_xlsx(path, file), "xlsx", None
    if data.startswith(OLE_MAGIC):
        raise ImportFailed(
            _("{file}: an old Excel .xls workbook; save it as .xlsx or CSV and import that", file=file)
        )
    text, enc = decode(data, encoding)
    if not text.strip():
        raise ImportFailed(_("{file}: the file is empty", file=file))
    d = delimiter or sniff_delimiter(text[:65536].splitlines(), quote)
    return _rows_from_text(text, d, quote, file), enc, d


# --------------------------------------------------------------------------------------------------
# Header, totals, frame


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
            rows = _rows_from_xlsx(path, str(path))[:HEADER_SEARCH_ROWS]
        elif head.startswith(OLE_MAGIC):
            return None
        else:
            text = head_text(head)
            lines = text.splitlines()[:HEADER_SEARCH_ROWS]
            if lines and len(head) >= 65536:
                lines = lines[:-1]  # the last line of a cut sample may be incomplete
            d = sniff_delimiter(lines)
            rows = [(i + 1, _split_line(ln, d, '"')) for i, ln in enumerate(lines)]
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


# --------------------------------------------------------------------------------------------------
# Values -> canonical text (polars expressions)


def nulls(s: pl.Expr) -> pl.Expr:
    """Trimmed text with the exports' "no value" markers (``--``, ``—``, ``n/a``…) made null."""
    t = s.cast(pl.String).str.strip_chars()
    return pl.when(t.is_in(list(NULL_MARKERS))).then(None).otherwise(t).name.keep()


_CURRENCY = r"(?i)(₽|руб\.?|р\.|\brub\b|\busd\b|\beur\b|\$|€|£|₸|%)"
_NUMBER = r"^-?\d+(\.\d+)?$"


def number_text(s: pl.Expr, decimal: str = "auto") -> pl.Expr:
    """Local number text -> canonical ``"1234.50"`` (digits kept exactly; no float round trip).

    Like every value expression here, the result keeps the input column's name.

    ``decimal`` is ``","``, ``"."`` or ``"auto"``. Auto, per value: with both separators the later one
    is the decimal mark (``1.234,50``, ``1,234.50``); a lone comma or dot followed by exactly three
    digits in groups (``1,204``, ``12,345,678``) separates thousands; any other lone comma is a decimal
    comma (``189,24``). Unparseable text is returned unchanged for ``validate`` to refuse.
    """
    raw = nulls(s)
    t = (
        raw.str.replace_all(_CURRENCY, "")
        .str.replace_all("\u2212", "-")
        .str.replace_all(r"[\s\u00a0\u202f\u2009']", "")
    )
    t = pl.when(t.str.contains(r"^\(.*\)$")).then(pl.lit("-") + t.str.strip_chars("()")).otherwise(t)
    if decimal == ",":
        out = t.str.replace_all(r"\.", "").str.replace(",", ".", literal=True)
    elif decimal == ".":
        out = t.str.replace_all(",", "", literal=True)
    else:
        last_comma = t.str.find(r",[^,]*$")
        last_dot = t.str.find(r"\.[^.]*$")
        both = last_comma.is_not_null() & last_dot.is_not_null()
        comma_decimal = (both & (last_comma > last_dot)) | (
            last_comma.is_not_null() & last_dot.is_null() & ~t.str.contains(r"^-?\d{1,3}(,\d{3})+$")
        )
        dot_thousands = (
            last_dot.is_not_null() & last_comma.is_null() & t.str.contains(r"^-?\d{1,3}(\.\d{3}){2,}$")
        )
        out = (
            pl.when(comma_decimal)
            .then(t.str.replace_all(r"\.", "").str.replace(",", ".", literal=True))
            .when(dot_thousands)
            .then(t.str.replace_all(r"\.", ""))
            .otherwise(t.str.replace_all(",", "", literal=True))
        )
    return (
        pl.when(raw.is_null()).then(None).when(out.str.contains(_NUMBER)).then(out).otherwise(raw).name.keep()
    )


def micros_text(s: pl.Expr) -> pl.Expr:
    """Whole micro-units -> currency units as exact text: ``"1061083620"`` -> ``"1061.083620"``.

    Yandex Direct's Reports API (default ``returnMoneyInMicros``) and Google Ads ``cost_micros`` give
    money ×1,000,000. Text that is not a whole number is returned unchanged for ``validate`` to refuse.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"[\s\u00a0\u202f]", "")
    neg = t.str.starts_with("-")
    digits = t.str.strip_prefix("-").str.zfill(7)
    n = digits.str.len_chars()
    units = pl.concat_str([digits.str.slice(0, n - 6), pl.lit("."), digits.str.slice(n - 6, 6)])
    signed = pl.when(neg).then(pl.lit("-") + units).otherwise(units)
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(t.str.contains(r"^-?\d+$"))
        .then(signed)
        .otherwise(raw)
        .name.keep()
    )


def _excel_serial(t: pl.Expr) -> pl.Expr:
    """Excel day number (with an optional day fraction) -> Datetime; only 20000–80000 (1954–2119)."""
    num = t.cast(pl.Float64, strict=False)
    ok = t.str.contains(r"^\d{5}(\.\d+)?$") & num.is_between(20000, 80000)
    us = (num * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    base = pl.lit(EXCEL_EPOCH).str.to_datetime("%Y-%m-%d", time_unit="us")
    return pl.when(ok).then(base + pl.duration(microseconds=us)).otherwise(None)


# (pattern the date part must match, strptime format): the pattern keeps "27.11.26" from being read
# as the year 26 by a four-digit-year format.
_DAYFIRST = (
    (r"^\d{1,2}\.\d{1,2}\.\d{4}$", "%d.%m.%Y"),
    (r"^\d{1,2}\.\d{1,2}\.\d{2}$", "%d.%m.%y"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%d/%m/%Y"),
    (r"^\d{1,2}-\d{1,2}-\d{4}$", "%d-%m-%Y"),
)
_MONTHFIRST = tuple((p, f.replace("%d/%m/%Y", "%m/%d/%Y")) for p, f in _DAYFIRST)


def _local_date(part: pl.Expr, dayfirst: bool) -> pl.Expr:
    return pl.coalesce(
        *[
            pl.when(part.str.contains(p)).then(part.str.to_date(f, strict=False))
            for p, f in (_DAYFIRST if dayfirst else _MONTHFIRST)
        ]
    )


def _local_datetime(t: pl.Expr, dayfirst: bool) -> pl.Expr:
    date_part = t.str.extract(r"^(\S+) \d{1,2}:\d{2}(?::\d{2})?$", 1)
    time_part = t.str.extract(r"^\S+ (\d{1,2}:\d{2}(?::\d{2})?)$", 1)
    time_full = (
        pl.when(time_part.str.count_matches(":") == 1).then(time_part + pl.lit(":00")).otherwise(time_part)
    )
    day = _local_date(date_part, dayfirst)
    return (day.dt.strftime("%Y-%m-%d") + pl.lit(" ") + time_full).str.to_datetime(
        "%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"
    )


def date_text(s: pl.Expr, *, dayfirst: bool = True) -> pl.Expr:
    """Local date text -> ``"YYYY-MM-DD"``.

    Accepts ``27.11.2026`` (also ``27.11.26``), ``27/11/2026`` (``11/27/2026`` with ``dayfirst=False``),
    ISO (with a time part, which is dropped), ``20261127``, Excel serial days, ``1 September 2026`` and
    ``September 1, 2026``. A timestamp such as ``27.11.2026 14:05`` gives its date.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"\s+", " ")
    day_part = t.str.extract(r"^(\S+?)(?:[ T]\d{1,2}:\d{2}.*)?$", 1)
    parsed = pl.coalesce(
        pl.when(day_part.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
            day_part.str.to_date("%Y-%m-%d", strict=False)
        ),
        _local_date(day_part, dayfirst),
        pl.when(t.str.contains(r"^\d{8}$")).then(t.str.to_date("%Y%m%d", strict=False)),
        _excel_serial(t).dt.date(),
        t.str.to_date("%d %B %Y", strict=False),
        t.str.to_date("%B %d, %Y", strict=False),
        t.str.to_date("%d %b %Y", strict=False),
        t.str.to_date("%b %d, %Y", strict=False),
    )
    return (
        pl.when(raw.is_null())
        .then(None)
        .otherwise(pl.coalesce(parsed.dt.strftime("%Y-%m-%d"), raw))
        .name.keep()
    )


def timestamp_text(s: pl.Expr, *, dayfirst: bool = True) -> pl.Expr:
    """Local timestamp text -> ``"YYYY-MM-DD HH:MM:SS"`` (ISO text, with or without a zone, passes as is).

    Accepts ``27.11.2026 14:05[:33]``, ``27/11/2026 14:05``, a bare date (midnight) in any form
    :func:`date_text` reads, and Excel serial numbers with a day fraction. Times are the exporting
    system's local time; ``validate`` takes zone-less times as the business's time zone.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"\s+", " ")
    iso = t.str.contains(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
    parsed = pl.coalesce(_local_datetime(t, dayfirst), _excel_serial(t).dt.round("1s"))
    as_date = date_text(t, dayfirst=dayfirst)
    has_time = t.str.contains(r"\d:\d")
    date_only = pl.when(~has_time & as_date.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
        as_date + pl.lit(" 00:00:00")
    )
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(iso)
        .then(t)
        .otherwise(pl.coalesce(parsed.dt.strftime("%Y-%m-%d %H:%M:%S"), date_only, raw))
        .name.keep()
    )


def epoch_text(s: pl.Expr, unit: str = "s") -> pl.Expr:
    """Unix time (``"s"``, ``"ms"`` or ``"us"`` since 1970-01-01 UTC) -> ``"YYYY-MM-DD HH:MM:SS.ffffff+00:00"``.

    The ``+00:00`` suffix makes ``validate`` convert the instant into the business's time zone.
    """
    raw = nulls(s)
    factor = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
    n = raw.cast(pl.Int64, strict=False)
    # Bound the range (years 1970–2200) so a corrupt value is refused instead of overflowing.
    ok = raw.str.contains(r"^\d{1,17}$") & n.is_between(0, 7_258_118_400 * 1_000_000 // factor)
    ts = pl.from_epoch(pl.when(ok).then(n * factor).otherwise(None), time_unit="us")
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(ok)
        .then(ts.dt.strftime("%Y-%m-%d %H:%M:%S%.6f") + pl.lit("+00:00"))
        .otherwise(raw)
        .name.keep()
    )


# --------------------------------------------------------------------------------------------------
# JSON exports (API responses saved to a file)


def load_json(path: Path) -> tuple[object, str]:
    """``(parsed document, its text)``; invalid JSON raises :class:`ImportFailed` naming the line."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed(
            _("{file}: cannot read the file ({reason})", file=file, reason=exc.strerror or str(exc))
        ) from None
    text, _enc = decode(data)
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            _("{file}, line {line}: not valid JSON: {reason}", file=file, line=exc.lineno, reason=exc.msg)
        ) from None
    except RecursionError:
        raise ImportFailed(_("{file}: not valid JSON: nested too deeply", file=file)) from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit conversion limit
        raise ImportFailed(
            _("{file}: not a JSON file kassa can read: {reason}", file=file, reason=str(exc))
        ) from None


def json_text(value: object) -> str | None:
    """A JSON value as the text a CSV cell would hold (APIs send numbers both as numbers and as strings)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def json_row_lines(text: str, key: str, n: int) -> list[int]:
    """Line numbers of ``n`` row objects that each hold ``key`` once, in document order.

    Found as the lines of the ``"key":`` occurrences (inside a JSON string a quote is escaped, so only
    real keys match). When rows share lines (compact JSON) or the count differs, rows are numbered
    1..n by position instead, so every row keeps a distinct number for error reports.
    """
    starts = [m.start() for m in re.finditer(r'(?<!\\)"' + re.escape(key) + r'"\s*:', text)]
    if len(starts) == n:
        lines = []
        line, pos = 1, 0
        for s in starts:
            line += text.count("\n", pos, s)
            pos = s
            lines.append(line)
        if len(set(lines)) == n:
            return lines
    return list(range(1, n + 1))


def frame_of_records(
    records: Sequence[Mapping[str, str | None]], lines: Sequence[int], columns: Sequence[str]
) -> pl.DataFrame:
    """A text frame (``columns`` + ``__line``) from records already turned into text."""
    data: dict[str, list[str | None] | list[int]] = {c: [r.get(c) for r in records] for c in columns}
    data[LINE] = list(lines)
    schema: dict[str, pl.DataType] = {c: pl.String() for c in columns}
    schema[LINE] = pl.Int64()
    return pl.DataFrame(data, schema=schema)
