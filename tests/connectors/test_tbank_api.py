"""T-Bank Business: the statement client and `kassa sync` against a fake T-API (tests/connectors/fake_tbank.py).

The Done-when of #19 for T-Bank: a sync through cursor pages loads the payments table exactly as
importing the bank's 1C export of the same operations does; an overlapping re-fetch changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from tests.connectors.fake_tbank import Literal, fake_tbank, operation
from tests.kassa_cli import run_kassa

from kassa.connectors.tbank import Account, Client, Timing
from kassa.errors import ServiceError
from kassa.store import Warehouse

TOKEN = "t.tbank-secret-token-5150"
OURS = "40702810010000012345"
THEIRS = "40702810900000000777"
OPERATIONS = [
    operation("op-1", "2026-10-01T09:15:00+03:00", "Credit", "1530.10", "311",
              "Оплата по счёту № 101 от 28.09.2026", "ООО «Ромашка»", "7701234567", doc_date="2026-09-30"),
    operation("op-2", "2026-10-01T12:00:00+03:00", "Debit", "5000", "12",
              "Аренда за октябрь 2026", "ООО «Аренда»", "7709876543"),
    # 00:30 in Moscow is still 1 October in UTC: the statement's day is Moscow's, 2 October.
    operation("op-3", "2026-10-01T21:30:00Z", "Credit", "250000", "45",
              "Оплата по счёту № 102\nбез НДС", "ИП Петров Пётр Петрович", "500100732259"),
    operation("op-4", "2026-10-31T23:59:00+03:00", "Credit", "99.9", "7",
              "Оплата по счёту № 103", "ООО «Ромашка»", "7701234567"),
    # Ten past midnight on 1 November in Moscow: not October's.
    operation("op-5", "2026-11-01T00:10:00+03:00", "Credit", "10.00", "8",
              "Оплата по счёту № 104", "ООО «Ромашка»", "7701234567"),
]  # fmt: skip
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")

# The same operations as the bank's own "export to 1C" writes them (windows-1251, its own field order
# and numbered name lines): what an accountant would import by hand.
STATEMENT_1C = f"""1CClientBankExchange
ВерсияФормата=1.03
Кодировка=Windows
Отправитель=АО «ТБанк»
ДатаНачала=01.10.2026
ДатаКонца=31.10.2026
РасчСчет={OURS}
СекцияРасчСчет
ДатаНачала=01.10.2026
ДатаКонца=31.10.2026
РасчСчет={OURS}
НачальныйОстаток=10000.00
ВсегоПоступило=251630.00
ВсегоСписано=5000.00
КонечныйОстаток=256630.00
КонецРасчСчет
СекцияДокумент=Платежное поручение
Номер=311
Дата=30.09.2026
Сумма=1530.10
ПлательщикСчет={THEIRS}
ДатаПоступило=01.10.2026
Плательщик=ИНН 7701234567 ООО «Ромашка»
ПлательщикИНН=7701234567
ПлательщикКПП=770101001
Плательщик1=ООО «Ромашка»
ПолучательСчет={OURS}
ПолучательИНН=7712345678
Получатель1=ООО «Касса»
НазначениеПлатежа=Оплата по счёту № 101 от 28.09.2026
КонецДокумента
СекцияДокумент=Платежное поручение
Номер=12
Дата=01.10.2026
Сумма=5000.00
ПлательщикСчет={OURS}
ДатаСписано=01.10.2026
ПлательщикИНН=7712345678
ПолучательСчет={THEIRS}
ПолучательИНН=7709876543
НазначениеПлатежа=Аренда за октябрь 2026
КонецДокумента
СекцияДокумент=Платежное поручение
Номер=45
Дата=02.10.2026
Сумма=250000.00
ПлательщикСчет={THEIRS}
ДатаПоступило=02.10.2026
ПлательщикИНН=500100732259
Плательщик1=ИП Петров Пётр Петрович
ПолучательСчет={OURS}
НазначениеПлатежа=Оплата по счёту № 102 без НДС
КонецДокумента
СекцияДокумент=Платежное поручение
Номер=7
Дата=31.10.2026
Сумма=99.90
ПлательщикСчет={THEIRS}
ДатаПоступило=31.10.2026
ПлательщикИНН=7701234567
ПолучательСчет={OURS}
НазначениеПлатежа=Оплата по счёту № 103
КонецДокумента
КонецФайла
""".replace("\n", "\r\n")


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
    return Client(Account("bank", OURS, token, f.base_url), dataclasses.replace(Timing(), **timing),
                  clock=vt.clock, sleep=vt.sleep, rng=random.Random(3))  # fmt: skip


def connect(db: Path, base_url: str) -> None:
    r = run_kassa("connect", "tbank", "--name", "bank", "--account", OURS, "--token-stdin",
                  "--base-url", base_url, "--db", db, stdin=TOKEN + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr


def payments(db: Path) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute("SELECT * EXCLUDE (batch_id) FROM payments ORDER BY payment_id").fetchall()


def test_every_cursor_page_is_read_with_exact_amounts_and_moscow_days():
    vt = VirtualTime()
    with fake_tbank(TOKEN, operations=OPERATIONS, page=2) as f:
        ops = client(f, vt).operations(OCT1, OCT31)
    assert [q.get("cursor") for q in f.log] == [None, "c2"]  # 4 October operations, 2 a page
    first = f.log[0]
    assert (first["accountNumber"], first["from"], first["to"]) == (
        OURS, "2026-09-30T21:00:00Z", "2026-10-31T21:00:00Z",
    )  # fmt: skip
    assert all(q["authorization"] == f"Bearer {TOKEN}" for q in f.log)
    assert [(o.number, o.incoming, o.day, o.date, o.amount) for o in ops] == [
        ("311", True, dt.date(2026, 10, 1), dt.date(2026, 9, 30), Decimal("1530.10")),
        ("12", False, dt.date(2026, 10, 1), dt.date(2026, 10, 1), Decimal("5000.00")),
        ("45", True, dt.date(2026, 10, 2), dt.date(2026, 10, 2), Decimal("250000.00")),
        ("7", True, dt.date(2026, 10, 31), dt.date(2026, 10, 31), Decimal("99.90")),
    ]
    assert ops[2].inn == "500100732259" and ops[2].account == THEIRS


def test_429_waits_the_retry_after_seconds_and_502_and_html_are_retried():
    vt = VirtualTime()
    with fake_tbank(TOKEN, operations=OPERATIONS, page=10) as f:
        f.fault((429, {"errorMessage": "Too Many Requests"}, {"Retry-After": "7"}), (502, None, {}),
                (200, None, {}))  # fmt: skip
        ops = client(f, vt, backoff=1.0).operations(OCT1, OCT31)
    assert len(ops) == 4 and len(f.log) == 4
    assert 7.0 in vt.waits and sum(1 for w in vt.waits if w >= 0.5) == 3


def test_a_refused_token_names_the_connection_and_never_the_token():
    vt = VirtualTime()
    with fake_tbank("another", operations=OPERATIONS) as f, pytest.raises(ServiceError) as e:
        client(f, vt).operations(OCT1, OCT31)
    text = str(e.value)
    assert "T-Bank (connection 'bank')" in text and "HTTP 401" in text
    assert f"kassa connect tbank --name bank --account {OURS} --token-stdin" in text
    assert TOKEN not in text and len(f.log) == 1  # not retried


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        (
            "accountAmount",
            Literal("10.005"),
            "accountAmount '10.005' is not a positive amount in whole kopecks",
        ),
        ("accountAmount", "сто", "accountAmount 'сто' is not a positive amount"),
        ("typeOfOperation", "Refund", "typeOfOperation 'Refund' is neither Credit nor Debit"),
        ("operationDate", "01.10.2026", "operationDate '01.10.2026' is not an ISO 8601"),
    ],
)
def test_a_bad_operation_is_refused_naming_the_operation_and_field(field, value, said):
    bad = dict(OPERATIONS[0], **{field: value}) if field != "operationDate" else dict(OPERATIONS[0])
    vt = VirtualTime()
    with fake_tbank(TOKEN, operations=[bad, OPERATIONS[1]]) as f:
        if field == "operationDate":
            f.operations = [OPERATIONS[1]]
            f.fault((200, {"operations": [dict(OPERATIONS[0], operationDate=value)]}, {}))
        with pytest.raises(ServiceError) as e:
            client(f, vt).operations(OCT1, OCT31)
    assert "operation op-1:" in str(e.value) and said in str(e.value)


def test_pages_pointing_back_at_a_cursor_already_read_are_refused():
    vt = VirtualTime()
    more = [operation(f"x{i}", f"2026-10-0{i + 1}T10:00:00+03:00", "Credit", "1", str(i), "p", "n", "7701234567")
            for i in range(6)]  # fmt: skip
    with fake_tbank(TOKEN, operations=more, page=2, loop_cursor=True) as f, pytest.raises(ServiceError) as e:
        client(f, vt).operations(OCT1, OCT31)
    assert "already followed" in str(e.value)


def test_a_sync_loads_the_payments_exactly_as_importing_the_banks_1c_export(tmp_path):
    synced, imported = tmp_path / "synced.duckdb", tmp_path / "imported.duckdb"
    with fake_tbank(TOKEN, operations=OPERATIONS, page=2) as f:
        connect(synced, f.base_url)
        r = run_kassa("sync", "bank", *OCTOBER, "--db", synced, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["connections"][0]
    assert summary["ok"] and summary["rows"] == {"payments": 3} and summary["requests"] == 2
    statement = tmp_path / "tbank-october.txt"
    statement.write_bytes(STATEMENT_1C.encode("cp1251"))
    r = run_kassa("import", statement, "--db", imported)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = payments(synced)
    assert rows == payments(imported)
    # Hand-computed: three payments in, the rent out is not revenue; paid on Moscow's days.
    got = sorted((str(r[1].date()), Decimal(str(r[2])), r[5], r[6], r[7]) for r in rows)
    assert got == [
        ("2026-10-01", Decimal("1530.10"), "7701234567", "Оплата по счёту № 101 от 28.09.2026", "RUB"),
        ("2026-10-02", Decimal("250000.00"), "500100732259", "Оплата по счёту № 102 без НДС", "RUB"),
        ("2026-10-31", Decimal("99.90"), "7701234567", "Оплата по счёту № 103", "RUB"),
    ]
    assert sum(g[1] for g in got) == Decimal("251630.00")
    assert TOKEN not in r.stdout + r.stderr
    with Warehouse.open(synced, read_only=True) as wh:
        assert TOKEN not in json.dumps([list(map(str, b.values())) for b in wh.batches()])


def test_an_overlapping_re_fetch_and_the_1c_file_over_a_sync_change_nothing(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_tbank(TOKEN, operations=OPERATIONS, page=2) as f:
        connect(db, f.base_url)
        assert (
            run_kassa("sync", "bank", "--since", "2026-10-01", "--until", "2026-10-15", "--db", db).returncode
            == 0
        )
        assert run_kassa("sync", "bank", *OCTOBER, "--db", db).returncode == 0
        with Warehouse.open(db, read_only=True) as wh:
            after_october = wh.fingerprint()
        assert len(payments(db)) == 3
        assert (
            run_kassa("sync", "bank", "--since", "2026-10-02", "--until", "2026-10-31", "--db", db).returncode
            == 0
        )
        again = run_kassa("sync", "bank", *OCTOBER, "--db", db, "--json")
    assert json.loads(again.stdout)["connections"][0]["already_imported_as"] is not None
    statement = tmp_path / "tbank-october.txt"
    statement.write_bytes(STATEMENT_1C.encode("cp1251"))
    assert run_kassa("import", statement, "--db", db).returncode == 0
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.fingerprint() == after_october
    assert len(payments(db)) == 3


def test_connect_refuses_an_account_that_is_not_20_digits(tmp_path):
    r = run_kassa("connect", "tbank", "--name", "bank", "--account", "4070281001", "--token-stdin",
                  "--db", tmp_path / "shop.duckdb", stdin=TOKEN + "\n")  # fmt: skip
    assert r.returncode == 2 and "20 digits" in " ".join(r.stderr.split())


def test_a_day_without_operations_syncs_and_moves_the_cursor(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_tbank(TOKEN, operations=OPERATIONS) as f:
        connect(db, f.base_url)
        r = run_kassa("sync", "bank", "--since", "2026-10-10", "--until", "2026-10-12", "--db", db, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["connections"][0]
    assert summary["ok"] and summary.get("rows", {}).get("payments", 0) == 0
    conn = json.loads((tmp_path / "shop.duckdb.connections.json").read_text())["connections"]["bank"]
    assert conn["synced_through"] == "2026-10-12"


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "connection 'bank' needs re-authorising: get a new token with the statements right"),
        ("ru", "подключение 'bank' нужно авторизовать заново: получите новый токен с правом на выписки"),
    ],
)
def test_a_refused_token_is_said_in_the_users_language(tmp_path, lang, said):
    db = tmp_path / "shop.duckdb"
    with fake_tbank(TOKEN, operations=OPERATIONS) as f:
        connect(db, f.base_url)
        f.token = "revoked-in-the-bank"
        r = run_kassa("sync", "bank", *OCTOBER, "--db", db, "--lang", lang)
    assert r.returncode == 1 and said in " ".join(r.stderr.split())
    assert TOKEN not in r.stdout + r.stderr
