"""The Yandex Metrica Logs API client against a fake Logs API on 127.0.0.1 (tests/connectors/fake_metrica.py).

Waits run on a virtual clock (every wait the client chose is asserted); the HTTP traffic is real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import httpx2 as httpx
import pytest
from tests.connectors.fake_metrica import fake_metrica

from kassa.connectors.yandex_metrica import FIELDS, Account, Client, Timing, chunks
from kassa.errors import ServiceError

TOKEN = "y0_metrica-secret-token-777"
COUNTER = "24169438"
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def visit(n: int, day: str, **extra: str) -> dict[str, str]:
    return {
        "ym:s:visitID": str(7_000_000_000 + n),
        "ym:s:clientID": str(1_600_000_000_000_000_000 + n % 7),
        "ym:s:dateTime": f"{day} 1{n % 10}:00:00",
        "ym:s:lastsignUTMSource": "yandex",
        "ym:s:lastsignUTMMedium": "cpc",
        "ym:s:lastsignUTMCampaign": "70001",
        "ym:s:startURL": f"https://shop.example/?utm_source=yandex&n={n}",
        **extra,
    }


ROWS = [visit(i, f"2026-10-{1 + i % 31:02d}") for i in range(40)]


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds


def client(base_url: str, vt: VirtualTime, token: str = TOKEN, **timing: object) -> Client:
    t = dataclasses.replace(Timing(), **timing)  # type: ignore[arg-type]
    account = Account(connection="m", token=token, counter=COUNTER, base_url=base_url)
    return Client(account, t, clock=vt.clock, sleep=vt.sleep, rng=random.Random(3))


def lines(tsv: bytes) -> list[str]:
    return tsv.decode().splitlines()


def test_evaluate_create_poll_download_every_part_and_clean():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=3, parts=3) as fake:
        c = client(fake.base_url, vt)
        tsv = c.logs(OCT1, OCT31)
    got = lines(tsv)
    assert got[0] == "\t".join(FIELDS)  # one field line, though each of the three parts had one
    assert len(got) == 41 and sorted(r.split("\t")[0] for r in got[1:]) == sorted(
        r["ym:s:visitID"] for r in ROWS
    )
    assert fake.endpoints() == ["counter", "evaluate", "create", "status", "status", "status", "status",
                                "download", "download", "download", "clean"]  # fmt: skip
    create = next(q for _, e, q in fake.log if e == "create")
    assert create["date1"] == "2026-10-01" and create["date2"] == "2026-10-31"
    assert create["fields"] == ",".join(FIELDS) and create["source"] == "visits"
    assert vt.waits == [1.0, 1.0, 2.0, 4.0]  # the first check after a wait, then doubling
    assert fake.pending == [] and c.cleaned == [15071596]
    assert c.stats.polls == 3


def test_a_period_metrica_cannot_take_at_once_is_split_as_evaluate_says_and_each_part_cleaned():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, max_days=10, polls=0) as fake:
        c = client(fake.base_url, vt)
        tsv = c.logs(OCT1, OCT31)
    asked = [(q["date1"], q["date2"]) for _, e, q in fake.log if e == "create"]
    assert asked == [("2026-10-01", "2026-10-10"), ("2026-10-11", "2026-10-20"),
                     ("2026-10-21", "2026-10-30"), ("2026-10-31", "2026-10-31")]  # fmt: skip
    assert len(lines(tsv)) == 41 and fake.pending == [] and c.stats.splits == 1


def test_a_full_storage_is_an_error_that_says_what_to_do_and_creates_nothing():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, max_days=0) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt).logs(OCT1, OCT31)
    assert "max_possible_day_quantity 0" in str(exc.value) and "10 GB" in str(exc.value)
    assert "create" not in fake.endpoints()


@pytest.mark.parametrize("final", ["processing_failed", "cleaned_automatically_as_too_old", "canceled"])
def test_a_terminal_failure_ends_the_poll_with_its_status(final):
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=1, final=final) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt).logs(OCT1, OCT31)
    assert "connection 'm'" in str(exc.value) and f"(status {final})" in str(exc.value)
    assert fake.endpoints().count("status") == 2  # not an endless poll


def test_a_request_stuck_in_created_stops_at_the_deadline_and_is_cancelled():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=10_000) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt, deadline=600.0).logs(OCT1, OCT31)
    assert "deadline of 600 s" in str(exc.value) and "status created" in str(exc.value)
    assert fake.endpoints()[-1] == "cancel" and fake.pending == []
    assert vt.now <= 600.0


def test_quota_answers_429_and_420_back_off_then_load():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=0) as fake:
        fake.fault("create", (429, "quota_requests_by_uid"), (420, "quota_parallel_requests"))
        fake.fault("evaluate", (429, "quota_requests_by_ip"))
        c = client(fake.base_url, vt, quota_wait=10.0)
        assert len(lines(c.logs(OCT1, OCT31))) == 41
    quota_waits = [w for w in vt.waits if w != 1.0]
    assert len(quota_waits) == 3 and all(5.0 <= w <= 40.0 for w in quota_waits)
    assert c.stats.retries == 3


def test_a_connection_dropped_mid_download_and_an_html_503_are_retried():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=0, parts=2) as fake:
        fake.fault("download", "drop")
        fake.fault("status", (503, None))
        tsv = client(fake.base_url, vt).logs(OCT1, OCT31)
    assert len(lines(tsv)) == 41
    assert fake.endpoints().count("download") == 3 and fake.pending == []


def test_a_failure_after_create_still_cleans_so_the_quota_is_not_left_full():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS, polls=0) as fake:
        fake.fault("download", *[(500, "backend_error")] * 10)
        with pytest.raises(ServiceError, match=r"HTTP 500, backend_error: injected \(tried 2 times\)"):
            client(fake.base_url, vt, attempts=2).logs(OCT1, OCT31)
    assert fake.endpoints()[-1] == "clean" and fake.pending == []


def test_an_invalid_token_names_the_connection_to_reauthorise_and_never_the_token():
    vt = VirtualTime()
    with fake_metrica("another", echo_token_in_errors=True) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt).logs(OCT1, OCT31)
    msg = str(exc.value)
    assert "invalid_token" in msg and "connection 'm' needs re-authorising" in msg
    assert TOKEN not in msg and "***" in msg
    assert fake.endpoints() == ["counter"]  # the first request is refused: nothing more is asked


def test_the_fake_refuses_what_the_real_service_refuses():
    with fake_metrica(TOKEN) as fake:
        base = f"{fake.base_url}/management/v1/counter/{COUNTER}"
        auth = {"Authorization": f"OAuth {TOKEN}"}
        q = {"date1": "2026-10-01", "date2": "2026-10-02", "fields": "ym:s:visitID", "source": "visits"}
        bearer = httpx.get(
            f"{base}/logrequests/evaluate", params=q, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        body = httpx.post(f"{base}/logrequests", json=q, headers=auth)
        today = httpx.post(f"{base}/logrequests", params={**q, "date2": "2026-11-02"}, headers=auth)
        created = httpx.post(f"{base}/logrequests", params=q, headers=auth).json()["log_request"]
        early = httpx.get(f"{base}/logrequest/{created['request_id']}/part/0/download", headers=auth)
        other = httpx.get(
            f"{fake.base_url}/management/v1/counter/1/logrequests/evaluate", params=q, headers=auth
        )
    assert bearer.status_code == 403 and bearer.json()["errors"][0]["error_type"] == "invalid_token"
    assert body.status_code == 400  # parameters in a body, not the query string
    assert today.status_code == 400  # date2 cannot be today
    assert created["status"] == "created"
    assert early.status_code == 400 and "status 'processed'" in early.json()["message"]
    assert other.json()["errors"][0]["error_type"] == "access_denied"


def test_chunks_cover_the_period_without_gaps():
    parts = chunks(dt.date(2025, 1, 1), dt.date(2026, 10, 31), 365)
    assert parts[0] == (dt.date(2025, 1, 1), dt.date(2025, 12, 31)) and parts[-1][1] == dt.date(2026, 10, 31)
    assert all(b + dt.timedelta(days=1) == c for (_, b), (c, _) in zip(parts, parts[1:], strict=False))


def test_the_counters_time_zone_is_read_once_and_an_unknown_one_is_refused():
    vt = VirtualTime()
    with fake_metrica(TOKEN, rows=ROWS[:3], polls=0, time_zone="Asia/Yekaterinburg") as fake:
        c = client(fake.base_url, vt)
        c.logs(OCT1, OCT31)
        assert c.time_zone == "Asia/Yekaterinburg" and fake.endpoints().count("counter") == 1
    with fake_metrica(TOKEN, rows=ROWS[:3], polls=0, time_zone="Mars/Olympus") as fake:
        with pytest.raises(ServiceError) as exc:
            client(fake.base_url, vt).logs(OCT1, OCT31)
        assert "unknown time zone 'Mars/Olympus' in counter.time_zone_name" in str(exc.value)
        assert "create" not in fake.endpoints()
