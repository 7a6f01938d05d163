"""Bitrix24: crm.lead.list / crm.deal.list JSON and the UI export → leads and deals."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.sources.crm_bank_support import DATA, SALT, head, read, rows

from kassa.errors import ImportFailed
from kassa.metrics.compute import compute
from kassa.sources.bitrix24 import Bitrix24
from kassa.sources.validate import salted_hash

B24 = DATA / "bitrix24"
DEALS = B24 / "deals_api.json"
LEADS = B24 / "leads_api.json"
DEALS_XLSX = B24 / "deals_export.xlsx"
LEADS_CSV = B24 / "leads_export.csv"


def test_deal_list_json():
    res = read(Bitrix24(), DEALS)
    assert rows(
        res["deals"], "deal_id", "lead_id", "created_at", "status", "closed_at", "amount", "currency"
    ) == [
        # C1:WON (semantic S); times carry +03:00 = Moscow, so they stay as written
        {
            "deal_id": "b24:deal:37",
            "lead_id": "b24:lead:45",
            "created_at": dt.datetime(2026, 10, 5, 12, 30),
            "status": "won",
            "closed_at": dt.datetime(2026, 10, 20, 3),
            "amount": 19999.99,
            "currency": "RUB",
        },
        # no LEAD_ID: the deal is its own lead
        {
            "deal_id": "b24:deal:38",
            "lead_id": "b24:deal:38",
            "created_at": dt.datetime(2026, 10, 6, 9),
            "status": "open",
            "closed_at": None,
            "amount": 5000.0,
            "currency": "RUB",
        },
        # LOSE with an empty CLOSEDATE: closed_at falls back to DATE_MODIFY
        {
            "deal_id": "b24:deal:39",
            "lead_id": "b24:lead:46",
            "created_at": dt.datetime(2026, 10, 7, 10),
            "status": "lost",
            "closed_at": dt.datetime(2026, 10, 9, 16),
            "amount": 12000.0,
            "currency": "RUB",
        },
    ]
    assert rows(res["leads"], "lead_id", "utm_source", "utm_campaign", "status", "manager") == [
        {
            "lead_id": "b24:deal:38",
            "utm_source": "vk",
            "utm_campaign": "vk_retarget",
            "status": "new",
            "manager": "7",
        }
    ]
    errors = [(e.line, e.column, e.value, e.row_kept) for e in res["leads"].errors + res["deals"].errors]
    # record 4 (line 16, where its STAGE_ID is): a custom stage without semantics (warning) and
    # "15 000", which the API never sends (refused)
    assert errors == [(16, "STAGE_ID", "C2:UC_7Q1X", True), (16, "OPPORTUNITY", "15 000", False)]


def test_lead_list_json_statuses_zones_and_contacts():
    res = read(Bitrix24(), LEADS)
    assert set(res) == {"leads"}
    assert rows(res["leads"], "lead_id", "created_at", "status", "utm_source") == [
        {
            "lead_id": "b24:lead:45",
            "created_at": dt.datetime(2026, 10, 4, 22, 15),
            "status": "qualified",
            "utm_source": "yandex",
        },
        # 08:00+02:00 = 06:00 UTC = 09:00 Moscow
        {
            "lead_id": "b24:lead:46",
            "created_at": dt.datetime(2026, 10, 6, 9),
            "status": "new",
            "utm_source": None,
        },
        {
            "lead_id": "b24:lead:48",
            "created_at": dt.datetime(2026, 10, 7, 10),
            "status": "junk",
            "utm_source": None,
        },
        {
            "lead_id": "b24:lead:49",
            "created_at": dt.datetime(2026, 10, 8, 10),
            "status": "new",
            "utm_source": None,
        },
    ]
    first = rows(res["leads"])[0]
    assert first["phone_hash"] == salted_hash("+79161234567", SALT)  # "8 916 123-45-67"
    assert first["email_hash"] == salted_hash("client@example.ru", SALT)
    kept = [(e.line, e.column, e.value) for e in res["leads"].errors]
    # line 11: phone "12" is no phone (row kept without it); line 13: status "2" is a custom one
    assert kept == [(11, "phone", None), (13, "STATUS_ID", "2")]
    assert all(e.row_kept for e in res["leads"].errors)


def test_mapping_names_custom_stages(tmp_path):
    m = tmp_path / "b24.yaml"
    m.write_text(
        'stages:\n  "C2:UC_7Q1X": {lead: qualified, deal: open}\n  "2": {lead: junk}\n'
        '  "Выезд замерщика": {lead: qualified, deal: open}\n  "Ждёт звонка": {lead: new}\n',
        encoding="utf-8",
    )
    for f in (DEALS, LEADS, DEALS_XLSX, LEADS_CSV):
        res = read(Bitrix24(), f, mapping=m)
        assert not [e for r in res.values() for e in r.errors if e.row_kept and e.column != "phone"], f
    assert rows(read(Bitrix24(), LEADS, mapping=m)["leads"], "status")[3] == {"status": "junk"}


def test_ui_exports_xlsx_and_csv():
    res = read(Bitrix24(), DEALS_XLSX)
    assert rows(res["deals"], "deal_id", "lead_id", "status", "closed_at", "amount") == [
        # "Сделка успешна" = WON; CLOSEDATE "20.10.2026"; 19999.99 is a number cell
        {
            "deal_id": "b24:deal:37",
            "lead_id": "b24:lead:45",
            "status": "won",
            "closed_at": dt.datetime(2026, 10, 20),
            "amount": 19999.99,
        },
        {
            "deal_id": "b24:deal:38",
            "lead_id": "b24:deal:38",
            "status": "open",
            "closed_at": None,
            "amount": 5000.0,
        },  # "5 000,00"
        # "Сделка провалена" = LOSE, no CLOSEDATE: DATE_MODIFY "09.10.2026 16:00:00"
        {
            "deal_id": "b24:deal:39",
            "lead_id": "b24:lead:46",
            "status": "lost",
            "closed_at": dt.datetime(2026, 10, 9, 16),
            "amount": 12000.0,
        },
        {
            "deal_id": "b24:deal:40",
            "lead_id": "b24:lead:47",
            "status": "open",
            "closed_at": None,
            "amount": 15000.0,
        },  # "15 000"
    ]
    (warning,) = res["leads"].errors
    assert (warning.line, warning.column, warning.value) == (
        5,
        "Стадия сделки",
        "Выезд замерщика",
    )  # spreadsheet row 5
    (deal_lead,) = rows(res["leads"], "lead_id", "utm_source", "manager")
    assert deal_lead == {"lead_id": "b24:deal:38", "utm_source": "vk", "manager": "Борис Орлов"}
    leads = read(Bitrix24(), LEADS_CSV)["leads"]
    assert [r["status"] for r in rows(leads)] == ["qualified", "new", "junk", "new"]
    assert rows(leads, "created_at", "utm_campaign")[0] == {
        "created_at": dt.datetime(2026, 10, 4, 22, 15),
        "utm_campaign": "ya_search",
    }


def test_detects_its_files_only():
    b24 = Bitrix24()
    for f in (DEALS, LEADS, DEALS_XLSX, LEADS_CSV):
        assert b24.detect(f, head(f)), f
    for other in (
        DATA / "amocrm" / "leads_api.json",
        DATA / "amocrm" / "leads_export_cp1251.csv",
        DATA / "bank_csv" / "statement.csv",
        DATA / "bank_1c" / "statement_cp1251.txt",
    ):
        assert not b24.detect(other, head(other)), other


def test_revenue_follows_the_lead_to_its_channel(make_warehouse):
    wh = make_warehouse()
    wh.import_files([LEADS, DEALS])
    t = compute(wh, metrics=["revenue", "sales"], by="channel", period="2026-10")
    by = {r["channel"]: r for r in t.frame.to_dicts()}
    # deal 37 (won, 19 999.99) belongs to lead 45: utm yandex/cpc -> yandex_direct
    assert by["yandex_direct"]["revenue"] == pytest.approx(19999.99) and by["yandex_direct"]["sales"] == 1


def test_api_then_export_replaces_instead_of_doubling(make_warehouse):
    wh = make_warehouse()
    wh.import_files([DEALS])
    wh.import_files([DEALS_XLSX])
    assert wh.row_count("deals") == 4  # 37, 38, 39 from both; 40 refused in the JSON, loaded from the XLSX
    assert wh.row_count("leads") == 1  # b24:deal:38, once


def test_a_page_without_result_is_refused_whole(make_warehouse, tmp_path):
    p = tmp_path / "pages.json"
    p.write_text(
        '[{"result": [{"ID": "1", "STATUS_ID": "NEW", "DATE_CREATE": "2026-10-01T10:00:00+03:00"}]}, {"error": "x"}]'
    )
    wh = make_warehouse()
    before = wh.fingerprint()
    with pytest.raises(ImportFailed, match=r"response 2 has no list result"):
        wh.import_files([p], format="bitrix24")
    assert wh.fingerprint() == before


def test_a_number_beyond_pythons_digit_limit_is_a_clear_refusal(make_warehouse, tmp_path):
    p = tmp_path / "big.json"
    p.write_text('{"result": [{"ID": ' + "9" * 5000 + ', "STATUS_ID": "NEW"}]}', encoding="utf-8")
    wh = make_warehouse()
    with pytest.raises(ImportFailed, match="not a JSON file kassa can read"):
        wh.import_files([p], format="bitrix24")
    assert wh.batches() == []


def test_contact_else_company_is_the_customer(tmp_path):
    import json

    deal = {"ID": "1", "STAGE_ID": "WON", "DATE_CREATE": "2026-10-01T10:00:00+03:00", "OPPORTUNITY": "10",
            "CLOSEDATE": "2026-10-02T10:00:00+03:00"}  # fmt: skip
    records = [
        {**deal, "CONTACT_ID": "12", "COMPANY_ID": "4"},
        {**deal, "ID": "2", "CONTACT_ID": "0", "COMPANY_ID": "4"},  # Bitrix writes 0 for "none"
        {**deal, "ID": "3"},
    ]
    p = tmp_path / "deals.json"
    p.write_text(json.dumps({"result": records, "total": 3}), encoding="utf-8")
    res = read(Bitrix24(), p)
    assert [r["customer_id"] for r in rows(res["deals"])] == ["b24:contact:12", "b24:company:4", None]
    # The deals have no lead: each is its own lead, of the same customer.
    assert [r["customer_id"] for r in rows(res["leads"])] == ["b24:contact:12", "b24:company:4", None]
