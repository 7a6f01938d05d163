"""The warehouse's promises: one transaction per import, idempotent re-imports, undo, clear errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.conftest import write_files
from tests.golden_data import FILES

from kassa.errors import ImportFailed, MissingColumn, UnknownFormat, WarehouseError
from kassa.store import Warehouse
from kassa.store.warehouse import SCHEMA_VERSION

SPEND_SEPT = """
    date,channel,campaign,impressions,clicks,cost
    2026-09-01,yandex_direct,a,100,10,1000
    2026-09-02,yandex_direct,a,100,10,1000
    2026-09-03,yandex_direct,b,100,10,1000
"""


def test_reimporting_the_same_files_changes_nothing(make_warehouse, tmp_path):
    wh = make_warehouse(FILES)
    before, batches = wh.fingerprint(), len(wh.batches())
    report = wh.import_files(sorted((tmp_path / "in").glob("*.csv")))
    assert wh.fingerprint() == before
    assert len(wh.batches()) == batches
    assert all(f.already_imported_as is not None and f.rows_loaded == 0 for f in report.files)


def test_same_rows_in_a_new_file_do_not_double(make_warehouse, tmp_path):
    wh = make_warehouse({"leads.csv": FILES["leads.csv"]})
    # Another export with the same leads plus one, a changed status, and the rows in another order.
    (p,) = write_files(
        tmp_path / "again",
        {
            "leads2.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager
        L8,2026-10-09 09:30,c9,yandex,cpc,ya_search,new,Anna
        L2,2026-10-06 09:10,c1,,,,qualified,Boris
        L1,2026-10-01 09:30,c1,yandex,cpc,ya_search,qualified,Anna
    """
        },
    )
    report = wh.import_files([p])
    assert report.files[0].rows_replaced == 2
    assert wh.row_count("leads") == 8
    statuses = dict(
        wh.table("leads").select("lead_id", "status").to_pyarrow().to_pylist()
        and [(r["lead_id"], r["status"]) for r in wh.table("leads").to_pyarrow().to_pylist()]
    )
    assert statuses["L2"] == "qualified"


def test_overlapping_spend_export_replaces_the_period_per_channel(make_warehouse, tmp_path):
    wh = make_warehouse({"spend.csv": SPEND_SEPT})
    # A corrected export for 09-02..09-03 where campaign b was renamed c: b's old row must go, 09-01 stays.
    (p,) = write_files(
        tmp_path / "fix",
        {
            "spend_fix.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-09-02,yandex_direct,a,100,10,1100
        2026-09-03,yandex_direct,c,100,10,900
    """
        },
    )
    wh.import_files([p])
    rows = sorted(
        (r["date"].isoformat(), r["campaign"], r["cost"]) for r in wh.table("spend").to_pyarrow().to_pylist()
    )
    assert rows == [("2026-09-01", "a", 1000.0), ("2026-09-02", "a", 1100.0), ("2026-09-03", "c", 900.0)]


def test_undo_restores_what_a_batch_replaced(make_warehouse, tmp_path):
    wh = make_warehouse({"spend.csv": SPEND_SEPT})
    before = wh.fingerprint()
    (p,) = write_files(
        tmp_path / "fix",
        {
            "spend_fix.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-09-02,yandex_direct,a,100,10,1100
    """
        },
    )
    report = wh.import_files([p])
    assert wh.fingerprint() != before
    wh.undo(report.files[0].batch_id)
    assert wh.fingerprint() == before
    with pytest.raises(WarehouseError, match="already undone"):
        wh.undo(report.files[0].batch_id)
    # Once undone, the same file may be imported again.
    assert wh.import_files([p]).files[0].rows_loaded == 1


def test_one_bad_file_means_nothing_is_loaded(make_warehouse, tmp_path):
    wh = make_warehouse({"spend.csv": SPEND_SEPT})
    before = wh.fingerprint()
    good, bad = write_files(
        tmp_path / "mix",
        {
            "visits.csv": FILES["visits.csv"],
            "bad.csv": "this,is,not,a,kassa,file\n1,2,3,4,5,6\n",
        },
    )
    with pytest.raises(UnknownFormat, match="bad.csv"):
        wh.import_files([good, bad])
    assert wh.fingerprint() == before


