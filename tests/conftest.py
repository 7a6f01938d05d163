"""Shared fixtures: real warehouse files in tmp_path, built from small CSV texts."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kassa.settings import Settings
from kassa.store import Warehouse

_open: list[Warehouse] = []


@pytest.fixture(autouse=True)
def _close_warehouses() -> Iterator[None]:
    """Every warehouse a test opens is closed after it, so DuckDB files never stay locked."""
    yield
    while _open:
        with contextlib.suppress(Exception):
            _open.pop().close()


def write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        p = folder / name
        p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        paths.append(p)
    return paths


@pytest.fixture
def make_warehouse(tmp_path: Path) -> Callable[..., Warehouse]:
    """``make_warehouse({"spend.csv": "...", ...}, settings=None)`` -> an open warehouse with those files loaded."""

    def make(
        files: dict[str, str] | None = None, settings: Settings | None = None, name: str = "w.duckdb"
    ) -> Warehouse:
        wh = Warehouse.open(tmp_path / name, settings=settings or Settings())
        _open.append(wh)
        if files:
            wh.import_files(write_files(tmp_path / "in", files), strict=True)
        return wh

    return make
