"""The interface every source module implements, and what a read returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from kassa.errors import RowError
from kassa.settings import Settings


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs besides the file: the business settings and the warehouse's hashing salt."""

    settings: Settings
    salt: str
    kind: str | None = None  # forced canonical kind (``--kind``)
    # A user's YAML for formats that need one (``--mapping``): CRM stage mapping, generic column mapping.
    mapping: Path | None = None


@dataclass
class ReadResult:
    """Canonical rows of one kind read from one file, plus the rows that were refused."""

    kind: str
    # A whole table; or, for files too large to hold (Metrica logs), a reader of validated batches that
    # the warehouse loads one at a time — ``errors`` and ``rows_read`` are complete once it is exhausted.
    rows: pa.Table | pa.RecordBatchReader
    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0


class Source(Protocol):
    """A reader of one external format."""

    name: str
    title: str
    spec_url: str
    # Detection asks the sources in this order, lower first (kassa.sources.registry, docs/sources.md).
    detect_priority: int

    def detect(self, path: Path, head: bytes) -> bool:
        """True when the file's first bytes show it is in this format."""
        ...

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        """Read the file into canonical tables; raise ImportFailed for a file-level problem."""
        ...
