"""Helpers shared by the CRM, bank and generic reader tests: fixture paths and reading without a warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kassa.settings import Settings
from kassa.sources.base import ReadContext, ReadResult, Source

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"
SALT = "test-salt"


def read(
    src: Source, path: Path, mapping: Path | None = None, settings: Settings | None = None
) -> dict[str, ReadResult]:
    """The reader's results by kind (each kind at most once)."""
    results = src.read(path, ReadContext(settings=settings or Settings(), salt=SALT, mapping=mapping))
    by_kind = {r.kind: r for r in results}
    assert len(by_kind) == len(results), "a reader returned one kind twice"
    return by_kind


def rows(result: ReadResult, *columns: str) -> list[dict[str, Any]]:
    """Loaded rows, only ``columns`` when given."""
    out = result.rows.to_pylist()
    return [{c: r[c] for c in columns} for r in out] if columns else out


def head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(64 * 1024)
