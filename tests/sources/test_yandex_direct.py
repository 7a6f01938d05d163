"""Yandex Direct → spend: money units, VAT, campaign rule, overlapping exports, atomic failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kassa.errors import ConfigError, ImportFailed
from kassa.settings import Settings
from kassa.sources.base import ReadContext
from kassa.sources.registry import detect_format
from kassa.sources.yandex_direct import YandexDirect
from kassa.store import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"
API_HEADER = "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def read(path: Path, mapping: Path | None = None) -> list[dict]:
    (res,) = YandexDirect().read(path, ReadContext(settings=Settings(), salt="s", mapping=mapping))
    return res.rows.to_pylist()


def spend(wh: Warehouse) -> list[tuple]:
    t = wh.table("spend")
    rows = t.order_by([t.date, t.campaign]).select("date", "campaign", "cost").to_pyarrow().to_pylist()
    return [(r["date"].isoformat(), r["campaign"], r["cost"]) for r in rows]


def test_whole_costs_not_multiples_of_10000_are_currency_units(tmp_path: Path) -> None:
    # 1500 is not a micros amount (Direct rounds micros to 10,000): it is 1500 roubles
    p = write(
        tmp_path, "r.tsv", API_HEADER + "2026-11-01\t1\tA\t10\t1\t1500\n2026-11-02\t1\tA\t10\t1\t20000\n"
    )
    assert [r["cost"] for r in read(p)] == [1500.0, 20000.0]
    # all multiples of 10,000: micros -> 0.01 and 0.03 roubles
    p = write(
        tmp_path, "m.tsv", API_HEADER + "2026-11-01\t1\tA\t10\t1\t10000\n2026-11-02\t1\tA\t10\t1\t30000\n"
    )
    assert [r["cost"] for r in read(p)] == [0.01, 0.03]


def test_options_override_what_the_file_cannot_say(tmp_path: Path) -> None:
    p = write(tmp_path, "m.tsv", API_HEADER + "2026-11-01\t70001\tОсень\t10\t1\t20000\n")
    opts = write(
        tmp_path, "o.yaml", "money_in_micros: false\ninclude_vat: true\ncampaign: name\ncurrency: kzt\n"
    )
    (row,) = read(p, opts)
    assert (row["cost"], row["vat_included"], row["campaign"], row["currency"]) == (
        20000.0,
        True,
        "Осень",
        "KZT",
    )


def test_bad_options_name_file_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path, "m.tsv", API_HEADER + "2026-11-01\t1\tA\t10\t1\t20000\n")
    opts = write(tmp_path, "o.yaml", "include_vat: true\ncampaign: title\n")
    with pytest.raises(ConfigError, match=r"o\.yaml:2: field campaign"):
        read(p, opts)


def test_rows_identical_in_every_cell_count_once(tmp_path: Path) -> None:
    line = "2026-11-01\t1\tA\t10\t1\t20000.00\n"
    (res,) = YandexDirect().read(
        write(tmp_path, "d.tsv", API_HEADER + line + line), ReadContext(settings=Settings(), salt="s")
    )
    assert res.rows.column("cost").to_pylist() == [20000.0]
    assert [(e.line, e.reason) for e in res.errors] == [(3, "the same row as line 2; counted once")]


def test_an_overlapping_corrected_export_replaces_the_days_it_covers(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "nov1-2.tsv",
        API_HEADER + "2026-11-01\t1\tA\t10\t1\t100.00\n2026-11-02\t1\tA\t10\t1\t200.00\n",
    )
    second = write(
        tmp_path,
        "nov2-3.tsv",
        API_HEADER + "2026-11-02\t1\tA\t10\t1\t250.00\n2026-11-03\t1\tA\t10\t1\t300.00\n",
    )
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.import_files([first])
        report = wh.import_files([second])
        assert report.files[0].rows_replaced == 1  # 2 November's first version
        # 100 (1 Nov, kept) + 250 (2 Nov, corrected) + 300 (3 Nov, new) = 650, not 850
        assert spend(wh) == [
            ("2026-11-01", "1", 100.0),
            ("2026-11-02", "1", 250.0),
            ("2026-11-03", "1", 300.0),
        ]
        wh.undo(report.files[0].batch_id)
        assert spend(wh) == [("2026-11-01", "1", 100.0), ("2026-11-02", "1", 200.0)]


def test_a_cut_off_file_fails_the_whole_import(tmp_path: Path) -> None:
    good = write(tmp_path, "good.tsv", API_HEADER + "2026-11-01\t1\tA\t10\t1\t100.00\n")
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        before = wh.fingerprint()
        with pytest.raises(ImportFailed, match="looks cut off"):
            wh.import_files([good, DATA / "yandex_direct" / "reports_api_cut_off.tsv"])
        assert wh.fingerprint() == before  # the good file did not land either


def test_detection_is_specific(tmp_path: Path) -> None:
    assert detect_format(DATA / "yandex_direct" / "web_export_cp1251.csv").name == "yandex_direct"
    # a hand-made sheet with the same three words is not a Direct export
    sheet = write(tmp_path, "tg.csv", "День;Кампания;Показы;Клики;Расход, ₽\n01.10.2026;tg;100;1;10,00\n")
    assert not YandexDirect().detect(sheet, sheet.read_bytes())
    canonical = write(
        tmp_path,
        "spend.csv",
        "date,channel,campaign,impressions,clicks,cost\n2026-11-01,yandex_direct,1,1,1,1\n",
    )
    assert not YandexDirect().detect(canonical, canonical.read_bytes())


def test_title_line_vat_note_decides_vat(tmp_path: Path) -> None:
    text = "Статистика (с НДС)\nДата;№ Кампании;Кампания;Показы;Клики;CTR (%);Расход (руб.)\n01.11.2026;7;A;10;1;10,00;122,00\n"
    (row,) = read(write(tmp_path, "ui.csv", text))
    assert row["vat_included"] is True and row["date"] == dt.date(2026, 11, 1) and row["cost"] == 122.0
    (row,) = read(write(tmp_path, "ui2.csv", text.replace("с НДС", "без НДС")))
    assert row["vat_included"] is False


def test_a_direct_export_needs_a_campaign_and_the_cost_not_every_column(
    make_warehouse, tmp_path: Path
) -> None:
    # like BD_RSY_… (by ad × placement × sex × age) but by day: no Показы; the dimensions are summed away
    p = write(
        tmp_path,
        "rsy.csv",
        "Дата;№ Кампании;Название кампании;Пол;Возраст;Название площадки;Расход, ₽;Клики\n"
        "01.03.2026;706027591;МК БФЛ;Женский;25-34 года;yandex;1651,06;7\n"
        "01.03.2026;706027591;МК БФЛ;Мужской;25-34 года;game.yandex.ru;1355,76;3\n"
        "02.03.2026;706154737;РСЯ БФЛ;Женский;35-44 года;yandex;908,03;2\n",
    )
    assert detect_format(p).name == "yandex_direct"
    wh = make_warehouse()
    (report,) = wh.import_files([p]).files
    t = wh.table("spend")
    got = t.order_by([t.date, t.campaign]).select("date", "campaign", "clicks", "impressions", "cost")
    assert [tuple(r.values()) for r in got.to_pyarrow().to_pylist()] == [
        (dt.date(2026, 3, 1), "706027591", 10, 0, pytest.approx(3006.82)),
        (dt.date(2026, 3, 2), "706154737", 2, 0, pytest.approx(908.03)),
    ]
    (warning,) = report.errors
    assert (warning.row_kept, warning.column, warning.reason) == (
        True,
        "impressions",
        "the export has no impressions column; loaded as 0",
    )


def test_an_api_report_without_impressions_loads_them_as_zero_and_says_so(tmp_path: Path) -> None:
    # Yandex's own example asks for Date, CampaignId, Clicks, Cost only (docs: reports/example).
    wh = Warehouse.open(tmp_path / "w.duckdb")
    (report,) = wh.import_files([DATA / "yandex_direct" / "reports_api_doc_example.tsv"]).files
    (said,) = report.errors
    assert said.row_kept and said.column == "impressions" and "loaded as 0" in said.reason
    wh.close()


def test_an_api_report_without_date_covers_the_period_of_its_header_line(tmp_path: Path) -> None:
    wh = Warehouse.open(tmp_path / "w.duckdb")
    (report,) = wh.import_files([DATA / "yandex_direct" / "reports_api_no_date.tsv"]).files
    got = wh.ibis.con.execute(
        "SELECT campaign, min(date), max(date), min(spread_from), max(spread_to), count(*), sum(cost), "
        "sum(impressions) FROM spend GROUP BY campaign ORDER BY campaign"
    ).fetchall()
    october = (dt.date(2026, 10, 1), dt.date(2026, 10, 30))
    assert got == [
        ("Осень_поиск", *october, *october, 30, pytest.approx(3050.0), 3000),
        ('РСЯ "Ретаргет"', *october, *october, 30, 0.0, 31),
    ]
    (told,) = report.errors
    assert told.row_kept and "2 row(s) cover more than a day" in told.reason
    wh.close()
