"""The generic reader: any CSV/XLSX plus a column mapping → any canonical table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.sources.crm_bank_support import DATA, SALT, head, read, rows

from kassa.errors import ConfigError, MissingColumn
from kassa.sources.generic import Generic
from kassa.sources.validate import salted_hash

SPEND = DATA / "generic" / "telegram_spend.csv"
SPEND_MAP = DATA / "generic" / "telegram_spend.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_spend_sheet_with_title_totals_and_a_constant_channel():
    res = read(Generic(), SPEND, mapping=SPEND_MAP)["spend"]
    assert rows(res, "date", "channel", "campaign", "impressions", "clicks", "cost") == [
        {
            "date": dt.date(2026, 10, 1),
            "channel": "telegram",
            "campaign": "tg_posts",
            "impressions": 12400,
            "clicks": 310,
            "cost": 15000.0,
        },
        {
            "date": dt.date(2026, 10, 2),
            "channel": "telegram",
            "campaign": "tg_posts",
            "impressions": 9800,
            "clicks": 205,
            "cost": 12500.5,
        },
    ]
    # line 1 is the title, line 6 "Итого"; line 5 says "много" impressions
    (err,) = res.errors
    assert (err.line, err.column, err.value, err.reason) == (5, "Показы", "много", "not a whole number")


def test_leads_with_a_date_format_and_personal_data(tmp_path):
    f = write(
        tmp_path, "calls.csv", "Звонок,Когда,Номер,Итог\nc-1,2026/10/03 14.05,+7 916 123-45-67,целевой\n"
    )
    m = write(
        tmp_path,
        "calls.yaml",
        (
            "kind: leads\ncolumns:\n  lead_id: Звонок\n  created_at: Когда\n  phone: Номер\n"
            "constants:\n  status: new\n  utm_source: calltouch\ndate_format: '%Y/%m/%d %H.%M'\n"
        ),
    )
    (lead,) = rows(read(Generic(), f, mapping=m)["leads"])
    assert lead["created_at"] == dt.datetime(2026, 10, 3, 14, 5)
    assert lead["phone"] is None and lead["phone_hash"] == salted_hash("+79161234567", SALT)
    assert (lead["status"], lead["utm_source"]) == ("new", "calltouch")


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("kind: sales\n", r"m\.yaml:1: field kind"),
        (
            "kind: spend\ncolumns:\n  date: День\n",
            r"m\.yaml:2: field columns: .*spend needs column\(s\) channel, campaign",
        ),
        (
            "kind: spend\nconstants:\n  chanel: tg\n",
            r"m\.yaml:2: field constants: .*chanel not a column of spend",
        ),
        ("kind: spend\ncolums: {}\n", r"m\.yaml:2: field colums: Extra inputs"),
        ("kind: [spend\n", r"m\.yaml:2: not valid YAML"),  # the parser notices at the end of the text
    ],
)
def test_mapping_errors_name_file_line_and_field(tmp_path, yaml, message):
    with pytest.raises(ConfigError, match=message):
        read(Generic(), SPEND, mapping=write(tmp_path, "m.yaml", yaml))


def test_without_a_mapping_it_says_how_to_give_one():
    with pytest.raises(ConfigError, match=r"--format generic --mapping map\.yaml"):
        read(Generic(), SPEND)


def test_a_mapped_column_missing_from_the_file(tmp_path):
    m = write(tmp_path, "m.yaml", SPEND_MAP.read_text(encoding="utf-8").replace('"Клики"', '"Переходы"'))
    with pytest.raises(MissingColumn, match=r"Переходы named in .* are not in the file"):
        read(Generic(), SPEND, mapping=m)


def test_never_claims_a_file_on_its_own():
    for f in (SPEND, DATA / "bank_csv" / "statement.csv", DATA / "amocrm" / "leads_api.json"):
        assert not Generic().detect(f, head(f))


def test_reimport_replaces_the_period_of_the_channel(make_warehouse, tmp_path):
    wh = make_warehouse()
    wh.import_files([SPEND], format="generic", mapping=SPEND_MAP)
    fixed = write(
        tmp_path,
        "fixed.csv",
        "День;Кампания;Показы;Клики;Расход, ₽\n02.10.2026;tg_posts;9 900;210;12 000,00\n",
    )
    report = wh.import_files([fixed], format="generic", mapping=SPEND_MAP)
    assert report.files[0].rows_replaced == 1  # spend replaces telegram's 02.10 row
    assert wh.row_count("spend") == 2
    cost = wh.table("spend").cost.sum().execute()
    assert cost == pytest.approx(27000.0)  # 15 000 + 12 000


def test_non_finite_numbers_are_refused_not_summed(tmp_path):
    """validate() refuses "nan"/"inf"/1e400 (they cast to floats that would poison every sum)."""
    f = write(
        tmp_path,
        "p.csv",
        "Дата;Сумма;Номер\n01.10.2026;nan;1\n01.10.2026;inf;2\n01.10.2026;1e400;3\n01.10.2026;10;4\n",
    )
    m = write(
        tmp_path,
        "p.yaml",
        "kind: payments\ncolumns:\n  paid_at: Дата\n  amount: Сумма\n  payment_id: Номер\n",
    )
    res = read(Generic(), f, mapping=m)["payments"]
    assert rows(res, "payment_id", "amount") == [{"payment_id": "4", "amount": 10.0}]
    assert [(e.line, e.value) for e in res.errors] == [(2, "nan"), (3, "inf"), (4, "1e400")]
