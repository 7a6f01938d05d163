"""One warehouse of the money-trail company (tests/link/money_data.py), shared by the link tests.

Loading and stitching it takes seconds, so it is built once per session and only read; every chain
the tests use is materialized once too (released before the warehouse closes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tests.conftest import write_files
from tests.link.money_data import FILES

from kassa.link.money_trail import MoneyTrail
from kassa.store import Warehouse


@pytest.fixture(scope="session")
def money_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("money")
    db = folder / "money.duckdb"
    wh = Warehouse.open(db)
    try:
        wh.import_files(write_files(folder / "in", FILES), strict=True)
    finally:
        wh.close()
    return db


@pytest.fixture(scope="session")
def money_wh(money_db: Path) -> Iterator[Warehouse]:
    wh = Warehouse.open(money_db, read_only=True)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def money_chain(money_wh: Warehouse) -> Iterator[MoneyTrail]:
    with MoneyTrail(money_wh, materialize=True) as chain:
        yield chain


@pytest.fixture(scope="session")
def linked(money_chain: MoneyTrail) -> dict[str, Any]:
    """The stitched tables as Polars frames, and dicts by id for quick look-ups."""
    leads = money_chain.leads.to_polars()
    deals = money_chain.deal_status.to_polars()
    pays = money_chain.payments.to_polars()
    return {
        "leads": {r["lead_id"]: r for r in leads.to_dicts()},
        "deals": {r["deal_id"]: r for r in deals.to_dicts()},
        "payments": pays,
        "visits": {r["visit_id"]: r for r in money_chain.visits.to_polars().to_dicts()},
    }


def shares(payments: pl.DataFrame) -> dict[str, list[tuple[Any, str, float]]]:
    """payment_id -> [(deal_id, match_method, amount)] sorted by deal."""
    out: dict[str, list[tuple[Any, str, float]]] = {}
    for r in payments.sort(["payment_id", "deal_id"], nulls_last=True).to_dicts():
        out.setdefault(r["payment_id"], []).append((r["deal_id"], r["match_method"], r["amount"]))
    return out
