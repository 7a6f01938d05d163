"""Shared fixtures: real warehouse files in tmp_path, built from small CSV texts.

Building a warehouse (importing its files) and the demo company (216 000 visits) are done once per test
session and copied per test: a DuckDB file copies in milliseconds. Tests that only read may share one
open warehouse, so the stitching it compiles on first use is compiled once (see ``golden_wh``).
Under pytest-xdist "session" means once per worker process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.golden_data import FILES as GOLDEN_FILES

from kassa import demo
from kassa.settings import Settings
from kassa.store import Warehouse

# Tests copy warehouse files (shutil.copy) without the <db>.key beside them; one key for the whole run
# in the environment (as a deployment may give it, store/hashkey.py) lets every copy import leads.
# tests/test_hash_key.py unsets it to test the key file.
os.environ.setdefault("KASSA_HASH_KEY", "kassa-test-suite-hash-key-0123456789abcdef")
# Compiled SQL on disk (store/compiled.py) in a folder of the test runs' own, not the user's ~/.cache;
# shared by the workers and kept between runs (its subfolder names the exact code that compiled it).
os.environ.setdefault("KASSA_SQL_CACHE", str(Path(tempfile.gettempdir()) / f"kassa-tests-sql-{os.getuid()}"))

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


class BuiltWarehouses:
    """Warehouse files built once per session, one per set of files and settings, copied for each test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._built: dict[tuple[tuple[tuple[str, str], ...], str], Path] = {}

    def path(self, files: dict[str, str], settings: Settings) -> Path:
        """The warehouse file with ``files`` imported (strictly) under ``settings``: closed, not to be written."""
        key = (tuple(files.items()), settings.model_dump_json())  # in order: it is the import order
        if key not in self._built:
            build = self.folder / f"w{len(self._built)}"
            build.mkdir()
            wh = Warehouse.open(build / "w.duckdb", settings=settings)
            try:
                wh.import_files(write_files(build / "in", files), strict=True)
            finally:
                wh.close()
            self._built[key] = build / "w.duckdb"
        return self._built[key]

    def copy(self, files: dict[str, str], settings: Settings, to: Path) -> Path:
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.path(files, settings), to)
        return to


@pytest.fixture(scope="session")
def built_warehouses(tmp_path_factory: pytest.TempPathFactory) -> BuiltWarehouses:
    return BuiltWarehouses(tmp_path_factory.mktemp("built"))


@pytest.fixture
def make_warehouse(tmp_path: Path, built_warehouses: BuiltWarehouses) -> Callable[..., Warehouse]:
    """``make_warehouse({"spend.csv": "...", ...}, settings=None)`` -> an open warehouse with those files loaded.

    The warehouse is this test's own file (``tmp_path / name``): a copy of the one built for the same files
    and settings earlier in the session. The files are written to ``tmp_path / "in"`` too, as if imported
    from there (the import batches name the files the session imported).
    """

    def make(
        files: dict[str, str] | None = None, settings: Settings | None = None, name: str = "w.duckdb"
    ) -> Warehouse:
        settings = settings or Settings()
        if files:
            write_files(tmp_path / "in", files)
            built_warehouses.copy(files, settings, tmp_path / name)
        wh = Warehouse.open(tmp_path / name, settings=settings)
        _open.append(wh)
        return wh

    return make


@pytest.fixture(scope="session")
def golden_file(built_warehouses: BuiltWarehouses) -> Path:
    """The golden company's warehouse file (tests/golden_data.py), built once: copy it to write to it."""
    return built_warehouses.path(GOLDEN_FILES, Settings())


@pytest.fixture(scope="session")
def golden_wh(golden_file: Path) -> Iterator[Warehouse]:
    """The golden company, open read-only for the whole session: the stitching its first query compiles
    (a second or more) is kept for every test that reads it. Tests that write use ``make_warehouse``."""
    wh = Warehouse.open(golden_file, read_only=True)
    yield wh
    wh.close()


@dataclass(frozen=True)
class DemoCompany:
    """The demo company as ``kassa.demo.load`` leaves it: the warehouse file and the CSV files it loaded."""

    db: Path
    csv: Path

    def copy(self, to: Path) -> Path:
        """A copy of the warehouse file at ``to``, for a test that writes to it (or serves it)."""
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.db, to)
        return to

    def open(self) -> Warehouse:
        """The shared file, open read-only: for tests that only read (they may share it)."""
        return Warehouse.open(self.db, read_only=True)


@pytest.fixture(scope="session")
def demo_company(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bool], DemoCompany]:
    """``demo_company(plant)``: the demo company (seed 7, planted or healthy), generated and loaded once
    per session (~15 s each) rather than once per module; the files must not be written to."""
    built: dict[bool, DemoCompany] = {}

    def get(plant: bool = True) -> DemoCompany:
        if plant not in built:
            folder = tmp_path_factory.mktemp("demo-planted" if plant else "demo-healthy")
            demo.load(folder / "demo.duckdb", plant=plant, folder=folder / "csv").close()
            built[plant] = DemoCompany(folder / "demo.duckdb", folder / "csv")
        return built[plant]

    return get


# Fixtures that build the demo company (216 k visits): ~15 s to build, and every command on it computes
# the whole money trail of a real-sized company (2-4 s), so a test using one is slow.
DEMO_FIXTURES = {"demo_company", "demo_by_the_cli"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on the demo company is slow (``make test-fast`` leaves it out)."""
    for item in items:
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
