"""amoCRM: API JSON and UI export → leads + deals, the stage mapping, re-imports, errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tests.sources.crm_bank_support import DATA, SALT, head, read, rows

from kassa.errors import ConfigError, ImportFailed
from kassa.metrics.compute import compute
from kassa.sources.amocrm import AmoCRM
from kassa.sources.validate import salted_hash

AMO = DATA / "amocrm"
JSON = AMO / "leads_api.json"
EXPORT = AMO / "leads_export_cp1251.csv"
STAGES = AMO / "stages.yaml"


def test_api_json_gives_a_lead_and_a_deal_per_amo_lead():
    res = read(AmoCRM(), JSON)
    # created_at 1790834400 = 2026-10-01 06:00 UTC = 09:00 in Europe/Moscow (UTC+3); closed_at 1791439200 = 10-08 09:00.
    assert rows(
        res["leads"], "lead_id", "created_at", "utm_source", "utm_campaign", "client_id", "status", "manager"
    ) == [
        {
            "lead_id": "amo:17657",
            "created_at": dt.datetime(2026, 10, 1, 9),
            "utm_source": "yandex",
            "utm_campaign": "ya_search",
            "client_id": "1729000000123456789",
            "status": "qualified",
            "manager": "321123",
        },
        {
            "lead_id": "amo:17658",
            "created_at": dt.datetime(2026, 10, 2, 9),
            "utm_source": None,
            "utm_campaign": None,
            "client_id": None,
            "status": "new",
            "manager": "321124",
        },
        {
            "lead_id": "amo:17659",
            "created_at": dt.datetime(2026, 10, 3, 9),
            "utm_source": "vk",
            "utm_campaign": "vk_retarget",
            "client_id": None,
            "status": "qualified",
            "manager": "321123",
        },
    ]
    assert rows(res["deals"], "deal_id", "lead_id", "status", "closed_at", "amount") == [
        {
            "deal_id": "amo:17657",
            "lead_id": "amo:17657",
            "status": "won",
            "closed_at": dt.datetime(2026, 10, 8, 9),
            "amount": 25000.0,
        },
        # price 0 but price_with_minor_units 12500.5: the float wins
        {
            "deal_id": "amo:17658",
            "lead_id": "amo:17658",
            "status": "open",
            "closed_at": None,
            "amount": 12500.5,
        },
        # 143: lost; closed_at 1791093600 = 2026-10-04 06:00 UTC = 09:00 Moscow
        {
            "deal_id": "amo:17659",
            "lead_id": "amo:17659",
            "status": "lost",
            "closed_at": dt.datetime(2026, 10, 4, 9),
            "amount": 0.0,
        },
    ]


def test_contacts_phone_and_email_are_hashed_never_stored_raw():
    (lead, *_) = rows(read(AmoCRM(), JSON)["leads"])
    assert lead["phone"] is None and lead["email"] is None
    assert lead["phone_hash"] == salted_hash("+79161234567", SALT)  # "+7 (916) 123-45-67" in E.164
    assert lead["email_hash"] == salted_hash("buyer@example.ru", SALT)  # lower-cased


def test_json_errors_name_the_line_field_and_value():
    res = read(AmoCRM(), JSON)
    refused = [e for e in res["leads"].errors if not e.row_kept]
    # A record's line is the line of its status_id: line 41 holds record 4's, next to its created_at.
    assert [(e.line, e.column, e.value) for e in refused] == [(41, "created_at", "вчера")]
    assert '"created_at": "вчера"' in JSON.read_text(encoding="utf-8").splitlines()[40]
    assert refused[0].file == str(JSON) and "JSON record" not in refused[0].reason
    assert res["leads"].rows_read == 4 and res["deals"].rows_read == 4


def test_compact_json_errors_name_the_record_number(tmp_path):
    compact = tmp_path / "leads.json"
    compact.write_text(
        json.dumps(json.loads(JSON.read_text(encoding="utf-8")), ensure_ascii=False), encoding="utf-8"
    )
    (err,) = [e for e in read(AmoCRM(), compact)["leads"].errors if not e.row_kept]
    assert (err.line, err.column) == (4, "created_at") and err.reason.endswith("[JSON record 4]")


def test_unmapped_stages_are_new_and_open_with_one_warning_each():
    warnings = [e for e in read(AmoCRM(), JSON)["leads"].errors if e.row_kept]
    assert [(e.line, e.column, e.value) for e in warnings] == [
        (26, "status_id", "2030"),
        (41, "status_id", "2029"),
    ]
    assert "new lead with an open deal" in warnings[0].reason


def test_the_mapping_sets_statuses_managers_and_deal_none():
    res = read(AmoCRM(), EXPORT, mapping=STAGES)
    assert not [e for e in res["leads"].errors if e.row_kept]
    leads = {r["lead_id"]: r for r in rows(res["leads"])}
    assert leads["amo:17658"]["status"] == "qualified"  # "Переговоры": {lead: qualified, deal: open}
    assert leads["amo:17661"]["status"] == "new"
    # "Первичный контакт": deal none -> a lead without a deal
    assert [r["deal_id"] for r in rows(res["deals"])] == ["amo:17657", "amo:17658", "amo:17659"]
    api = rows(read(AmoCRM(), JSON, mapping=STAGES)["leads"], "lead_id", "manager")
    assert api[0] == {"lead_id": "amo:17657", "manager": "Анна"}  # managers: 321123 -> Анна


def test_ui_export_in_windows_1251_with_local_numbers_and_dates():
    res = read(AmoCRM(), EXPORT)
    assert rows(res["deals"], "deal_id", "status", "created_at", "closed_at", "amount") == [
        {
            "deal_id": "amo:17657",
            "status": "won",
            "created_at": dt.datetime(2026, 10, 1, 9),
            "closed_at": dt.datetime(2026, 10, 8, 9),
            "amount": 25000.0,
        },  # "25 000"
        {
            "deal_id": "amo:17658",
            "status": "open",
            "created_at": dt.datetime(2026, 10, 2, 9),
            "closed_at": None,
            "amount": 12500.5,
        },  # "12 500,50"
        {
            "deal_id": "amo:17659",
            "status": "lost",
            "created_at": dt.datetime(2026, 10, 3, 9),
            "closed_at": dt.datetime(2026, 10, 4, 9),
            "amount": 0.0,
        },  # empty budget
        {
            "deal_id": "amo:17661",
            "status": "open",
            "created_at": dt.datetime(2026, 10, 5, 10, 15),
            "closed_at": None,
            "amount": 0.0,
        },
    ]
    refused = [e for e in res["leads"].errors if not e.row_kept]
    assert [(e.line, e.column, e.value) for e in refused] == [(5, "Дата создания", "вчера")]
    first = rows(res["leads"])[0]
    assert first["manager"] == "Анна" and first["phone_hash"] == salted_hash("+79161234567", SALT)


def test_several_phones_in_one_cell_keep_the_first(tmp_path):
    p = tmp_path / "amo.csv"
    p.write_text(
        "ID;Этап сделки;Бюджет;Дата создания;Мобильный телефон (контакт)\n"
        "1;Успешно реализовано;100;01.10.2026 10:00:00;8 (495) 000-00-00, +7 903 000 00 00\n",
        encoding="utf-8",
    )
    (lead,) = rows(read(AmoCRM(), p)["leads"])
    assert lead["phone_hash"] == salted_hash("+74950000000", SALT)
    # 142 needs closed_at: the export has none, so the won deal is refused with the reason
    (err,) = read(AmoCRM(), p)["deals"].errors
    assert err.reason == "a won or lost deal needs closed_at"


def test_detects_its_json_and_export_only():
    amo = AmoCRM()
    assert amo.detect(JSON, head(JSON)) and amo.detect(EXPORT, head(EXPORT))
    for other in [
        DATA / "bitrix24" / "deals_api.json",
        DATA / "bitrix24" / "deals_export.xlsx",
        DATA / "bitrix24" / "leads_export.csv",
        DATA / "bank_1c" / "statement_cp1251.txt",
    ]:
        assert not amo.detect(other, head(other)), other


def test_a_bad_mapping_names_file_line_and_field(tmp_path):
    bad = tmp_path / "stages.yaml"
    bad.write_text('stages:\n  "Переговоры": {lead: qualified}\n  "Спам": {lead: spam}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stages\.yaml:3: field stages\.Спам\.lead"):
        read(AmoCRM(), JSON, mapping=bad)


def test_reimport_and_overlapping_exports_do_not_double(make_warehouse):
    wh = make_warehouse()
    wh.import_files([JSON], mapping=STAGES)
    before = wh.fingerprint()
    again = wh.import_files([JSON], mapping=STAGES)
    assert wh.fingerprint() == before and all(f.already_imported_as for f in again.files)
    # The UI export lists the same leads (ids amo:17657..59) plus 17661: replaced, not added.
    report = wh.import_files([EXPORT], mapping=STAGES)
    by_kind = {f.kind: f for f in report.files}
    assert by_kind["leads"].rows_replaced == 3 and by_kind["deals"].rows_replaced == 3
    assert wh.row_count("leads") == 4  # 17657, 17658, 17659, 17661 (17660 refused twice)
    assert wh.row_count("deals") == 3  # 17661 is at a deal: none stage


def test_deal_none_keeps_qualified_leads_below_leads(make_warehouse):
    """Why ``deal: none`` exists: a deal makes a lead qualified (metrics.compute)."""
    mapped = make_warehouse(name="mapped.duckdb")
    mapped.import_files([EXPORT], mapping=STAGES)
    t = compute(mapped, metrics=["leads", "qualified_leads"], by=[], period="2026-10").total
    # 4 leads; qualified: 17657 (won), 17658 (Переговоры), 17659 (143, lost deal); 17661 has no deal.
    assert (t["leads"], t["qualified_leads"]) == (4, 3)
    unmapped = make_warehouse(name="unmapped.duckdb")
    unmapped.import_files([EXPORT])
    t = compute(unmapped, metrics=["leads", "qualified_leads"], by=[], period="2026-10").total
    assert (t["leads"], t["qualified_leads"]) == (4, 4)  # every unmapped stage got an open deal


def test_strict_refuses_the_file_and_changes_nothing(make_warehouse):
    wh = make_warehouse()
    before = wh.fingerprint()
    with pytest.raises(ImportFailed, match="--strict: 2 refused"):
        wh.import_files([JSON], strict=True)  # record 4 refused as a lead and as a deal
    assert wh.fingerprint() == before and wh.batches() == []


def test_the_main_contact_is_the_customer_of_lead_and_deal(tmp_path):
    # 17657 and 17658 have a main contact (501, 502); 17659 none. A lead with only a company is the company's.
    res = read(AmoCRM(), JSON)
    customers = {r["lead_id"]: r["customer_id"] for r in rows(res["leads"])}
    assert customers["amo:17657"] == "amo:contact:501" and customers["amo:17658"] == "amo:contact:502"
    assert customers["amo:17659"] is None
    assert {r["deal_id"]: r["customer_id"] for r in rows(res["deals"])}["amo:17657"] == "amo:contact:501"
    firm = {
        "id": 1,
        "status_id": 142,
        "created_at": 1790834400,
        "closed_at": 1790834400,
        "price": 10,
        "_embedded": {"contacts": [{"id": 7}, {"id": 8, "is_main": True}], "companies": [{"id": 3}]},
    }
    only_firm = {**firm, "id": 2, "_embedded": {"companies": [{"id": 3}]}}
    p = tmp_path / "leads.json"
    p.write_text(json.dumps({"_embedded": {"leads": [firm, only_firm]}}), encoding="utf-8")
    got = {r["lead_id"]: r["customer_id"] for r in rows(read(AmoCRM(), p)["leads"])}
    assert got == {"amo:1": "amo:contact:8", "amo:2": "amo:company:3"}
