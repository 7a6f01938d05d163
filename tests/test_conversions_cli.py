"""kassa conversions: which demo sales go to Metrica (checked against the demo's own tables), the upload
file's format, and an upload through a fake Metrica endpoint that counts once when sent twice."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import duckdb
from tests.conftest import DemoCompany
from tests.connectors.fake_metrica_conversions import fake_metrica_conversions
from tests.kassa_cli import run_kassa

from kassa.store.connections import Connection, Connections

TOKEN = "y0_metrica-secret-token-123"
MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def _expected(db: Path) -> dict[str, tuple[str, int, str]]:
    """By hand from the demo's tables: October's won deals whose lead (or the lead's visit) carries a
    Metrica ClientID (a number), with its Unix time and amount."""
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        """SELECT d.deal_id, l.client_id, d.closed_at, d.amount FROM deals d JOIN leads l USING (lead_id)
           WHERE d.status = 'won' AND d.closed_at >= '2026-10-01' AND d.closed_at < '2026-11-01'
             AND regexp_full_match(coalesce(l.client_id, ''), '[0-9]+')"""
    ).fetchall()
    con.close()
    return {
        r[0]: (r[1], int(r[2].replace(tzinfo=MSK).timestamp()), f"{r[3]:.2f}".rstrip("0").rstrip("."))
        for r in rows
    }


def test_demo_october_sales_export_to_metrica(
    demo_company: Callable[[bool], DemoCompany], tmp_path: Path
) -> None:
    demo = demo_company(True)
    out = tmp_path / "out.csv"
    r = run_kassa("conversions", "--db", demo.db, "--goal", "sale", "--platform", "metrica", "--export", out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ClientId,Target,DateTime,Price,Currency"
    got = list(csv.DictReader(lines))
    expected = _expected(demo.db)
    assert len(expected) == 108  # of 112 won October deals, 4 leads carry no ClientID (calls)
    assert sorted((g["ClientId"], int(g["DateTime"]), g["Price"]) for g in got) == sorted(expected.values())
    assert {g["Target"] for g in got} == {"sale"} and {g["Currency"] for g in got} == {"RUB"}
    assert "108 of 112" in r.stdout and "skipped 4" in r.stdout
    # The first one by hand: D-8088 closed 2026-10-01 10:41:58 Moscow = 07:41:58 UTC.
    assert int(dt.datetime(2026, 10, 1, 7, 41, 58, tzinfo=dt.UTC).timestamp()) == expected["D-8088"][1]


def test_demo_google_and_meta_skip_every_sale_without_its_click_id(
    demo_company: Callable[[bool], DemoCompany], tmp_path: Path
) -> None:
    demo = demo_company(True)
    for platform, reason in (("google-ads", "no gclid"), ("meta", "no fbclid")):
        r = run_kassa("conversions", "--db", demo.db, "--goal", "sale", "--platform", platform, "--period",
                      "2026-10", "--export", tmp_path / f"{platform}.csv", "--json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        # The demo's ads are Direct's (yclid) and VK's: no sale carries a gclid or an fbclid.
        assert data["ready"] == 0 and sum(data["skipped"].values()) == 112, (platform, data)
        assert reason  # the words are checked in the ru/en test below


def test_upload_twice_counts_once(demo_company: Callable[[bool], DemoCompany], tmp_path: Path) -> None:
    db = demo_company(True).copy(tmp_path / "shop.duckdb")
    with fake_metrica_conversions(TOKEN) as fake:
        fake.faults.append(503)  # a busy moment first: retried, nothing accepted twice
        Connections(db).save(
            Connection(
                "metrica", "yandex-metrica", {"counter": fake.counter}, fake.base_url, "env:YM_TOKEN", 3
            ),
            None,
        )
        args = ("conversions", "--db", db, "--goal", "sale", "--platform", "metrica", "--period", "2026-10",
                "--upload", "metrica", "--json")  # fmt: skip
        first = run_kassa(*args, env={"YM_TOKEN": TOKEN})
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["sent"] == 108
        second = run_kassa(*args, env={"YM_TOKEN": TOKEN})
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout)
        assert again["sent"] == 0 and again["already_sent"] == 108
        assert len(fake.uploads) == 1 and len(fake.counted) == 108
        assert sum(float(v["Price"]) for v in fake.counted.values()) == sum(
            float(p) for _, _, p in _expected(db).values()
        )
    for out in (first, second):
        assert TOKEN not in out.stdout + out.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT batch_id) FROM conversions_sent").fetchone() == (
        108,
        1,
    )
    con.close()


def test_upload_refused_names_the_connection_and_hides_the_token(
    demo_company: Callable[[bool], DemoCompany], tmp_path: Path
) -> None:
    db = demo_company(True).copy(tmp_path / "shop.duckdb")
    with fake_metrica_conversions("another-token") as fake:
        Connections(db).save(
            Connection(
                "metrica", "yandex-metrica", {"counter": fake.counter}, fake.base_url, "env:YM_TOKEN", 3
            ),
            None,
        )
        r = run_kassa("conversions", "--db", db, "--goal", "sale", "--platform", "metrica", "--period", "2026-10",
                      "--upload", "metrica", env={"YM_TOKEN": TOKEN})  # fmt: skip
    assert r.returncode != 0
    assert "metrica" in r.stderr and "403" in r.stderr and TOKEN not in r.stdout + r.stderr
    con = duckdb.connect(str(db), read_only=True)
    tables = {t[0] for t in con.execute("SHOW TABLES").fetchall()}
    con.close()
    assert "conversions_sent" not in tables  # nothing logged as sent


def test_russian_messages(demo_company: Callable[[bool], DemoCompany], tmp_path: Path) -> None:
    demo = demo_company(True)
    r = run_kassa("conversions", "--db", demo.db, "--goal", "sale", "--platform", "metrica", "--export",
                  tmp_path / "o.csv", "--lang", "ru")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "108 из 112" in r.stdout and "пропущено 4" in r.stdout
