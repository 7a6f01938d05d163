"""Bank statements as CSV/XLSX → incoming payments; header guessing, mapping, direction, stable ids."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from tests.sources.crm_bank_support import DATA, head, read, rows

from kassa.errors import ConfigError, MissingColumn
from kassa.sources.bank_csv import BankCSV
from kassa.sources.registry import detect_format

BANK = DATA / "bank_csv"
STATEMENT = BANK / "statement.csv"
MAPPED = BANK / "statement_mapped_cp1251.csv"
MAPPING = BANK / "statement_mapped.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_guessed_headers_money_in_only():
    res = read(BankCSV(), STATEMENT)["payments"]
    assert rows(res, "paid_at", "amount", "payer_inn", "purpose", "currency") == [
        {
            "paid_at": dt.datetime(2026, 10, 6),
            "amount": 25000.0,
            "payer_inn": "7719617469",  # "25 000,00"
            "purpose": "Оплата по счету № 118 от 01.10.2026, в т.ч. НДС 22%",
            "currency": "RUB",
        },
        {
            "paid_at": dt.datetime(2026, 10, 9),
            "amount": 1052.98,
            "payer_inn": None,  # "1 052,98"
            "purpose": "Зачисление средств по операциям эквайринга",
            "currency": "RUB",
        },
    ]
    # line 3 (-60 000,00) is money out: skipped, not refused; line 5 has a Latin O in the amount
    (err,) = res.errors
    assert (err.line, err.column, err.value) == (5, "Сумма", "17 500,5O")


def test_payment_id_is_the_documented_hash():
    first = rows(read(BankCSV(), STATEMENT)["payments"])[0]
    # date | number | kopecks | INN | payer | purpose, spaces collapsed and case folded
    key = '2026-10-06|15|2500000|7719617469|ооо "крокус"|оплата по счету № 118 от 01.10.2026, в т.ч. ндс 22%'
    assert first["payment_id"] == "bank:" + hashlib.sha256(key.encode()).hexdigest()[:20]


def test_a_mapping_for_unguessable_headers_with_title_and_totals_rows():
    assert not BankCSV().detect(MAPPED, head(MAPPED))  # "Основание" is not a known purpose header
    res = read(BankCSV(), MAPPED, mapping=MAPPING)["payments"]
    # line 1 is a title, line 4 has money only in "Расход", line 6 is "Итого"
    assert rows(res, "paid_at", "amount", "payer_inn") == [
        {"paid_at": dt.datetime(2026, 10, 6), "amount": 25000.0, "payer_inn": "7719617469"},
        {"paid_at": dt.datetime(2026, 10, 9), "amount": 1052.98, "payer_inn": None},
    ]
    assert res.errors == []


def test_direction_column(tmp_path):
    p = write(
        tmp_path,
        "st.csv",
        (
            "Дата;Сумма;Тип операции;Плательщик;Назначение платежа\n"
            "01.10.2026;500,00;Приход;ООО А;Оплата 1\n"
            "01.10.2026;700,00;Расход;ООО Б;Аренда\n"
            "02.10.2026;-300,00;Кредит;ООО В;Оплата 2\n"
        ),
    )
    # "-300,00" marked as credit: some banks sign by the account's side; the direction column decides
    assert rows(read(BankCSV(), p)["payments"], "amount") == [{"amount": 500.0}, {"amount": 300.0}]


def test_missing_and_misnamed_columns_are_named(tmp_path):
    with pytest.raises(MissingColumn, match=r"Док\. №№"):
        m = write(tmp_path, "m.yaml", 'columns:\n  date: "Дата"\n  credit: "Приход"\n  number: "Док. №№"\n')
        read(BankCSV(), MAPPED, mapping=m)
    bad = write(tmp_path, "bad.yaml", 'columns:\n  date: "Дата"\n  amout: "Сумма"\n')
    with pytest.raises(ConfigError, match=r"bad\.yaml:3: field columns\.amout"):
        read(BankCSV(), STATEMENT, mapping=bad)


def test_overlapping_exports_do_not_double(make_warehouse, tmp_path):
    wh = make_warehouse()
    wh.import_files([STATEMENT])
    later = write(
        tmp_path,
        "later.csv",
        (
            "Дата операции;Номер документа;Сумма;Валюта;Контрагент;ИНН контрагента;Назначение платежа\n"
            "09.10.2026;;1052.98;RUB;ПАО  Банк;;Зачисление средств по операциям эквайринга\n"
            "12.10.2026;16;3 000,00;RUB;ООО Крокус;7719617469;Оплата по счету 125\n"
        ),
    )
    report = wh.import_files([later])
    assert report.files[0].rows_replaced == 1  # the 09.10 payment, written "1052.98" and with a double space
    assert wh.row_count("payments") == 3


def test_detection_is_specific(tmp_path):
    assert detect_format(STATEMENT).name == "bank_csv"
    canonical = write(
        tmp_path, "payments.csv", "payment_id,paid_at,amount,payer_inn,purpose\nP1,2026-10-01,10,1,x\n"
    )
    assert not BankCSV().detect(canonical, head(canonical))
    assert detect_format(canonical).name == "canonical"
    for other in (
        DATA / "amocrm" / "leads_export_cp1251.csv",
        DATA / "bitrix24" / "deals_export.xlsx",
        DATA / "generic" / "telegram_spend.csv",
    ):
        assert not BankCSV().detect(other, head(other)), other
