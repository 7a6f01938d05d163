"""All formats kassa reads, by name, and which one a file is in.

Every reader registers itself in its own module (``@SOURCES.register`` on the class); this registry
imports every module of :mod:`kassa.sources` the first time it is read, so a new format needs no list
to be edited. Detection asks the readers in the order of their ``detect_priority`` (lower first): the
canonical CSV first (its header is exact), the catch-all bank statement CSV late, and ``generic`` last
(it never claims a file; ``--format generic`` asks for it). docs/sources.md lists the order.

When no reader accepts a file, a reader may still say what the file *nearly* is (an optional
``near_miss(path, head) -> str | None``): a canonical spend CSV without its ``cost`` column is reported
as exactly that, not as an unknown format.
"""

from __future__ import annotations

from pathlib import Path

from kassa.errors import ImportFailed, MissingColumn, UnknownFormat
from kassa.registry import Registry
from kassa.settings import ImportLimits
from kassa.sources.base import Source
from kassa.sources.helpers.text import HEAD_BYTES
from kassa.sources.helpers.xlsx import XLSX_MAGIC, head_rows


def _detect_priority(name: str, source: type[Source]) -> int:
    return source.detect_priority


SOURCES: Registry[type[Source]] = Registry(
    "format", package="kassa.sources", order=_detect_priority, error=UnknownFormat
)
"""Reader classes by format name, in detection order."""


def not_a_file(path: Path) -> ImportFailed | None:
    """The refusal of a path that is not a readable file (a folder, nothing), or None."""
    if path.is_dir():
        return ImportFailed(
            f"{path}: is a folder, not a file; kassa import does not read folders: name the files "
            f"(e.g. kassa import {path}/*.csv)"
        )
    if not path.exists():
        return ImportFailed(f"{path}: no such file")
    if not path.is_file():
        return ImportFailed(f"{path}: not a regular file (a device or a pipe); name an exported file")
    return None


def detect_format(path: Path, limits: ImportLimits | None = None) -> Source:
    """The source whose ``detect`` accepts the file; :class:`UnknownFormat` lists the known ones.

    A workbook is checked against ``limits`` and its first rows read once here, for every XLSX-capable
    reader to look at (:func:`~kassa.sources.helpers.xlsx.head_rows` keeps them), so a workbook too big
    when unpacked or unreadable is refused saying so rather than "not recognised" by each reader in turn.
    """
    if (refusal := not_a_file(path)) is not None:
        raise refusal
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    if head.startswith(XLSX_MAGIC):
        from kassa.sources.tabular import HEADER_SEARCH_ROWS

        head_rows(path, HEADER_SEARCH_ROWS, limits)
    sources = [SOURCES[name]() for name in SOURCES]
    for src in sources:
        if src.detect(path, head):
            return src
    for src in sources:
        near_miss = getattr(src, "near_miss", None)
        if near_miss is not None and (why := near_miss(path, head)):
            raise MissingColumn(f"{path}: {why}")
    raise UnknownFormat(
        f"{path}: format not recognised; known formats: {', '.join(SOURCES)} (use --format NAME to force one)"
    )


def get_source(name: str) -> Source:
    """The reader of the format called ``name``; :class:`UnknownFormat` lists the valid names."""
    return SOURCES[name]()
