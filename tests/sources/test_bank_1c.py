"""1CClientBankExchange statements → incoming payments; stable ids; structural faults refuse the file."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from tests.sources.crm_bank_support import DATA, head, read, rows

from kassa.errors import ImportFailed
from kassa.sources.bank_1c import Bank1C

STATEMENT = DATA / "bank_1c" / "statement_cp1251.txt"
OWN = "40702810900000012345"


def text_of_fixture() -> str:
    return STATEMENT.read_bytes().decode("cp1251").replace("\r\n", "\n")


def write(tmp_path: Path, text: str, name: str = "kl_to_1c.txt", encoding: str = "cp1251") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_incoming_payments_only():
    res = read(Bank1C(), STATEMENT)["payments"]
    assert rows(res, "paid_at", "amount", "payer_inn", "purpose", "currency", "invoice", "deal_id") == [
        # ДатаПоступило 06.10.2026; "ПлательщикИНН= 7719617469" loses its leading space; purpose verbatim
        {
            "paid_at": dt.datetime(2026, 10, 6),
            "amount": 25000.0,
            "payer_inn": "7719617469",
            "purpose": "Оплата по счету № 118 от 01.10.2026 за стеллажи, в т.ч. НДС 22% - 4508.20",
            "currency": "RUB",
            "invoice": None,
            "deal_id": None,
        },
        # a Банковский ордер (acquiring) is income too; no INN anywhere
        {
            "paid_at": dt.datetime(2026, 10, 9),
            "amount": 1052.98,
            "payer_inn": None,
            "purpose": "Зачисление средств по операциям эквайринга за 08.10.2026. Без налога (НДС)",
            "currency": "RUB",
            "invoice": None,
            "deal_id": None,
        },
    ]
    # Skipped, not refused: 341 (ours -> Яндекс), 342 (our other account -> ours), the Выписка block.
    assert res.rows_read == 3


def test_a_bad_amount_is_reported_at_its_own_line():
    (err,) = read(Bank1C(), STATEMENT)["payments"].errors
    assert (err.line, err.column, err.value) == (83, "Сумма", "17500,5О")  # Cyrillic О and a comma
    assert text_of_fixture().splitlines()[err.line - 1] == "Сумма=17500,5О"


def test_payment_id_is_the_documented_hash():
    first = rows(read(Bank1C(), STATEMENT)["payments"])[0]
    # our account | Дата | Номер | kopecks | payer INN | payer account
    key = f"{OWN}|05.10.2026|15|2500000|7719617469|40702810500000067890"
    assert first["payment_id"] == "1c:" + hashlib.sha256(key.encode()).hexdigest()[:20]


def test_a_reexport_with_an_overlapping_period_does_not_double(make_warehouse, tmp_path):
    wh = make_warehouse()
    wh.import_files([STATEMENT])
    assert wh.row_count("payments") == 2
    # The next statement: UTF-8, LF, keys reordered and re-spaced, "25000" without kopecks, plus a new payment.
    t = text_of_fixture().replace(
        "Сумма=25000.00\nПлательщикСчет=40702810500000067890",
        "ПлательщикСчет= 40702810500000067890\nСумма=25000",
    )
    new_doc = (
        "СекцияДокумент=Платежное поручение\nНомер=16\nДата=12.10.2026\nСумма=3000.00\n"
        "ПлательщикСчет=40702810500000067890\nПлательщикИНН=7719617469\nПолучательСчет=" + OWN + "\n"
        "ДатаПоступило=12.10.2026\nНазначениеПлатежа=Оплата по счету 125\nКонецДокумента\n"
    )
    t = t.replace("КонецФайла", new_doc + "КонецФайла")
    report = wh.import_files([write(tmp_path, t, "next.txt", "utf-8")])
    assert report.files[0].rows_replaced == 2 and report.files[0].rows_loaded == 3
    assert wh.row_count("payments") == 3


def test_cp866_and_utf8_bom_read_the_same(tmp_path):
    expected = rows(read(Bank1C(), STATEMENT)["payments"])
    for enc in ("cp866", "utf-8-sig"):
        p = write(tmp_path, text_of_fixture(), f"{enc}.txt", enc)
        assert rows(read(Bank1C(), p)["payments"]) == expected, enc


def test_direction_by_dates_when_no_receiver_account(tmp_path):
    t = (
        "1CClientBankExchange\nВерсияФормата=1.02\nРасчСчет=" + OWN + "\n"
        "СекцияДокумент=Платежное поручение\nНомер=1\nДата=01.10.2026\nСумма=100.50\nДатаПоступило=02.10.2026\nКонецДокумента\n"
        "СекцияДокумент=Платежное поручение\nНомер=2\nДата=01.10.2026\nСумма=999\nДатаСписано=01.10.2026\nКонецДокумента\n"
        "КонецФайла\n"
    )
    (row,) = rows(read(Bank1C(), write(tmp_path, t))["payments"], "paid_at", "amount")
    assert row == {"paid_at": dt.datetime(2026, 10, 2), "amount": 100.5}


def test_currency_from_the_account_code(tmp_path):
    usd = "40702840900000012345"  # digits 6-8: 840 = USD
    t = (
        "1CClientBankExchange\nРасчСчет="
        + usd
        + "\nСекцияДокумент=Платежное поручение\nНомер=1\nДата=01.10.2026\n"
        "Сумма=10\nПлательщикСчет=40702840000000000001\nПолучательСчет="
        + usd
        + "\nКонецДокумента\nКонецФайла\n"
    )
    assert rows(read(Bank1C(), write(tmp_path, t))["payments"], "currency") == [{"currency": "USD"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ВерсияФормата=1.03\nКонецФайла\n", r"line 1: does not start with 1CClientBankExchange"),
        (
            "1CClientBankExchange\nРасчСчет=1\nСекцияДокумент=Платежное поручение\nНомер=1\n",
            r"ends inside the document that starts at line 3",
        ),
        (
            "1CClientBankExchange\nРасчСчет=1\nСекцияДокумент=А\nСекцияДокумент=Б\nКонецДокумента\nКонецФайла\n",
            r"line 4: a new document starts before КонецДокумента of the one at line 3",
        ),
        ("1CClientBankExchange\nРасчСчет=1\nСекцияДокумент=А\nКонецДокумента\n", r"no КонецФайла line"),
        (
            "1CClientBankExchange\nОтправитель=Бухгалтерия предприятия\nСекцияДокумент=Платежное поручение\nНомер=1\n"
            "КонецДокумента\nКонецФайла\n",
            r"payment orders for the bank, not a statement",
        ),
    ],
)
def test_structural_faults_refuse_the_file_and_change_nothing(make_warehouse, tmp_path, text, message):
    wh = make_warehouse()
    before = wh.fingerprint()
    with pytest.raises(ImportFailed, match=message):
        wh.import_files([write(tmp_path, text)], format="bank_1c")
    assert wh.fingerprint() == before


def test_detected_by_its_first_line_only():
    assert Bank1C().detect(STATEMENT, head(STATEMENT))
    for other in (DATA / "bank_csv" / "statement.csv", DATA / "amocrm" / "leads_api.json"):
        assert not Bank1C().detect(other, head(other))


def test_a_balance_block_that_does_not_add_up_is_a_warning_refused_under_strict(make_warehouse, tmp_path):
    t = (
        "1CClientBankExchange\nРасчСчет=" + OWN + "\nСекцияРасчСчет\nРасчСчет=" + OWN + "\n"
        "НачальныйОстаток=100.00\nВсегоПоступило=10.00\nВсегоСписано=0.00\nКонечныйОстаток=120.00\n"
        "КонецРасчСчет\nСекцияДокумент=Платежное поручение\nНомер=1\nДата=01.10.2026\nСумма=10.00\n"
        "ПлательщикСчет=40702810000000000001\nПолучательСчет=" + OWN + "\nКонецДокумента\nКонецФайла\n"
    )
    path = write(tmp_path, t)
    (report,) = make_warehouse().import_files([path]).files
    (warning,) = report.errors
    assert (warning.line, warning.column, warning.row_kept, report.rows_loaded) == (
        8,
        "КонечныйОстаток",
        True,
        1,
    )
    assert warning.reason.startswith(
        f"account {OWN}: НачальныйОстаток 100.00 + ВсегоПоступило 10.00 − ВсегоСписано 0.00 = 110.00, "
        "but КонечныйОстаток is 120.00"
    )
    with pytest.raises(ImportFailed, match="--strict"):
        make_warehouse(name="strict.duckdb").import_files([path], strict=True)
