"""Fixtures of the report tests: the hand-worked shop of tests/report/shop.py, loaded once per module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from tests.conftest import BuiltWarehouses
from tests.report.shop import FILES

from kassa.report.model import ReportData, build_report
from kassa.settings import Settings
from kassa.store import Warehouse

GENERATED = dt.datetime(2026, 11, 2, 9, 30)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, built_warehouses: BuiltWarehouses) -> Iterator[Warehouse]:
    """The shop's warehouse, opened once per module (a copy of the one built for the session): building a
    report runs several queries, and the machine is shared, so the many read-only tests below share one
    file (opened like ``make_warehouse``)."""
    folder = tmp_path_factory.mktemp("shop")
    wh = Warehouse.open(built_warehouses.copy(FILES, Settings(), folder / "shop.duckdb"), settings=Settings())
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def reports(shop: Warehouse) -> dict[str, ReportData]:
    """The October report in both languages."""
    return {lang: build_report(shop, "2026-10", lang, generated_at=GENERATED) for lang in ("en", "ru")}