def test_row_errors_name_file_line_column_and_value(make_warehouse, tmp_path):
    wh = make_warehouse()
    (p,) = write_files(
        tmp_path / "e",
        {
            "spend.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-09-01,yandex_direct,a,100,10,1000
        01.09.2026,yandex_direct,a,100,10,1000
        2026-09-03,yandex_direct,a,-5,10,12.5.3
    """
        },
    )
    report = wh.import_files([p])
    errors = [str(e) for e in report.errors]
    assert f"{p}, line 3, column 'date': not a date in YYYY-MM-DD form (value '01.09.2026')" in errors
    assert any("line 4, column 'impressions': must not be negative" in e for e in errors)
    assert any("line 4, column 'cost': not a number" in e and "'12.5.3'" in e for e in errors)
    assert report.files[0].rows_loaded == 1 and report.files[0].rows_rejected == 2


def test_strict_refuses_the_whole_import(make_warehouse, tmp_path):
    wh = make_warehouse()
    before = wh.fingerprint()
    (p,) = write_files(
        tmp_path / "e",
        {
            "spend.csv": """
        date,channel,campaign,impressions,clicks,cost
        2026-09-01,yandex_direct,a,100,10,1000
        2026-09-02,yandex_direct,a,100,ten,1000
    """
        },
    )
    with pytest.raises(ImportFailed, match="nothing was imported") as info:
        wh.import_files([p], strict=True)
    assert info.value.errors[0].line == 3 and info.value.errors[0].column == "clicks"
    assert wh.fingerprint() == before


def test_missing_required_column_is_named(make_warehouse, tmp_path):
    wh = make_warehouse()
    (p,) = write_files(
        tmp_path / "e",
        {"deals.csv": "deal_id,lead_id,created_at,status,closed_at\nD1,L1,2026-10-01,won,2026-10-02\n"},
    )
    with pytest.raises(MissingColumn, match="required column\\(s\\) amount missing for deals"):
        wh.import_files([p])
    with pytest.raises(MissingColumn, match="required column\\(s\\) amount missing for deals"):
        wh.import_files([p], kind="deals")


def test_duplicate_keys_inside_one_file_are_refused(make_warehouse, tmp_path):
    wh = make_warehouse()
    (p,) = write_files(
        tmp_path / "e",
        {
            "payments.csv": """
        payment_id,paid_at,amount
        P1,2026-10-01,100
        P1,2026-10-02,100
    """
        },
    )
    report = wh.import_files([p])
    assert wh.row_count("payments") == 1
    assert "duplicate of line 2" in str(report.errors[0])


def test_won_deal_needs_closed_at(make_warehouse, tmp_path):
    wh = make_warehouse()
    (p,) = write_files(
        tmp_path / "e",
        {
            "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount
        D1,L1,2026-10-01,won,,5000
        D2,L1,2026-10-01,open,,5000
    """
        },
    )
    report = wh.import_files([p])
    assert [(e.line, e.column) for e in report.errors] == [(2, "closed_at")]
    assert wh.row_count("deals") == 1


def test_timestamps_with_a_zone_become_business_local_time(make_warehouse, tmp_path):
    wh = make_warehouse(
        {
            "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
        a,c,2026-10-31T21:30:00Z,,,
        b,c,2026-10-31 21:30,,,
    """
        }
    )
    ts = {r["visit_id"]: r["ts"] for r in wh.table("visits").to_pyarrow().to_pylist()}
    assert ts["a"].isoformat() == "2026-11-01T00:30:00"  # Moscow is UTC+3: a November visit
    assert ts["b"].isoformat() == "2026-10-31T21:30:00"


def test_personal_data_is_stored_only_as_salted_hashes(make_warehouse, tmp_path):
    wh = make_warehouse(
        {
            "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone,email
        L1,2026-10-01,c,,,,new,8 (912) 345-67-89,Ivan@Example.RU
        L2,2026-10-01,c,,,,new,+79123456789,ivan@example.ru
    """
        }
    )
    rows = wh.table("leads").to_pyarrow().to_pylist()
    assert rows[0]["phone"] is None and rows[0]["email"] is None
    assert rows[0]["phone_hash"] == rows[1]["phone_hash"] and len(rows[0]["phone_hash"]) == 64
    assert rows[0]["email_hash"] == rows[1]["email_hash"]
    raw = (Path(wh.path)).read_bytes()
    assert b"9123456789" not in raw and b"example.ru" not in raw
    # Another warehouse has another salt, so hashes cannot be joined across businesses.
    other = make_warehouse(
        {
            "leads.csv": "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone\n"
            "L1,2026-10-01,c,,,,new,+79123456789\n"
        },
        name="other.duckdb",
    )
    assert other.table("leads").to_pyarrow().to_pylist()[0]["phone_hash"] != rows[1]["phone_hash"]


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("UPDATE kassa_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    with pytest.raises(WarehouseError, match="newer than this kassa"):
        Warehouse.open(path)


def test_a_second_writer_gets_a_clear_message(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time, duckdb
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseError, match="open for writing by another process"):
            Warehouse.open(path)
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()


def test_reading_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(WarehouseError, match="kassa import"):
        Warehouse.open(tmp_path / "nope.duckdb", read_only=True)


def test_an_older_file_gains_new_tables_and_columns_on_open(tmp_path):
    # Simulate a file written before fx_rates and leads.first_response_at existed.
    path = tmp_path / "old.duckdb"
    Warehouse.open(path).close()
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("DROP TABLE fx_rates")
    con.execute("DROP TABLE fx_rates__replaced")
    con.execute("ALTER TABLE leads DROP COLUMN first_response_at")
    con.close()
    with Warehouse.open(path, read_only=True) as wh:  # a reader upgrades it once, then reads
        assert "fx_rates" in wh.ibis.list_tables()
        assert "first_response_at" in wh.table("leads").columns


def test_iso_weeks_are_periods():
    from kassa.errors import BadPeriod
    from kassa.period import Period

    week = Period.parse("2026-W43")  # ISO week 43 of 2026: Monday 19 to Sunday 25 October
    assert (week.start.isoformat(), week.end.isoformat()) == ("2026-10-19", "2026-10-26")
    assert week.previous().label == "2026-10-12..2026-10-18"
    assert Period.parse("2026-W01..2026-W02").label == "2025-12-29..2026-01-11"
    with pytest.raises(BadPeriod):
        Period.parse("2026-W54")


@pytest.mark.parametrize(
    "text", ["9999-12", "9999-12-31", "9999-W52", "2026-01..9999-12", "0001-01", "0001-W01"]
)
def test_periods_beyond_the_calendar_are_refused_plainly(text):
    from kassa.errors import BadPeriod
    from kassa.period import Period

    with pytest.raises(BadPeriod):
        Period.parse(text)
