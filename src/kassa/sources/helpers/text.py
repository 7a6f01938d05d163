"""Bytes to text: the encoding, the BOM, the delimiter, and the split into cells with exact line numbers.

* **Encodings** — a BOM decides (UTF-8, UTF-16 LE/BE); UTF-16 without a BOM is recognised by its NUL
  bytes; otherwise strict UTF-8, else the single-byte Cyrillic code page whose decoding yields more
  Cyrillic letters (cp1251 for Russian Excel, cp866 for old DOS exports).
* **Delimiters** — ``;`` (Russian Excel), ``,`` and tab are sniffed: the one that splits the most lines
  into the same number (≥ 2) of cells wins.

Line numbers are exact: text is split with :mod:`csv`, whose ``line_num`` counts physical lines, so a
quoted cell spanning lines does not shift the lines reported after it.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

from kassa.errors import ImportFailed
from kassa.i18n import Translator
from kassa.sources.helpers.xlsx import OLE_MAGIC, XLSX_MAGIC

_ = Translator("sources")

DELIMITERS = (";", ",", "\t")


def read_bytes(path: Path) -> bytes:
    """The file's bytes; an unreadable file raises :class:`ImportFailed` naming it and why."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportFailed(
            _("{file}: cannot read the file ({reason})", file=str(path), reason=exc.strerror or str(exc))
        ) from None


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


def split_line(line: str, delimiter: str, quote: str | None) -> list[str]:
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
            n = len(split_line(ln, d, quote))
            if n >= 2:
                counts[n] = counts.get(n, 0) + 1
        if not counts:
            continue
        width, votes = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if (votes, width) > best_score:
            best, best_score = d, (votes, width)
    return best


def rows_from_text(text: str, delimiter: str, quote: str | None, file: str) -> list[tuple[int, list[str]]]:
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
