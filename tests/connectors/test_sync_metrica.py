"""`kassa connect yandex-metrica` / `kassa sync` against the fake Logs API (tests/connectors/fake_metrica.py).

A synced log loads exactly what importing the same downloaded log as a file loads; the same days again
change nothing; a malformed line fails the sync naming it, loads nothing and still cleans the log
request; the token stays out of the warehouse, the messages and the connections file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from tests.connectors.fake_metrica import fake_metrica
from tests.connectors.test_yandex_metrica_logs_api import ROWS, visit
from tests.kassa_cli import run_kassa

from kassa.connectors.yandex_metrica import FIELDS, Timing
from kassa.store import Warehouse
from kassa.store.connections import Connections
from kassa.store.sync import load_report, sync_one

TOKEN = "y0_metrica-secret-token-777"
COUNTER = "24169438"
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")


def connect(db: Path, base_url: str, *extra: str) -> None:
    r = run_kassa(
        "connect", "yandex-metrica", "--name", "m", "--counter", COUNTER, "--token-stdin",
        "--base-url", base_url, "--db", db, *extra, stdin=TOKEN + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def visits(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute(
            "SELECT visit_id, client_id, ts, utm_source, utm_medium, utm_campaign, landing_page FROM visits ORDER BY ALL"
        ).fetchall()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_connect_then_sync_loads_the_log_exactly_as_the_file_import_does(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_metrica(TOKEN, rows=ROWS, polls=0, parts=3) as fake:
        connect(db, fake.base_url)
        r = run_kassa("sync", "m", *OCTOBER, "--db", db, "--json")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)["connections"][0]
        log = tmp_path / "visits-2026-10.tsv"
        log.write_text(
            "\n".join(["\t".join(FIELDS), *fake.tsv(list(FIELDS), "2026-10-01", "2026-10-31")]) + "\n",
            encoding="utf-8",
        )
    assert summary["ok"] and summary["rows"] == {"visits": 40} and summary["days"] == "2026-10-01..2026-10-31"
    assert fake.pending == []  # the log request was cleaned
    imported = tmp_path / "imported.duckdb"
    r = run_kassa("import", log, "--db", imported)
    assert r.returncode == 0, r.stderr
    assert visits(db) == visits(imported) and len(visits(db)) == 40
    assert visits(db)[0][3:6] == ("yandex", "cpc", "70001")


def test_the_same_days_again_change_nothing_and_undo_takes_the_batch_back(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_metrica(TOKEN, rows=ROWS, polls=0) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "m", *OCTOBER, "--db", db).returncode == 0
        before = visits(db)
        r = run_kassa("sync", "m", *OCTOBER, "--db", db, env={"COLUMNS": "200"})
        assert r.returncode == 0 and "already #1" in r.stdout
        listed = run_kassa("imports", "--db", db, "--columns", "file,format", env={"COLUMNS": "200"})
    assert visits(db) == before
    assert f"m (Yandex Metrica, counter {COUNTER}" in listed.stdout and "metrica_logs" in listed.stdout
    assert run_kassa("imports", "undo", "1", "--db", db).returncode == 0
    assert visits(db) == []


def test_a_malformed_line_fails_the_sync_naming_it_loads_nothing_and_still_cleans(tmp_path):
    db = tmp_path / "shop.duckdb"
    broken = "\t".join(["7999", "1", "2026-10-05 10:00:00", "a\tb", *[""] * (len(FIELDS) - 4)])
    with fake_metrica(TOKEN, rows=ROWS, polls=0, extra_lines=[broken]) as fake:
        connect(db, fake.base_url)
        r = run_kassa("sync", "m", *OCTOBER, "--db", db)
    assert r.returncode == 1
    err = flat(r.stderr)
    assert "m (Yandex Metrica, counter" in err and "2026-10-01..2026-10-31" in err
    assert "more fields than the header" in err
    assert fake.pending == []
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.batches() == [] and visits(db) == []


def test_the_token_never_reaches_the_warehouse_a_message_or_the_connections_file(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_metrica(TOKEN, rows=ROWS, polls=0) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "m", *OCTOBER, "--db", db).returncode == 0
        fake.token = "revoked-by-yandex"
        fake.echo_token_in_errors = True
        r = run_kassa("sync", "m", *OCTOBER, "--db", db)
        listed = run_kassa("connections", "--db", db, "--json")
    assert r.returncode == 1 and "connection 'm' needs re-authorising" in flat(r.stderr)
    for text in (r.stdout, r.stderr, listed.stdout):
        assert TOKEN not in text
    for p in tmp_path.iterdir():
        if p.name != "shop.duckdb.secrets.json":
            assert TOKEN.encode() not in p.read_bytes(), p
    (conn,) = json.loads(listed.stdout)
    assert conn["options"] == {"counter": COUNTER} and conn["synced_through"] == "2026-10-31"


def test_the_cursor_re_reads_three_days_and_revised_visits_replace_old(tmp_path):
    db = tmp_path / "shop.duckdb"
    fast = dataclasses.replace(Timing(), poll_first=0.01)
    with fake_metrica(TOKEN, rows=ROWS, polls=0, today="2026-11-03") as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "m", *OCTOBER, "--db", db).returncode == 0
        # A late visit of 30 October arrived, one of 31 October changed its campaign, 1-2 November are new.
        fake.rows = [r for r in ROWS if r["ym:s:visitID"] != "7000000030"] + [
            visit(30, "2026-10-31", **{"ym:s:lastsignUTMCampaign": "70002"}),
            visit(100, "2026-10-30"),
            visit(101, "2026-11-02"),
        ]
        conns = Connections(db)

        def load(report, options, fmt, origin):
            with Warehouse.open(db) as wh:
                return load_report(wh, report, options, fmt, origin)

        out = sync_one(
            conns, conns.get("m"), load, since=None, until=None, today=dt.date(2026, 11, 3), timing=fast
        )
    assert out.error is None and (out.since, out.until) == (dt.date(2026, 10, 29), dt.date(2026, 11, 2))
    create = [q for _, e, q in fake.log if e == "create"][-1]
    assert (create["date1"], create["date2"]) == ("2026-10-29", "2026-11-02")
    got = {v[0]: v for v in visits(db)}
    assert len(got) == 42 and got["7000000030"][5] == "70002"
    assert conns.get("m").synced_through == "2026-11-02"


def test_connect_needs_the_counter(tmp_path):
    r = run_kassa(
        "connect",
        "yandex-metrica",
        "--name",
        "m",
        "--token-stdin",
        "--db",
        tmp_path / "s.duckdb",
        stdin="t\n",
    )
    assert r.returncode == 2 and "--counter" in r.stderr
    help_text = run_kassa("connect", "yandex-metrica", "--help", env={"COLUMNS": "200"}).stdout
    assert "kassa connect yandex-metrica --name m --counter" in help_text


def test_a_visit_in_the_counters_time_zone_lands_on_the_business_day(tmp_path):
    """The counter in Yekaterinburg (UTC+5), the business in Moscow (UTC+3): 00:30 on 2 October there
    is 22:30 on 1 October here — the visit belongs to the business's 1 October."""
    db = tmp_path / "shop.duckdb"
    rows = [
        visit(1, "2026-10-02", **{"ym:s:dateTime": "2026-10-02 00:30:00"}),
        visit(2, "2026-10-02", **{"ym:s:dateTime": "2026-10-02 12:00:00"}),
    ]
    with fake_metrica(TOKEN, rows=rows, polls=0, time_zone="Asia/Yekaterinburg") as fake:
        connect(db, fake.base_url)
        r = run_kassa("sync", "m", *OCTOBER, "--db", db, "--json")
        assert r.returncode == 0, r.stderr
        asked = [e for _, e, _ in fake.log]
    assert asked[0] == "counter" and asked.count("counter") == 1  # once per sync, before the log
    got = {v[0]: v[2] for v in visits(db)}
    assert got == {
        "7000000001": dt.datetime(2026, 10, 1, 22, 30),
        "7000000002": dt.datetime(2026, 10, 2, 10, 0),
    }


