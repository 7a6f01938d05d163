"""Tochka: the statement client (init → poll until Ready → operations) and `kassa sync` against a fake
Open Banking API (tests/connectors/fake_tochka.py).

The Done-when of #19 for Tochka: a sync loads the payments table exactly as importing the bank's 1C
export of the same operations; float amounts are read exactly; an overlapping re-fetch changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from tests.connectors.fake_tbank import Literal
from tests.connectors.fake_tochka import fake_tochka, tochka_error, transaction
from tests.connectors.test_tbank_api import OURS, STATEMENT_1C, THEIRS, VirtualTime, payments
from tests.kassa_cli import run_kassa

from kassa.connectors.tochka import Account, Client, Timing
from kassa.errors import ServiceError
from kassa.store import Warehouse

TOKEN = "eyJhbGciOi.tochka-secret-jwt-7373"
ACCOUNT_ID = f"{OURS}/044525104"
# The October operations of tests/connectors/test_tbank_api.py, as Tochka writes them: amounts as
# JSON floats (1530.1 read through a float is 1530.0999999999999...).
TRANSACTIONS = [
    transaction("t1", "2026-10-01", "Credit", "1530.1", "311", "Оплата по счёту № 101 от 28.09.2026",
                "ООО «Ромашка»", "7701234567", doc_date="2026-09-30"),
    transaction("t2", "2026-10-01", "Debit", "5000.0", "12", "Аренда за октябрь 2026", "ООО «Аренда»", "7709876543"),
    transaction("t3", "2026-10-02", "Credit", "250000", "45", "Оплата по счёту № 102\r\nбез НДС",
                "ИП Петров Пётр Петрович", "500100732259"),
    transaction("t4", "2026-10-31", "Credit", "99.9", "7", "Оплата по счёту № 103", "ООО «Ромашка»", "7701234567"),
    transaction("t5", "2026-11-01", "Credit", "10.0", "8", "Оплата по счёту № 104", "ООО «Ромашка»", "7701234567"),
]  # fmt: skip
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")


def client(f, vt, token=TOKEN, **timing) -> Client:
    return Client(Account("tochka", ACCOUNT_ID, token, f.base_url), dataclasses.replace(Timing(), **timing),
                  clock=vt.clock, sleep=vt.sleep, rng=random.Random(4))  # fmt: skip


def connect(db: Path, base_url: str) -> None:
    r = run_kassa("connect", "tochka", "--name", "tochka", "--account", ACCOUNT_ID, "--token-stdin",
                  "--base-url", base_url, "--db", db, stdin=TOKEN + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_the_statement_is_polled_until_ready_and_float_amounts_are_read_exactly():
    vt = VirtualTime()
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=3) as f:
        c = client(f, vt)
        ops = c.operations(OCT1, OCT31)
    assert f.endpoints() == ["init", "get", "get", "get", "get"]  # Created, Processing ×2, Ready
    assert f.log[1][1] == f"/uapi/open-banking/v1.0/accounts/{ACCOUNT_ID}/statements/st-1"
    assert vt.waits == [3.0, 6.0, 12.0] and c.stats.polls == 3
    assert [(o.number, o.incoming, o.day, o.date, o.amount) for o in ops] == [
        ("311", True, OCT1, dt.date(2026, 9, 30), Decimal("1530.10")),
        ("12", False, OCT1, OCT1, Decimal("5000.00")),
        ("45", True, dt.date(2026, 10, 2), dt.date(2026, 10, 2), Decimal("250000.00")),
        ("7", True, OCT31, OCT31, Decimal("99.90")),
    ]
    assert (ops[0].inn, ops[0].account, ops[0].bic) == ("7701234567", THEIRS, "044525225")
    assert ops[1].inn == "7709876543"  # money out: the creditor is the counterparty


def test_a_statement_that_stays_processing_fails_at_the_deadline_saying_so():
    vt = VirtualTime()
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=10**6) as f, pytest.raises(ServiceError) as e:
        client(f, vt, deadline=60.0).operations(OCT1, OCT31)
    text = " ".join(str(e.value).split())
    assert "Tochka (connection 'tochka')" in text and "the statement is still Processing" in text
    assert "would pass the deadline of 60 s; sync again later" in text and vt.now <= 60.0


def test_a_statement_deleted_while_waiting_is_started_again_once():
    vt = VirtualTime()
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=1) as f:
        f.expire(1)
        ops = client(f, vt).operations(OCT1, OCT31)
        assert len(ops) == 4 and f.endpoints() == ["init", "get", "get", "init", "get", "get"]
        f.expire(2)
        with pytest.raises(ServiceError) as e:
            client(f, vt).operations(OCT1, OCT31)
    assert "HTTP 404" in str(e.value) and "the statement was deleted" in str(e.value)


def test_429_waits_the_retry_after_seconds_and_5xx_and_html_are_retried():
    vt = VirtualTime()
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=0) as f:
        f.fault("init", (429, tochka_error(429, "Too many requests"), {"Retry-After": "5"}), (504, None, {}))
        f.fault("get", (200, None, {}))
        ops = client(f, vt).operations(OCT1, OCT31)
    assert len(ops) == 4 and 5.0 in vt.waits
    assert f.endpoints() == ["init", "init", "init", "get", "get"]  # an HTML page, then Ready


def test_a_refused_token_names_the_connection_and_never_the_token():
    vt = VirtualTime()
    with fake_tochka("other", transactions=TRANSACTIONS) as f, pytest.raises(ServiceError) as e:
        client(f, vt).operations(OCT1, OCT31)
    text = str(e.value)
    assert "HTTP 401" in text and f"kassa connect tochka --name tochka --account {ACCOUNT_ID}" in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("amount", "said"),
    [
        (Literal("0.30000000000000004"), "'0.30000000000000004' is not a positive amount in whole kopecks"),
        (Literal("-5.0"), "'-5.0' is not a positive amount"),
        (None, "'None' is not a positive amount"),
    ],
)
def test_an_amount_that_is_not_whole_kopecks_is_refused_not_rounded(amount, said):
    bad = dict(TRANSACTIONS[0], Amount={"amount": amount, "currency": "RUB"})
    vt = VirtualTime()
    with fake_tochka(TOKEN, transactions=[bad], polls=0) as f, pytest.raises(ServiceError) as e:
        client(f, vt).operations(OCT1, OCT31)
    assert "transaction t1: Amount.amount" in str(e.value) and said in str(e.value)


def test_a_sync_loads_the_payments_exactly_as_importing_the_banks_1c_export(tmp_path):
    synced, imported = tmp_path / "synced.duckdb", tmp_path / "imported.duckdb"
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=1) as f:
        connect(synced, f.base_url)
        r = run_kassa("sync", "tochka", *OCTOBER, "--db", synced, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["connections"][0]
    assert summary["ok"] and summary["rows"] == {"payments": 3} and summary["polls"] == 1
    statement = tmp_path / "tochka-october.txt"
    statement.write_bytes(STATEMENT_1C.replace("АО «ТБанк»", "ПАО Банк «Точка»").encode("cp1251"))
    assert run_kassa("import", statement, "--db", imported).returncode == 0
    rows = payments(synced)
    assert rows == payments(imported) and len(rows) == 3
    assert sorted(Decimal(str(r[2])) for r in rows) == [
        Decimal("99.90"),
        Decimal("1530.10"),
        Decimal("250000.00"),
    ]
    assert TOKEN not in r.stdout + r.stderr


def test_an_overlapping_re_fetch_changes_nothing(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_tochka(TOKEN, transactions=TRANSACTIONS, polls=0) as f:
        connect(db, f.base_url)
        assert run_kassa("sync", "tochka", *OCTOBER, "--db", db).returncode == 0
        with Warehouse.open(db, read_only=True) as wh:
            before = wh.fingerprint()
        for since, until in (("2026-09-28", "2026-10-05"), ("2026-10-02", "2026-10-31")):
            assert run_kassa("sync", "tochka", "--since", since, "--until", until, "--db", db).returncode == 0
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.fingerprint() == before
    assert len(payments(db)) == 3


def test_connections_lists_the_account_and_connect_refuses_one_without_its_bic(tmp_path):
    db = tmp_path / "shop.duckdb"
    connect(db, "http://127.0.0.1:9")
    r = run_kassa("connections", "--db", db, env={"COLUMNS": "200"})
    assert r.returncode == 0 and ACCOUNT_ID in r.stdout and "act_" not in r.stdout
    assert TOKEN not in r.stdout
    r = run_kassa("connect", "tochka", "--name", "t2", "--account", OURS, "--token-stdin", "--db", db,
                  stdin=TOKEN + "\n")  # fmt: skip
    assert r.returncode == 2 and "BIC" in r.stderr
