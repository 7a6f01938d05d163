"""`kassa connect` / `kassa sync` against the fake Direct (tests/connectors/fake_direct.py), in process.

The Done-when of #15 for Direct: a sync through 201, 202, 202 (two retryIn values), 200 loads exactly
what importing the same report from a file loads. Then: idempotence, undo, the cursor and look-back,
and the secret's whereabouts (never in the warehouse, a message, or the connections file).
"""

from __future__ import annotations

import datetime as dt
import json
import stat
from decimal import Decimal
from pathlib import Path

from tests.connectors.fake_direct import fake_direct
from tests.kassa_cli import run_kassa

from kassa.store import Warehouse
from kassa.store.connections import Connections
from kassa.store.sync import load_report, sync_one

TOKEN = "y0_AgAAAAB-secret-token-4242"
ROWS = [
    ("2026-10-01", "70001", "Осень_поиск", 1200, 30, Decimal("1530.00")),
    (
        "2026-10-01",
        "70001",
        "Осень_поиск",
        800,
        10,
        Decimal("470.00"),
    ),  # a second row of the same day: summed
    ("2026-10-01", "70002", 'РСЯ "Ретаргет"', 5000, 25, Decimal("350.12")),
    ("2026-10-20", "70001", "Осень_поиск", 1000, 20, Decimal("1200.01")),
    ("2026-10-31", "70002", 'РСЯ "Ретаргет"', 300, 0, Decimal("0")),
]
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")