def test_a_counter_in_the_business_zone_or_silent_on_it_keeps_the_times(tmp_path):
    rows = [visit(1, "2026-10-02", **{"ym:s:dateTime": "2026-10-02 00:30:00"})]
    for zone in ("Europe/Moscow", None):
        db = tmp_path / f"shop-{zone is None}.duckdb"
        with fake_metrica(TOKEN, rows=rows, polls=0, time_zone=zone) as fake:
            connect(db, fake.base_url)
            r = run_kassa("sync", "m", *OCTOBER, "--db", db)
            assert r.returncode == 0, r.stderr
        assert [v[2] for v in visits(db)] == [dt.datetime(2026, 10, 2, 0, 30)]


def test_an_imported_log_takes_the_counters_zone_from_the_options(tmp_path):
    log = tmp_path / "visits.tsv"
    line = "\t".join(
        visit(1, "2026-10-02", **{"ym:s:dateTime": "2026-10-02 00:30:00"}).get(f, "") for f in FIELDS
    )
    log.write_text("\t".join(FIELDS) + "\n" + line + "\n", encoding="utf-8")
    opts = tmp_path / "opts.yaml"
    opts.write_text("counter_timezone: Asia/Yekaterinburg\n", encoding="utf-8")
    db = tmp_path / "shop.duckdb"
    r = run_kassa("import", log, "--mapping", opts, "--db", db)
    assert r.returncode == 0, r.stderr
    assert [v[2] for v in visits(db)] == [dt.datetime(2026, 10, 1, 22, 30)]
    opts.write_text("counter_timezone: Mars/Olympus\n", encoding="utf-8")
    r = run_kassa("import", log, "--mapping", opts, "--db", tmp_path / "other.duckdb")
    assert r.returncode != 0 and "Mars/Olympus" in r.stderr
