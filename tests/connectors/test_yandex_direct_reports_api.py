"""The Yandex Direct Reports client against a fake Direct on 127.0.0.1 (tests/connectors/fake_direct.py).

Waits run on a virtual clock: ``sleep`` advances it and records each wait, so hours of polling take no
time and every wait the client chose is asserted. The HTTP traffic is real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal

import httpx2 as httpx
import pytest
from tests.connectors.fake_direct import fake_direct

from kassa.connectors.messages import in_lang
from kassa.connectors.pacing import RateLimit, backoff
from kassa.connectors.yandex_direct import Account, Client, Timing, history_start
from kassa.errors import ServiceError

TOKEN = "y0_AgAAAAB-secret-token-4242"
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
ROWS = [
    ("2026-10-01", "70001", "Осень_поиск", 1200, 30, Decimal("1530.00")),
    ("2026-10-01", "70002", 'РСЯ "Ретаргет"', 5000, 25, Decimal("350.12")),
    ("2026-10-20", "70001", "Осень_поиск", 1000, 20, Decimal("1200.01")),
    ("2026-10-31", "70002", 'РСЯ "Ретаргет"', 300, 0, Decimal("0")),
]


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds


def client(base_url: str, vt: VirtualTime, **timing: object) -> Client:
    t = dataclasses.replace(Timing(), **timing)  # type: ignore[arg-type]
    account = Account(connection="d", token=TOKEN, client_login="shop", base_url=base_url)
    return Client(account, t, clock=vt.clock, sleep=vt.sleep, rng=random.Random(7))


def data_lines(tsv: bytes) -> list[str]:
    return tsv.decode().splitlines()[1:]


def test_retry_in_is_read_again_on_every_poll_in_any_case_and_defaults_when_missing():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS, agency=True) as fake:
        fake.plan(
            ("queued", 3, "retryIn"),
            ("building", 7, "retryin"),  # lower-case on the wire
            ("building", None),  # no retryIn at all
            ("building", "soon"),  # unreadable
            ("ok",),
        )
        c = client(fake.base_url, vt, retry_in=4.0)
        tsv = c.report(OCT1, OCT31)
    assert vt.waits == [3.0, 7.0, 4.0, 4.0]
    assert c.stats.requests == 5 and c.stats.polls == 4
    # Every poll is the identical request (same body, same headers), as the offline flow requires.
    assert len({(e.headers["authorization"], str(e.params)) for e in fake.log}) == 1
    assert len(data_lines(tsv)) == 4 and "Total rows" not in tsv.decode()


def test_the_documented_headers_are_sent():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS, agency=True) as fake:
        client(fake.base_url, vt).report(OCT1, OCT31)
    h = fake.log[0].headers
    assert h["authorization"] == f"Bearer {TOKEN}"
    assert h["client-login"] == "shop"
    assert h["accept-language"] == "en"
    assert h["processingmode"] == "auto"
    assert h["returnmoneyinmicros"] == "true"
    assert h["skipreportheader"] == "true" and h["skipreportsummary"] == "true"
    p = fake.log[0].params
    assert p["SelectionCriteria"] == {"DateFrom": "2026-10-01", "DateTo": "2026-10-31"}
    assert p["IncludeVAT"] == "NO" and p["Format"] == "TSV" and p["DateRangeType"] == "CUSTOM_DATE"


def test_the_fake_refuses_what_the_real_service_refuses():
    """The fake is only worth its tests if it rejects what Direct rejects."""
    with fake_direct(TOKEN, agency=True) as fake:
        url = fake.base_url + "/json/v5/reports"
        good = {"Authorization": f"Bearer {TOKEN}", "Client-Login": "shop"}
        body = {"params": {"SelectionCriteria": {"DateFrom": "2026-10-01", "DateTo": "2026-10-02"},
                           "FieldNames": ["Date"], "ReportName": "r", "ReportType": "CUSTOM_REPORT",
                           "DateRangeType": "CUSTOM_DATE", "Format": "TSV", "IncludeVAT": "NO"}}  # fmt: skip
        no_bearer = httpx.post(url, json=body, headers={**good, "Authorization": TOKEN})
        no_login = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        no_vat = httpx.post(url, json={"params": {**body["params"], "IncludeVAT": None} | {}}, headers=good)
        body2 = {"params": {k: v for k, v in body["params"].items() if k != "Format"}}
        no_format = httpx.post(url, json=body2, headers=good)
        ok = httpx.post(url, json=body, headers=good)
        renamed = httpx.post(url, json={"params": {**body["params"], "IncludeVAT": "YES"}}, headers=good)
    assert no_bearer.json()["error"]["error_code"] == 53
    assert no_login.json()["error"]["error_code"] == 8000
    assert no_vat.json()["error"]["error_code"] == 8000
    assert no_format.json()["error"]["error_code"] == 8000
    assert ok.status_code == 200
    assert renamed.json()["error"]["error_code"] == 4000  # a report name reused with other parameters


def test_202_past_the_deadline_is_an_error_not_an_endless_poll():
    vt = VirtualTime()
    with fake_direct(TOKEN) as fake:
        fake.plan(*[("building", 60)] * 1000)
        c = client(fake.base_url, vt, deadline=300.0)
        with pytest.raises(ServiceError) as exc:
            c.report(OCT1, OCT31)
    msg = str(exc.value)
    assert "deadline of 300 s" in msg and "still being built (HTTP 202)" in msg
    assert "Yandex Direct (connection 'd')" in msg and "report 2026-10-01..2026-10-31" in msg
    assert c.stats.requests == 6 and vt.now == 300.0  # polls at 0, 60, …, 300 s; a 7th would be past it
    ru = in_lang(exc.value, "ru")
    assert "Yandex Direct (подключение 'd')" in ru and "отчёт ещё не готов: строится (HTTP 202)" in ru
    assert "превысило бы предельное время 300 с; для одного отчёта; синхронизируйте позже" in ru
    assert TOKEN not in ru


def test_a_full_queue_waits_with_jittered_backoff_and_then_loads():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(("error", 400, 9000), ("error", 400, 9000), ("error", 429, None), ("ok",))
        c = client(fake.base_url, vt, queue_wait=10.0, backoff_cap=60.0)
        tsv = c.report(OCT1, OCT31)
    assert len(data_lines(tsv)) == 4
    assert len(vt.waits) == 3
    # Equal jitter: the n-th wait is between half and all of min(cap, 10 × 2ⁿ⁻¹).
    for n, w in enumerate(vt.waits, start=1):
        ceiling = min(60.0, 10.0 * 2 ** (n - 1))
        assert ceiling / 2 <= w <= ceiling
    assert len(set(vt.waits)) == 3 and c.stats.retries == 3


def test_a_502_that_persists_splits_the_period_and_the_halves_join():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(*[("error", 502, None)] * 10, period=("2026-10-01", "2026-10-31"))
        fake.plan(("error", 500, 1000), ("ok",), period=("2026-10-01", "2026-10-16"))
        c = client(fake.base_url, vt, attempts=3)
        tsv = c.report(OCT1, OCT31)
    asked = [
        (e.params["SelectionCriteria"]["DateFrom"], e.params["SelectionCriteria"]["DateTo"], e.status)
        for e in fake.log
    ]
    assert asked == [
        ("2026-10-01", "2026-10-31", 502), ("2026-10-01", "2026-10-31", 502), ("2026-10-01", "2026-10-31", 502),
        ("2026-10-01", "2026-10-16", 500), ("2026-10-01", "2026-10-16", 200),
        ("2026-10-17", "2026-10-31", 200),
    ]  # fmt: skip
    assert c.stats.splits == 1
    assert [line.split("\t")[0] for line in data_lines(tsv)] == [
        "2026-10-01",
        "2026-10-01",
        "2026-10-20",
        "2026-10-31",
    ]


def test_a_502_on_a_single_day_is_an_error_with_the_html_excerpt():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(*[("error", 502, None)] * 10)
        c = client(fake.base_url, vt, attempts=2)
        with pytest.raises(ServiceError) as exc:
            c.report(OCT1, OCT1)
    assert "HTTP 502 '<html><body><h1>502 Bad Gateway" in str(exc.value) and "tried 2 times" in str(exc.value)


def test_an_empty_or_foreign_200_body_is_refused_never_a_crash():
    vt = VirtualTime()
    with fake_direct(TOKEN, rows=ROWS) as fake:
        fake.plan(("empty", 200))
        with pytest.raises(ServiceError, match="HTTP 200 with an empty body"):
            client(fake.base_url, vt).report(OCT1, OCT31)
        fake.plan(("error", 503, None), ("empty", 503), ("ok",))
        assert len(data_lines(client(fake.base_url, vt).report(OCT1, OCT31))) == 4


def test_an_invalid_token_names_the_connection_to_reauthorise_and_never_the_token():
    vt = VirtualTime()
    with fake_direct("another-token", echo_token_in_errors=True) as fake, pytest.raises(ServiceError) as exc:
        client(fake.base_url, vt).report(OCT1, OCT31)
    msg = str(exc.value)
    assert "error 53" in msg and "connection 'd' needs re-authorising" in msg
    assert TOKEN not in msg and "***" in msg  # the server echoed it; the message does not
    assert len(fake.log) == 1  # not retried


def test_an_unknown_4xx_error_fails_at_once_with_its_code():
    vt = VirtualTime()
    with fake_direct(TOKEN) as fake:
        fake.plan(("error", 400, 4000))
        with pytest.raises(ServiceError, match="HTTP 400, error 4000: injected"):
            client(fake.base_url, vt).report(OCT1, OCT31)
    assert len(fake.log) == 1


def test_a_dropped_connection_is_retried_then_named():
    vt = VirtualTime()
    c = client("http://127.0.0.1:9", vt, attempts=3)  # nothing listens on the discard port
    with pytest.raises(ServiceError, match=r"the connection failed \(ConnectError\) \(tried 3 times\)"):
        c.report(OCT1, OCT31)
    assert c.stats.requests == 3 and len(vt.waits) == 2


def test_rate_limit_keeps_twenty_requests_per_ten_seconds():
    vt = VirtualTime()
    limit = RateLimit(20, 10.0, clock=vt.clock, sleep=vt.sleep)
    for _ in range(45):
        limit.wait()
        vt.now += 0.25  # each request takes a quarter of a second
    # The 21st request (at 5 s) waits until the 1st leaves the window (10 s); so does the 41st.
    assert vt.waits == [5.0, 5.0]


def test_backoff_is_capped():
    rng = random.Random(1)
    assert all(30.0 <= backoff(n, base=2.0, cap=60.0, rng=rng) <= 60.0 for n in range(6, 40))


def test_history_goes_back_three_years_from_the_current_month():
    assert history_start(dt.date(2026, 11, 15)) == dt.date(2023, 11, 1)
