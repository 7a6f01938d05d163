"""Google Ads → spend: localized interface reports, micros, date order, detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa.errors import ImportFailed
from kassa.settings import Settings
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.google_ads import GoogleAds

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "google_ads"


def read(path: Path) -> ReadResult:
    (res,) = GoogleAds().read(path, ReadContext(settings=Settings(), salt="s"))
    return res


def test_russian_interface_report(tmp_path: Path) -> None:
    p = tmp_path / "ru.csv"
    p.write_text(
        "Отчет по кампаниям\n01.11.2026 - 02.11.2026\n"
        "День;Идентификатор кампании;Кампания;Показы;Клики;Код валюты;Цена\n"
        "02/11/2026;90001;Поиск;2 140;498;RUB;1 189,24\n"
        "Итого;;;2 140;498;;1 189,24\n",
        encoding="utf-8",
    )
    assert GoogleAds().detect(p, p.read_bytes())
    (row,) = read(p).rows.to_pylist()
    # day first under Russian headers: 02/11 = 2 November
    assert (
        row["date"].isoformat(),
        row["campaign"],
        row["impressions"],
        row["cost"],
        row["vat_included"],
    ) == (
        "2026-11-02",
        "90001",
        2140,
        1189.24,
        False,
    )


def test_english_slash_dates_are_month_first(tmp_path: Path) -> None:
    p = tmp_path / "en.csv"
    p.write_text("Day,Campaign,Impr.,Clicks,Cost\n11/2/2026,Brand,10,1,1.00\n", encoding="utf-8")
    (row,) = read(p).rows.to_pylist()
    assert row["date"].isoformat() == "2026-11-02" and row["campaign"] == "Brand"  # no id column: the name


def test_api_csv_micros_must_be_whole(tmp_path: Path) -> None:
    p = tmp_path / "api.csv"
    p.write_text(
        "segments.date,campaign.id,metrics.impressions,metrics.clicks,metrics.cost_micros\n"
        "2026-11-01,1,10,1,1500000\n2026-11-02,1,10,1,1.5\n",
        encoding="utf-8",
    )
    res = read(p)
    assert res.rows.column("cost").to_pylist() == [1.5]  # 1500000 / 10^6
    assert [(e.line, e.column, e.value) for e in res.errors] == [(3, "cost", "1.5")]


@pytest.mark.parametrize("text", ['{"results": 3}', '[{"results": [1]}, 7]'])
def test_other_json_is_refused(tmp_path: Path, text: str) -> None:
    p = tmp_path / "r.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFailed, match="Google Ads search response"):
        read(p)


def test_detection_is_specific(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("Campaign,Impressions,Clicks,Cost\nA,1,1,1\n", encoding="utf-8")
    assert not GoogleAds().detect(p, p.read_bytes())  # no Google-only column: not claimed
    assert GoogleAds().detect(
        DATA / "campaign_report_excel.csv", (DATA / "campaign_report_excel.csv").read_bytes()
    )
