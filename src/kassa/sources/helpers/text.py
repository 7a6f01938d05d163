"""Bytes to text: the encoding, the BOM, the delimiter, and the split into cells with exact line numbers.

* **Encodings** — a BOM decides (UTF-8, UTF-16 LE/BE); UTF-16 without a BOM is recognised by its NUL
  bytes; otherwise strict UTF-8, else the single-byte Cyrillic code page whose decoding yields more
  Cyrillic letters (cp1251 for Russian Excel, cp866 for old DOS exports).
* **Delimiters** — ``;`` (Russian Excel), ``,`` and tab are sniffed: the one that splits the most lines
  into the same number (≥ 2) of cells wins.

Line numbers are exact: text is split with :mod:`csv`, whose ``line_num`` counts physical lines, so a
quoted cell spanning lines does not shift the lines reported after it.

Files are **streamed** (:class:`TextRecords`): decoded incrementally and split record by record, so memory
holds one record whatever the file's size, and a field or line longer than the settings' import limits
(:class:`kassa.settings.ImportLimits`) is refused naming the file, line and column before it is held whole.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from kassa.errors import ImportFailed
from kassa.i18n import Translator
from kassa.settings import ImportLimits
from kassa.sources.helpers.xlsx import OLE_MAGIC, XLSX_MAGIC

_ = Translator("sources")

DELIMITERS = (";", ",", "\t")
HEAD_BYTES = 64 * 1024  # what delimiter sniffing and format detection look at
_CHUNK = 1 << 20


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


def _cp_sample_encoding(sample: bytes) -> str:
    cp1251 = sample.decode("cp1251", errors="replace")
    cp866 = sample.decode("cp866", errors="replace")
    return "cp866" if _cyrillic_share(cp866) > _cyrillic_share(cp1251) else "cp1251"


def detect_file_encoding(path: Path) -> str:
    """:func:`detect_encoding` for a whole file, read in chunks: UTF-8 only if *every* byte is.

    The Cyrillic code page is chosen from the bytes where UTF-8 first failed, not from the head: an
    export whose first 64 KiB are ASCII still has its Russian names further down.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
            guess = detect_encoding(head)
            if guess != "utf-8":
                return guess
            decoder = codecs.getincrementaldecoder("utf-8")()
            chunk = head
            while chunk:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    return _cp_sample_encoding(chunk)
                chunk = f.read(_CHUNK)
    except OSError as exc:
        raise ImportFailed(
            _("{file}: cannot read the file ({reason})", file=str(path), reason=exc.strerror or str(exc))
        ) from None
    return "utf-8"  # a character cut by the end of the file is still UTF-8 (it reads as U+FFFD)


class TextRecords:
    """The records of a text file as ``(first physical line, cells)``, streamed within ``limits``.

    Iterate once. ``header`` may be set by the reader once it knows it, so an over-long field is named
    by its column's header text rather than its position.
    """

    def __init__(
        self,
        path: Path,
        *,
        delimiter: str,
        quote: str | None,
        encoding: str,
        limits: ImportLimits,
        file: str | None = None,
    ) -> None:
        self.path, self.delimiter, self.quote, self.encoding = path, delimiter, quote, encoding
        self.limits = limits
        self.file = file or str(path)
        self.header: list[str] | None = None
        self._head: list[
            list[str]
        ] = []  # the first records (short ones), to name a column before the header is known
        self._physical = 0  # physical lines handed to the csv reader so far
        self._record_start = 1
        self._pending = 0  # characters of the record being split

    def _line_too_long(self) -> ImportFailed:
        return line_too_long(self.file, self._record_start, self.limits.line_chars)

    def _lines(self, stream: io.TextIOBase) -> Iterator[str]:
        limit = self.limits.line_chars
        while True:
            # Bounded: a file without newlines is never read whole into one string.
            line = stream.readline(limit + 2)
            if not line:
                return
            self._physical += 1
            self._pending += len(line)
            # The record so far without the line break that ends it (inner breaks are part of a cell).
            if self._pending - (len(line) - len(line.rstrip("\r\n"))) > limit:
                raise self._line_too_long()
            yield line.replace("\x00", "") if "\x00" in line else line

    def _field_error(self, cells: list[str]) -> ImportFailed:
        limit = self.limits.field_chars
        i = next(i for i, c in enumerate(cells) if len(c) > limit)
        # Before the reader has found the header, the first earlier record with a name in that column
        # and at least two cells is taken for it (title lines above a header have one cell).
        header = self.header or next(
            (h for h in self._head if len(h) >= 2 and i < len(h) and h[i].strip()), None
        )
        name = header[i].strip() if header and i < len(header) else ""
        return ImportFailed(
            _(
                "{file}, line {line}, column {column}: the field is {n} characters long, more than {limit} (import_limits.field_chars in the settings); no export holds such a field: the file looks damaged or is not an export",
                file=self.file,
                line=self._record_start,
                column=f"{i + 1} ({name!r})" if name else str(i + 1),
                n=len(cells[i]),
                limit=limit,
            )
        )

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        # csv's field limit is per process; ours is checked per field below, and a record can never be
        # longer than line_chars, so csv's own (131 072 by default) only has to let such a record through.
        if csv.field_size_limit() < self.limits.line_chars + 2:
            csv.field_size_limit(self.limits.line_chars + 2)
        field_limit = self.limits.field_chars
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise ImportFailed(
                _("{file}: cannot read the file ({reason})", file=self.file, reason=exc.strerror or str(exc))
            ) from None
        with io.TextIOWrapper(raw, encoding=self.encoding, errors="replace", newline="") as stream:
            reader = csv.reader(
                self._lines(stream),
                delimiter=self.delimiter,
                quotechar=self.quote or '"',
                quoting=csv.QUOTE_MINIMAL if self.quote else csv.QUOTE_NONE,
                strict=False,
            )
            first = True
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ImportFailed(
                        _(
                            "{file}, line {line}: cannot split the line into cells: {reason}",
                            file=self.file,
                            line=self._record_start,
                            reason=str(exc),
                        )
                    ) from None
                if first and cells and cells[0].startswith("\ufeff"):
                    cells[0] = cells[0][1:]
                first = False
                if cells and max(map(len, cells)) > field_limit:
                    raise self._field_error(cells)
                if len(self._head) < 40 and self._pending < 4096:
                    self._head.append(cells)
                yield self._record_start, cells
                self._record_start = self._physical + 1
                self._pending = 0


def head_of_file(path: Path, encoding: str) -> str:
    """The first :data:`HEAD_BYTES` of a file as text (for sniffing the delimiter)."""
    with open(path, "rb") as f:
        data = f.read(HEAD_BYTES)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data, final=False).lstrip("\ufeff")


def line_too_long(file: str, line: int, limit: int) -> ImportFailed:
    """The refusal of a record longer than ``import_limits.line_chars``, naming the file and its line."""
    return ImportFailed(
        _(
            "{file}, line {line}: the line is longer than {limit} characters (import_limits.line_chars in the settings); no export holds such a line: the file looks damaged (an unclosed quote?) or is not an export",
            file=file,
            line=line,
            limit=limit,
        )
    )
