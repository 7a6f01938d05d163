"""VK Ads: the client and `kassa sync` against a fake VK Ads API on 127.0.0.1 (tests/connectors/fake_vk.py).

Tokens minted once and refreshed (also when one expires mid-sync), the new pair saved at once; a failed
refresh names the connection to re-authorise; the token cap explained; statistics in 92-day windows
and 200-id batches; synced spend equal to the same answer imported from a file; no secret anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx
import pytest
from tests.connectors.fake_vk import fake_vk
from tests.kassa_cli import run_kassa

from kassa.connectors.vk_ads import Account, Client, Timing, Tokens, windows
from kassa.errors import ServiceError
from kassa.store import Warehouse

CLIENT_ID, SECRET = "4a8c2f", "vk-client-secret-31337"
ROWS = [
    ("2026-10-01", 107921416, 1000, 40, Decimal("1234.56")),
    ("2026-10-01", 107921417, 500, 5, Decimal("99.90")),
    ("2026-10-15", 107921416, 800, 20, Decimal("700.00")),
    ("2026-10-31", 107921417, 10, 0, Decimal("0.00")),
]
CAMPAIGNS = [107921416, 107921417]
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def client(base_url: str, vt: VirtualTime, tokens: Tokens | None = None, saved: list | None = None) -> Client:
    keep = saved if saved is not None else []
    return Client(
        Account("vk", CLIENT_ID, SECRET, base_url),
        tokens,
        keep.append,
        dataclasses.replace(Timing(), attempts=3),
        clock=vt.clock,
        wall=lambda: 1_800_000_000.0 + vt.now,
        sleep=vt.sleep,
        rng=random.Random(5),
    )


def items(body: bytes) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for item in json.loads(body)["items"]:
        out.setdefault(item["id"], []).extend((r["date"], r["base"]["spent"]) for r in item["rows"])
    return out


def test_a_first_fetch_mints_one_token_saves_the_pair_and_reads_in_windows_and_batches():
    vt, saved = VirtualTime(), []
    many = list(range(1, 261))  # 260 campaigns: two pages of ad_plans, two batches of ids
    rows = [("2026-07-01", 1, 1, 1, Decimal("1.00")), ("2026-10-31", 260, 2, 2, Decimal("2.50"))]
    with fake_vk(CLIENT_ID, SECRET, campaigns=many, rows=rows) as fake:
        c = client(fake.base_url, vt, saved=saved)
        body = c.statistics(dt.date(2026, 7, 1), dt.date(2026, 10, 31))  # 123 days: two windows
    assert fake.endpoints() == ["token", "campaigns", "campaigns", *["statistics"] * 4]
    stats = [q for _, e, q in fake.log if e == "statistics"]
    assert {(q["date_from"], q["date_to"]) for q in stats} == {
        ("2026-07-01", "2026-09-30"),
        ("2026-10-01", "2026-10-31"),
    }
    assert max(len(q["id"].split(",")) for q in stats) == 200
    got = items(body)
    assert got[1] == [("2026-07-01", "1.00")] and got[260] == [("2026-10-31", "2.50")]
    (pair,) = saved
    assert pair.expires_at == 1_800_000_000.0 + 86400  # expires_in arrived as the string "86400"
    assert c.minted == 1 and c.refreshed == 0


def test_a_token_expiring_mid_sync_is_refreshed_once_saved_and_the_call_repeated():
    vt, saved = VirtualTime(), []
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS) as fake:
        first = client(fake.base_url, vt, saved=saved)
        first.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
        pair = saved[-1]
        fake.expire_all()  # VK dropped the access token; its refresh token still works
        second = client(fake.base_url, vt, tokens=pair, saved=saved)
        body = second.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert second.refreshed == 1 and second.minted == 0 and len(saved) == 2
    assert saved[1].access_token != pair.access_token and saved[1].refresh_token != pair.refresh_token
    assert fake.endpoints().count("token") == 2  # one mint, one refresh
    assert items(body)[107921416] == [("2026-10-01", "1234.56"), ("2026-10-15", "700.00")]


def test_a_token_about_to_expire_is_refreshed_before_it_is_used():
    vt, saved = VirtualTime(), []
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS) as fake:
        c = client(fake.base_url, vt, saved=saved)
        c.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 1))
        soon = dataclasses.replace(saved[-1], expires_at=1_800_000_000.0 + vt.now + 10)
        c2 = client(fake.base_url, vt, tokens=soon, saved=saved)
        c2.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    assert c2.refreshed == 1
    assert [e for e in fake.endpoints() if e == "token"] == ["token", "token"]
    assert (
        "campaigns" in fake.endpoints()[fake.endpoints().index("token", 1) :]
    )  # refreshed first, then asked


def test_a_refused_refresh_names_the_connection_to_reauthorise_and_no_secret():
    vt = VirtualTime()
    dead = Tokens("vk-acc-dead", "vk-ref-dead", 1_800_000_000.0 - 1)
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt, tokens=dead).statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    msg = str(exc.value)
    assert "invalid_grant" in msg and "connection 'vk' needs re-authorising" in msg
    assert "kassa connect vk-ads --name vk --client-id 4a8c2f" in msg
    for secret in (SECRET, "vk-ref-dead", "vk-acc-dead"):
        assert secret not in msg


def test_the_token_cap_is_explained():
    vt = VirtualTime()
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, cap=5) as fake:
        for _ in range(5):  # five tokens minted elsewhere (a script run five times)
            httpx.post(f"{fake.base_url}/api/v2/oauth2/token.json",
                       data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET})  # fmt: skip
        with pytest.raises(ServiceError) as exc:
            client(fake.base_url, vt).statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert "at most 5 active tokens" in str(exc.value) and "token/delete.json" in str(exc.value)


def test_429_an_html_503_and_a_dropped_answer_are_retried():
    vt = VirtualTime()
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS) as fake:
        fake.fault("statistics", (429, {"error": {"code": "too_many_requests"}}), (503, None), "drop")
        c = client(fake.base_url, vt)
        body = c.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert len(items(body)[107921416]) == 2 and c.stats.retries == 3


def test_the_remaining_requests_vk_announces_are_heeded_before_it_complains():
    vt = VirtualTime()
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS, rps_left=[1, 0, 4]) as fake:
        c = client(fake.base_url, vt)
        c.statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
        assert vt.waits == [1.0]  # after "0 left this second" (the statistics answer) a second
        fake.hourly_left = 0
        with pytest.raises(ServiceError, match="no more requests this hour"):
            client(fake.base_url, vt).statistics(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert "429" not in str(fake.log)


def test_the_fake_refuses_what_the_real_service_refuses():
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS) as fake:
        url = fake.base_url + "/api/v2"
        as_json = httpx.post(f"{url}/oauth2/token.json", json={"grant_type": "client_credentials"})
        wrong = httpx.post(
            f"{url}/oauth2/token.json",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
        )
        token = httpx.post(
            f"{url}/oauth2/token.json",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET},
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        long = httpx.get(
            f"{url}/statistics/ad_plans/day.json",
            params={"id": "1", "date_from": "2026-07-01", "date_to": "2026-10-31", "metrics": "base"},
            headers=auth,
        )
        ids = httpx.get(
            f"{url}/statistics/ad_plans/day.json",
            params={
                "id": ",".join(map(str, range(201))),
                "date_from": "2026-10-01",
                "date_to": "2026-10-31",
                "metrics": "base",
            },
            headers=auth,
        )
        anon = httpx.get(f"{url}/ad_plans.json")
    assert as_json.status_code == 400 and wrong.json()["error"] == "invalid_client"
    assert token["expires_in"] == "86400"
    assert long.status_code == 400 and ids.status_code == 400 and anon.status_code == 401


def test_windows_are_at_most_92_days():
    w = windows(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert (
        all((b - a).days + 1 <= 92 for a, b in w)
        and w[0][0] == dt.date(2026, 1, 1)
        and w[-1][1] == dt.date(2026, 12, 31)
    )


# -- kassa connect / kassa sync -------------------------------------------------------------------------


def connect(db: Path, base_url: str) -> None:
    r = run_kassa(
        "connect", "vk-ads", "--name", "vk", "--client-id", CLIENT_ID, "--token-stdin",
        "--base-url", base_url, "--db", db, stdin=SECRET + "\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def spend(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute(
            "SELECT date, channel, campaign, impressions, clicks, cost, currency, vat_included FROM spend ORDER BY ALL"
        ).fetchall()


def secrets_of(db: Path) -> dict:
    return json.loads(db.with_name(db.name + ".secrets.json").read_text())


def test_sync_loads_spend_as_the_file_import_does_and_reuses_then_refreshes_its_pair(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS) as fake:
        connect(db, fake.base_url)
        r = run_kassa("sync", "vk", *OCTOBER, "--db", db, "--json")
        assert r.returncode == 0, r.stderr
        first_pair = secrets_of(db)["oauth"]["vk"]
        again = run_kassa("sync", "vk", *OCTOBER, "--db", db, env={"COLUMNS": "200"})
        fake.expire_all()
        third = run_kassa("sync", "vk", *OCTOBER, "--db", db)
        (tmp_path / "vk.json").write_text(json.dumps(fake.statistics(CAMPAIGNS, "2026-10-01", "2026-10-31")))
        listed = run_kassa("connections", "--db", db, "--json")
    assert json.loads(r.stdout)["connections"][0]["rows"] == {"spend": 4}
    assert again.returncode == 0 and "already #1" in again.stdout
    assert third.returncode == 0, third.stderr
    assert fake.endpoints().count("token") == 2  # minted once, refreshed once: never a token per sync
    new_pair = secrets_of(db)["oauth"]["vk"]
    assert new_pair["access_token"] != first_pair["access_token"] and new_pair["access_token"] in fake.live
    imported = tmp_path / "imported.duckdb"
    assert run_kassa("import", tmp_path / "vk.json", "--db", imported).returncode == 0
    assert spend(db) == spend(imported)
    assert sum(Decimal(str(row[5])) for row in spend(db)) == Decimal("2034.46")
    secrets = [SECRET, first_pair["access_token"], first_pair["refresh_token"], new_pair["access_token"]]
    for text in (r.stdout, again.stdout, third.stdout, third.stderr, listed.stdout):
        assert not any(s in text for s in secrets)
    for p in tmp_path.iterdir():
        if p.name not in ("shop.duckdb.secrets.json",):
            assert not any(s.encode() in p.read_bytes() for s in secrets), p


def test_a_refused_refresh_in_sync_names_the_connection_and_reconnecting_starts_afresh(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_vk(CLIENT_ID, SECRET, campaigns=CAMPAIGNS, rows=ROWS) as fake:
        connect(db, fake.base_url)
        assert run_kassa("sync", "vk", *OCTOBER, "--db", db).returncode == 0
        fake.expire_all()
        fake.refreshable.clear()  # the refresh token was revoked too
        r = run_kassa("sync", "vk", *OCTOBER, "--db", db)
        assert r.returncode == 1 and "connection 'vk' needs re-authorising" in " ".join(r.stderr.split())
        connect(db, fake.base_url)  # re-authorise: the old pair is dropped, a new one minted
        assert "vk" not in secrets_of(db)["oauth"]
        assert run_kassa("sync", "vk", *OCTOBER, "--db", db).returncode == 0
    assert "vk" in secrets_of(db)["oauth"]
