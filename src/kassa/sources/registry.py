"""All formats kassa reads, by name, and which one a file is in.

Every reader registers itself in its own module (``@SOURCES.register`` on the class); this registry
imports every module of :mod:`kassa.sources` the first time it is read, so a new format needs no list
to be edited. Detection asks the readers in the order of their ``detect_priority`` (lower first): the
canonical CSV first (its header is exact), the catch-all bank statement CSV late, and ``generic`` last
(it never claims a file; ``--format generic`` asks for it). docs/sources.md lists the order.
"""

from __future__ import annotations

from pathlib import Path

from kassa.errors import UnknownFormat
from kassa.registry import Registry
from kassa.sources.base import Source


def _detect_priority(name: str, source: type[Source]) -> int:
    return source.detect_priority


SOURCES: Registry[type[Source]] = Registry(
    "format", package="kassa.sources", order=_detect_priority, error=UnknownFormat
)
"""Reader classes by format name, in detection order."""


def detect_format(path: Path) -> Source:
    """The source whose ``detect`` accepts the file; :class:`UnknownFormat` lists the known ones."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    for name in SOURCES:
        src = SOURCES[name]()
        if src.detect(path, head):
            return src
    raise UnknownFormat(
        f"{path}: format not recognised; known formats: {', '.join(SOURCES)} (use --format NAME to force one)"
    )


def get_source(name: str) -> Source:
    """The reader of the format called ``name``; :class:`UnknownFormat` lists the valid names."""
    return SOURCES[name]()
