"""Google Ads: the searchStream client and `kassa sync` against a fake Google Ads API (tests/connectors/fake_google.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from tests.connectors.fake_google import fake_google, quota
from tests.kassa_cli import run_kassa

from kassa.connectors.google_ads import Account, Client, Secret, Timing, Tokens
from kassa.errors import ServiceError
from kassa.store import Warehouse

IDS = {"customer": "1234567890", "client_id": "1234.apps.googleusercontent.com"}
SECRETS = {
    "developer_token": "devtok-ABCD-secret",
    "client_secret": "GOCSPX-client-secret",
    "refresh_token": "1//refresh-secret",
}
ROWS = [
    ("2026-10-01", "111", "Brand", 1000, 40, Decimal("12.5")),
    ("2026-10-01", "222", "Generic", 300, 3, Decimal("4.010000")),
    ("2026-10-20", "111", "Brand", 900, 30, Decimal("10")),
]
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def fake(**kw: object):
    return fake_google(**IDS, **SECRETS, rows=ROWS, **kw)  # type: ignore[arg-type]


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s


def client(f, vt, tokens=None, saved=None, login=None, secret=None) -> Client:
    acc = Account(
        "g",
        IDS["customer"],
        IDS["client_id"],
        secret or Secret(**SECRETS),
        login,
        f.base_url,
        f.base_url + "/token",
    )
    return Client(acc, tokens, (saved if saved is not None else []).append, dataclasses.replace(Timing(), attempts=3),
                  clock=vt.clock, wall=lambda: 1_800_000_000.0 + vt.now, sleep=vt.sleep, rng=random.Random(1))  # fmt: skip


def test_a_first_fetch_gets_an_access_token_sends_the_headers_and_keeps_every_batch():
    vt, saved = VirtualTime(), []
    with fake(manager="9876543210") as f:
        body = json.loads(client(f, vt, saved=saved, login="9876543210").statistics(OCT1, OCT31))
    assert f.endpoints() == ["token", "stream"]
    h = f.log[1][1]
    assert h["developer-token"] == SECRETS["developer_token"] and h["login-customer-id"] == "9876543210"
    assert "BETWEEN '2026-10-01' AND '2026-10-31'" in h["query"]
    assert isinstance(body, list) and len(body) == 2 and sum(len(b.get("results", [])) for b in body) == 3
    assert saved[0].expires_at == 1_800_000_000.0 + 3599


def test_a_manager_without_login_customer_id_is_told_what_to_add():
    vt = VirtualTime()
    with fake(manager="9876543210") as f, pytest.raises(ServiceError) as exc:
        client(f, vt).statistics(OCT1, OCT31)
    assert "PERMISSION_DENIED" in str(exc.value) and "--login-customer-id" in str(exc.value)


def test_quota_waits_its_retry_delay_and_an_html_503_is_retried():
    vt = VirtualTime()
    with fake() as f:
        f.faults = [quota("7s"), (503, None)]
        body = json.loads(client(f, vt).statistics(OCT1, OCT31))
    assert vt.waits[0] == 7.0 and len(vt.waits) == 2 and sum(len(b.get("results", [])) for b in body) == 3


def test_an_access_token_refused_mid_sync_is_refreshed_saved_and_the_stream_asked_again():
    vt, saved = VirtualTime(), []
    with fake() as f:
        client(f, vt, saved=saved).statistics(OCT1, OCT1)
        f.expire_all()
        c = client(f, vt, tokens=saved[-1], saved=saved)
        c.statistics(OCT1, OCT31)
    assert c.refreshed == 1 and len(saved) == 2 and saved[1].access_token != saved[0].access_token
    assert f.endpoints() == ["token", "stream", "stream", "token", "stream"]


def test_a_refused_refresh_names_the_connection_and_no_secret():
    vt = VirtualTime()
    revoked = Secret(SECRETS["developer_token"], SECRETS["client_secret"], "1//revoked-refresh")
    with fake() as f, pytest.raises(ServiceError) as exc:
        client(f, vt, secret=revoked, tokens=Tokens("ya29.old", "", 0)).statistics(OCT1, OCT31)
    msg = str(exc.value)
    assert "invalid_grant" in msg and "connection 'g' needs re-authorising" in msg
    assert not any(s in msg for s in [*SECRETS.values(), "1//revoked-refresh"])


def spend(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute(
            "SELECT date, channel, campaign, impressions, clicks, cost, currency, vat_included FROM spend ORDER BY ALL"
        ).fetchall()


def test_sync_loads_spend_as_the_file_import_does_and_no_secret_is_left_outside_the_secrets_file(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake() as f:
        r = run_kassa("connect", "google-ads", "--name", "g", "--customer-id", "123-456-7890", "--client-id", IDS["client_id"],
                      "--token-stdin", "--base-url", f.base_url, "--db", db, stdin=json.dumps(SECRETS) + "\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        first = run_kassa("sync", "g", "--since", "2026-10-01", "--until", "2026-10-31", "--db", db, "--json")
        again = run_kassa(
            "sync", "g", "--since", "2026-10-01", "--until", "2026-10-31", "--db", db, env={"COLUMNS": "200"}
        )
        (tmp_path / "google.json").write_text(json.dumps(f.stream("2026-10-01", "2026-10-31")))
        listed = run_kassa("connections", "--db", db, "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["connections"][0]["rows"] == {"spend": 3}
    assert again.returncode == 0 and "already #1" in again.stdout
    assert f.endpoints().count("token") == 1  # the second sync reused the saved access token
    imported = tmp_path / "imported.duckdb"
    assert run_kassa("import", tmp_path / "google.json", "--db", imported).returncode == 0
    assert spend(db) == spend(imported) and sum(Decimal(str(x[5])) for x in spend(db)) == Decimal("26.51")
    access = json.loads((tmp_path / "shop.duckdb.secrets.json").read_text())["oauth"]["g"]["access_token"]
    for text in (first.stdout, again.stdout, listed.stdout):
        assert not any(s in text for s in [*SECRETS.values(), access])
    for p in tmp_path.iterdir():
        if p.name != "shop.duckdb.secrets.json":
            assert not any(s.encode() in p.read_bytes() for s in [*SECRETS.values(), access]), p
    assert json.loads(listed.stdout)[0]["options"]["customer_id"] == "1234567890"
