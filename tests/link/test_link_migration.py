"""A warehouse written before leads.click_id and deals.invoice / payer_inn existed is brought up to date."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.conftest import write_files

from kassa.link.money_trail import MoneyTrail
from kassa.store import Warehouse

NEW_COLUMNS = {"leads": ["click_id"], "deals": ["invoice", "payer_inn"]}


def _columns(db: Path, table: str) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            r[0]
            for r in con.execute(
                f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
            ).fetchall()
        }
    finally:
        con.close()


def _old_file(tmp_path: Path) -> Path:
    """A schema-version-1 file as kassa wrote it before this change: no new columns, rows already in."""
    db = tmp_path / "old.duckdb"
    wh = Warehouse.open(db)
    wh.import_files(
        write_files(
            tmp_path / "in",
            {
                "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
            L1,2026-10-01 10:00,c1,yandex,cpc,brand,new
        """,
                "deals.csv": """
            deal_id,lead_id,created_at,status,closed_at,amount
            D1,L1,2026-10-02,won,2026-10-03,1000
        """,
                "payments.csv": """
            payment_id,paid_at,amount,purpose
            P1,2026-10-04,1000,Оплата по заказу № D1
        """,
            },
        ),
        strict=True,
    )
    assert wh.schema_version == 1
    wh.close()
    con = duckdb.connect(str(db))
    for table, cols in NEW_COLUMNS.items():
        for c in cols:
            for t in (table, f"{table}__replaced"):
                con.execute(f'ALTER TABLE {t} DROP COLUMN "{c}"')
    con.close()
    return db


def test_opening_for_writing_adds_the_columns_and_keeps_the_rows(tmp_path: Path) -> None:
    db = _old_file(tmp_path)
    assert "click_id" not in _columns(db, "leads")
    wh = Warehouse.open(db)
    try:
        for table, cols in NEW_COLUMNS.items():
            assert set(cols) <= _columns_open(wh, table)
            assert set(cols) <= _columns_open(wh, f"{table}__replaced")
        assert wh.row_count("leads") == 1 and wh.row_count("deals") == 1
        with MoneyTrail(wh, materialize=True) as chain:
            rows = chain.payments.to_pyarrow().to_pylist()
        assert [(r["deal_id"], r["match_method"], r["channel"]) for r in rows] == [
            ("D1", "purpose_deal", "yandex_direct")
        ]
    finally:
        wh.close()


def test_a_read_only_open_upgrades_once_then_reads(tmp_path: Path) -> None:
    db = _old_file(tmp_path)
    wh = Warehouse.open(db, read_only=True)
    try:
        assert {"invoice", "payer_inn"} <= set(wh.table("deals").columns)
        assert wh.table("leads").click_id.isnull().all().execute()
    finally:
        wh.close()


def _columns_open(wh: Warehouse, table: str) -> set[str]:
    return set(wh.table(table).columns)
