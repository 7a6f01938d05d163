"""Invoice and deal numbers read out of payment purposes (НазначениеПлатежа), adversarial cases included."""

from __future__ import annotations

import csv
import io

import pytest

from kassa.link.payments import quoted_numbers

# (purpose, invoice field, expected {(source, kind, number)})
CASES: list[tuple[str, str, set[tuple[str, str, str]]]] = [
    ("Оплата по счету № 123 от 01.10.2026", "", {("purpose", "invoice", "123")}),
    (
        "Оплата по счетам № 101, 102 от 12.10.2026",
        "",
        {("purpose", "invoice", "101"), ("purpose", "invoice", "102")},
    ),
    ("Оплата по счетам №101 и №102", "", {("purpose", "invoice", "101"), ("purpose", "invoice", "102")}),
    # Two clauses, each with its own keyword.
    (
        "Оплата по счёту N 15 от 01.10.2026, по счету 16 от 02.10.2026",
        "",
        {("purpose", "invoice", "15"), ("purpose", "invoice", "16")},
    ),
    # A date is never an invoice number, wherever it stands.
    ("Оплата по счету от 01.10.2026", "", set()),
    ("Оплата по счету 01.10.2026", "", set()),
    ("Оплата по счету от 01.10.2026г. № 55", "", {("purpose", "invoice", "55")}),
    # VAT amounts and percentages after the number are not numbers of the invoice.
    ("Оплата по счету № 12 НДС 20% 2000.00", "", {("purpose", "invoice", "12")}),
    ("Оплата по сч. 7 за октябрь", "", {("purpose", "invoice", "7")}),
    ("Оплата по счету № БП-000045. В т.ч. НДС 20% - 1666.67", "", {("purpose", "invoice", "бп-000045")}),
    ("Оплата по счету № 00123", "", {("purpose", "invoice", "123")}),
    ("Оплата по счету-оферте № 33", "", {("purpose", "invoice", "33")}),
    ("Invoice no. 2026-17 payment", "", {("purpose", "invoice", "2026-17")}),
    ("Возврат по счету № 124", "", {("purpose", "invoice", "124")}),
    # Words that only contain a keyword: a bank account, a meter, a customer, a contract.
    ("Перевод на расчетный счет 40702810900000012345", "", set()),
    ("Оплата за счетчик 5 шт", "", set()),
    ("Оплата заказчика ООО Ромашка 5000 руб", "", set()),
    ("Оплата по договору 12/2026 от 05.10.2026, НДС не облагается", "", set()),
    ("Оплата по заказу № 4512", "", {("purpose", "deal", "4512")}),
    ("Оплата по заказу № D17 от 24.10.2026", "", {("purpose", "deal", "d17")}),
    # The invoice field is a list of invoice numbers, with or without "№" or keywords.
    ("", "101; 102", {("field", "invoice", "101"), ("field", "invoice", "102")}),
    ("Оплата", "№ 0078", {("field", "invoice", "78")}),
]


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str, str]]]:
    from kassa.store import Warehouse

    folder = tmp_path_factory.mktemp("purposes")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["payment_id", "paid_at", "amount", "invoice", "purpose"])
    for i, (purpose, field, _) in enumerate(CASES):
        w.writerow([f"p{i}", "2026-10-01", "100", field, purpose])
    path = folder / "payments.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    wh = Warehouse.open(folder / "w.duckdb")
    try:
        wh.import_files([path], strict=True)
        rows = quoted_numbers(wh.table("payments")).to_pyarrow().to_pylist()
    finally:
        wh.close()
    out: dict[str, set[tuple[str, str, str]]] = {f"p{i}": set() for i in range(len(CASES))}
    for r in rows:
        out[r["payment_id"]].add((r["source"], r["kind"], r["ref"]))
    return out


@pytest.mark.parametrize("i", range(len(CASES)), ids=[(c[0] or c[1])[:40] for c in CASES])
def test_numbers_read_from_the_purpose(found: dict[str, set[tuple[str, str, str]]], i: int) -> None:
    assert found[f"p{i}"] == CASES[i][2]