def connect(db: Path, base_url: str, *extra: str) -> None:
    r = run_kassa(
        "connect", "yandex-direct", "--name", "d", "--client-login", "shop", "--token-stdin",
        "--base-url", base_url, "--db", db, *extra, stdin=TOKEN + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def flat(text: str) -> str:
    """Output without the terminal's line wrapping."""
    return " ".join(text.split())


def spend(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        rows = wh._db.execute(
            "SELECT date, channel, campaign, impressions, clicks, cost, currency, vat_included FROM spend ORDER BY ALL"
        ).fetchall()
    return rows


def test_connect_then_sync_loads_october_exactly_as_the_file_import_does(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS, agency=True) as fake:
        connect(db, fake.base_url)
        fake.plan(("queued", 0.05), ("building", 0.12, "retryIn"), ("building", 0.03, "retryin"), ("ok",))
        r = run_kassa("sync", "d", *OCTOBER, "--db", db, "--json")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)["connections"][0]
        assert [e.status for e in fake.log] == [201, 202, 202, 200]
        # Each poll came no earlier than the retryIn of the answer before it.
        for e in fake.log[1:]:
            assert e.previous_answer_at is not None and e.previous_retry_in is not None
            assert e.at - e.previous_answer_at >= e.previous_retry_in
        report_file = tmp_path / "october.tsv"
        report_file.write_text(fake.report_text("2026-10-01", "2026-10-31"), encoding="utf-8")
    assert (
        summary["ok"]
        and summary["rows"] == {"spend": 4}
        and summary["requests"] == 4
        and summary["polls"] == 3
    )
    assert summary["days"] == "2026-10-01..2026-10-31"

    imported = tmp_path / "imported.duckdb"
    r = run_kassa("import", report_file, "--db", imported)
    assert r.returncode == 0, r.stderr
    assert spend(db) == spend(imported)
    rows = spend(db)
    assert sum(Decimal(str(c)) for *_, c, _cur, _vat in rows) == Decimal("3550.13")
    assert sum(r[4] for r in rows) == 85 and sum(r[3] for r in rows) == 8300
    assert rows[0][:6] == (dt.date(2026, 10, 1), "yandex_direct", "70001", 2000, 40, 2000.0)


def test_a_second_sync_of_the_same_days_changes_nothing_and_undo_takes_it_back(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "d", *OCTOBER, "--db", db).returncode == 0
        before = spend(db)
        r = run_kassa("sync", "d", *OCTOBER, "--db", db, env={"COLUMNS": "200"})
    assert r.returncode == 0 and "already #1" in r.stdout
    assert spend(db) == before
    r = run_kassa("imports", "--db", db, "--columns", "file,format,loaded", env={"COLUMNS": "200"})
    assert f"d (Yandex Direct, shop, {fake.base_url[7:]}) 2026-10-01..2026-10-31" in r.stdout
    assert "yandex_direct" in r.stdout
    assert run_kassa("imports", "undo", "1", "--db", db).returncode == 0
    assert spend(db) == []


def test_the_token_never_reaches_the_warehouse_a_message_or_the_connections_file(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "d", *OCTOBER, "--db", db).returncode == 0
        fake.token = "rotated-by-yandex"  # the stored token is now expired
        fake.echo_token_in_errors = True  # and the answer repeats it
        r = run_kassa("sync", "d", "--since", "2026-10-01", "--until", "2026-11-01", "--db", db)
        listed = run_kassa("connections", "--db", db, "--json")
    assert r.returncode == 1
    assert "connection 'd' needs re-authorising" in flat(r.stderr) and "error 53" in r.stderr
    for text in (r.stdout, r.stderr, listed.stdout):
        assert TOKEN not in text
    for p in tmp_path.iterdir():
        if p.name != "shop.duckdb.secrets.json":
            assert TOKEN.encode() not in p.read_bytes(), p
    secrets = tmp_path / "shop.duckdb.secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert json.loads(secrets.read_text())["tokens"] == {"d": TOKEN}
    # The failed sync moved nothing: the cursor stays at October's end and the outcome says it failed.
    (conn,) = json.loads(listed.stdout)
    assert conn["synced_through"] == "2026-10-31" and conn["last_sync"]["ok"] is False
    assert conn["token"] == "secrets file" and conn["options"]["client_login"] == "shop"


def test_a_refused_row_fails_the_sync_naming_request_line_and_column_and_loads_nothing(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "d", *OCTOBER, "--db", db).returncode == 0
        before = spend(db)
        fake.rows = [*ROWS, ("2026-10-21", "70001", "Осень_поиск", "12x", 3, Decimal("1"))]  # type: ignore[list-item]
        r = run_kassa("sync", "d", *OCTOBER, "--db", db)
    assert r.returncode == 1
    err = flat(r.stderr)
    assert "d (Yandex Direct, shop" in err and "2026-10-01..2026-10-31" in err
    assert "impressions" in err.lower() and "12x" in err
    assert spend(db) == before
    with Warehouse.open(db, read_only=True) as wh:
        assert len(wh.batches()) == 1


def test_the_cursor_and_look_back_re_read_recent_days_and_revised_ones_replace_old(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(db, fake.base_url, "--look-back", "7")
        assert run_kassa("sync", "d", *OCTOBER, "--db", db).returncode == 0
        # Direct revised 31 October (invalid clicks found) and 1 November is new.
        fake.rows = [r for r in ROWS if r[0] != "2026-10-31"] + [
            ("2026-10-31", "70002", 'РСЯ "Ретаргет"', 300, 2, Decimal("41.50")),
            ("2026-11-01", "70001", "Осень_поиск", 100, 5, Decimal("99.99")),
        ]
        conns = Connections(db)

        def load(report, options, fmt, origin):
            with Warehouse.open(db) as wh:
                return load_report(wh, report, options, fmt, origin)

        out = sync_one(conns, conns.get("d"), load, since=None, until=None, today=dt.date(2026, 11, 2))
    assert out.error is None and (out.since, out.until) == (dt.date(2026, 10, 25), dt.date(2026, 11, 1))
    assert fake.log[-1].params["SelectionCriteria"] == {"DateFrom": "2026-10-25", "DateTo": "2026-11-01"}
    rows = {(r[0], r[2]): (r[4], r[5]) for r in spend(db)}
    assert rows[(dt.date(2026, 10, 31), "70002")] == (2, 41.5)  # replaced, not doubled
    assert rows[(dt.date(2026, 11, 1), "70001")] == (5, 99.99)
    assert rows[(dt.date(2026, 10, 20), "70001")] == (20, 1200.01)  # inside the window, unchanged
    assert len(rows) == 5
    assert conns.get("d").synced_through == "2026-11-01"


def test_a_token_from_the_environment_is_never_stored(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        r = run_kassa(
            "connect", "yandex-direct", "--name", "envd", "--token-env", "KASSA_TEST_DIRECT_TOKEN",
            "--base-url", fake.base_url, "--db", db,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        missing = run_kassa("sync", "envd", *OCTOBER, "--db", db)
        ok = run_kassa("sync", "envd", *OCTOBER, "--db", db, env={"KASSA_TEST_DIRECT_TOKEN": TOKEN})
    assert missing.returncode == 1 and "the environment variable KASSA_TEST_DIRECT_TOKEN is not set" in flat(
        missing.stderr
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "shop.duckdb.secrets.json").read_text())["tokens"] == {}
    assert len(spend(db)) == 4


def test_connect_refuses_what_it_cannot_use_and_disconnect_removes_the_token(tmp_path):
    db = tmp_path / "shop.duckdb"
    later = run_kassa("connect", "tiktok-ads", "--name", "v", "--token-stdin", "--db", db, stdin="t\n")
    assert later.returncode == 2 and "choose from" in later.stderr and "meta-ads" in later.stderr
    no_token = run_kassa("connect", "yandex-direct", "--name", "d", "--db", db)
    assert no_token.returncode == 2 and "--token-stdin" in no_token.stderr
    bad_name = run_kassa(
        "connect", "yandex-direct", "--name", "a/b", "--token-stdin", "--db", db, stdin="t\n"
    )
    assert bad_name.returncode == 2 and "connection name 'a/b'" in bad_name.stderr
    connect(db, "http://127.0.0.1:9")
    assert run_kassa("disconnect", "d", "--db", db).returncode == 0
    assert json.loads((tmp_path / "shop.duckdb.secrets.json").read_text())["tokens"] == {}
    connect(db, "http://127.0.0.1:9")
    assert run_kassa("connect", "--remove", "d", "--db", db).returncode == 0
    assert json.loads((tmp_path / "shop.duckdb.connections.json").read_text())["connections"] == {}
    unknown = run_kassa("sync", "d", "--db", db)
    assert unknown.returncode == 2 and "no connection 'd'" in unknown.stderr
