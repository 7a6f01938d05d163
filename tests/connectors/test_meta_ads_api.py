"""Meta Ads: the Insights async-report client and `kassa sync` against a fake Marketing API (tests/connectors/fake_meta.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from tests.connectors.fake_meta import fake_meta, meta_error
from tests.kassa_cli import run_kassa

from kassa.connectors.meta_ads import Account, Client, Timing
from kassa.errors import ServiceError
from kassa.store import Warehouse

TOKEN = "EAAG-meta-secret-token-99"
ROWS = [
    ("2026-10-01", "23850000001", "Осень", 1000, 30, Decimal("150.25")),
    ("2026-10-01", "23850000002", "Ретаргет", 400, 8, Decimal("60")),
    ("2026-10-02", "23850000001", "Осень", 900, 20, Decimal("120.5")),
    ("2026-10-31", "23850000002", "Ретаргет", 100, 1, Decimal("9.99")),
    ("2026-10-31", "23850000001", "Осень", 50, 0, Decimal("0")),
]
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s


def client(f, vt, token=TOKEN, **timing) -> Client:
    return Client(Account("fb", "1234567890", token, f.base_url), dataclasses.replace(Timing(), **timing),
                  clock=vt.clock, sleep=vt.sleep, rng=random.Random(2))  # fmt: skip


def test_the_run_is_polled_until_completed_not_until_100_percent_and_every_page_is_read():
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=3, page=2) as f:
        pages = json.loads(client(f, vt).insights(OCT1, OCT31))
    assert f.endpoints() == ["start", "status", "status", "status", "status", "results", "results", "results"]
    assert vt.waits == [2.0, 4.0, 8.0]  # runs reporting 100 % were still waited for
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    start = f.log[0][2]
    assert start["time_increment"] == "1" and json.loads(start["time_range"]) == {
        "since": "2026-10-01",
        "until": "2026-10-31",
    }
    # The next links carried the token; kassa sent it in the header only.
    assert all("access_token" not in q for _, e, q in f.log if e == "results")


def test_rate_limit_errors_17_and_613_wait_and_a_500_is_retried():
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=0) as f:
        f.fault("start", (400, meta_error(17, "User request limit reached", 2446079)))
        f.fault(
            "results",
            (400, meta_error(613, "Calls to this api have exceeded the rate limit", 1487742)),
            (500, None),
        )
        pages = json.loads(client(f, vt, quota_wait=30.0).insights(OCT1, OCT31))
    assert sum(len(p["data"]) for p in pages) == 5
    rate_waits = [w for w in vt.waits if w >= 15.0]
    assert len(rate_waits) == 2 and all(15.0 <= w <= 60.0 for w in rate_waits)


def test_a_failed_run_ends_the_poll_and_an_expired_token_names_the_connection():
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=1, final="Job Failed") as f:
        with pytest.raises(ServiceError, match="ended with 'Job Failed'"):
            client(f, vt).insights(OCT1, OCT31)
        with pytest.raises(ServiceError) as exc:
            client(f, vt, token="EAAG-expired").insights(OCT1, OCT31)
    assert "error 190" in str(exc.value) and "connection 'fb' needs re-authorising" in str(exc.value)
    assert "EAAG-expired" not in str(exc.value)


def test_a_run_that_never_completes_stops_at_the_deadline():
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=10**6) as f, pytest.raises(ServiceError) as exc:
        client(f, vt, deadline=300.0).insights(OCT1, OCT31)
    assert "deadline of 300 s" in str(exc.value) and "Job Running, 100 %" in str(exc.value)


def spend(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute(
            "SELECT date, channel, campaign, impressions, clicks, cost, currency, vat_included FROM spend ORDER BY ALL"
        ).fetchall()


def test_sync_loads_spend_as_the_file_import_does_and_the_token_stays_in_the_secrets_file(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_meta(TOKEN, rows=ROWS, polls=0, page=2) as f:
        r = run_kassa("connect", "meta-ads", "--name", "fb", "--account", "act_1234567890", "--token-stdin",
                      "--base-url", f.base_url, "--db", db, stdin=TOKEN + "\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        first = run_kassa(
            "sync", "fb", "--since", "2026-10-01", "--until", "2026-10-31", "--db", db, "--json"
        )
        again = run_kassa(
            "sync", "fb", "--since", "2026-10-01", "--until", "2026-10-31", "--db", db, env={"COLUMNS": "200"}
        )
        (tmp_path / "meta.json").write_text(json.dumps({"data": f.data("2026-10-01", "2026-10-31")}))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["connections"][0]["rows"] == {"spend": 5}
    assert again.returncode == 0 and "already #1" in again.stdout
    imported = tmp_path / "imported.duckdb"
    assert run_kassa("import", tmp_path / "meta.json", "--db", imported).returncode == 0
    assert spend(db) == spend(imported) and sum(Decimal(str(x[5])) for x in spend(db)) == Decimal("340.74")
    assert sum(x[4] for x in spend(db)) == 59  # link clicks, as the reader counts them
    for text in (first.stdout, again.stdout, first.stderr):
        assert TOKEN not in text
    for p in tmp_path.iterdir():
        if p.name != "shop.duckdb.secrets.json":
            assert TOKEN.encode() not in p.read_bytes(), p


@pytest.mark.parametrize("too_much", ["code1", "subcode"])
def test_too_much_data_splits_the_period_in_halves_and_loads_every_row_once(too_much):
    """Meta's "Please reduce the amount of data" (code 1 / HTTP 500 when the run starts, or code 100 /
    subcode 1487534 on its last page): the period is asked again in halves down to what Meta serves; the
    pages of a refused run are not kept."""
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=0, page=1, max_days=8, too_much=too_much) as f:
        c = client(f, vt)
        pages = json.loads(c.insights(OCT1, OCT31))
        started = [json.loads(q["time_range"]) for _, e, q in f.log if e == "start"]
    got = sorted((r["date_start"], r["campaign_id"], r["spend"]) for p in pages for r in p["data"])
    assert got == sorted((d, cid, str(spend)) for d, cid, _n, _i, _c, spend in ROWS)  # each once
    assert started[0] == {"since": "2026-10-01", "until": "2026-10-31"}
    assert [(r["since"][-2:], r["until"][-2:]) for r in started] == [
        ("01", "31"), ("01", "16"), ("01", "08"), ("09", "16"), ("17", "31"), ("17", "24"), ("25", "31"),
    ]  # fmt: skip
    assert c.stats.splits == 3  # 31 days -> 16 + 15 -> 8 + 8 + 8 + 7 days


def test_too_much_data_for_a_single_day_is_an_error_naming_the_request():
    vt = VirtualTime()
    with fake_meta(TOKEN, rows=ROWS, polls=0, max_days=0) as f, pytest.raises(ServiceError) as exc:
        client(f, vt).insights(OCT1, dt.date(2026, 10, 2))
    msg = str(exc.value)
    assert "start the report 2026-10-01..2026-10-01" in msg and "reduce the amount of data" in msg
    assert TOKEN not in msg
