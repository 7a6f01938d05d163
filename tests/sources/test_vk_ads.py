"""VK Ads → spend: API JSON shape, VAT default and override, what the statistics cannot give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kassa.errors import ImportFailed, MissingColumn
from kassa.settings import Settings
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.vk_ads import VkAds

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "vk_ads"


def read(path: Path, mapping: Path | None = None) -> ReadResult:
    (res,) = VkAds().read(path, ReadContext(settings=Settings(), salt="s", mapping=mapping))
    return res


def test_vat_is_included_unless_the_options_say_otherwise(tmp_path: Path) -> None:
    assert set(read(DATA / "statistics_day.json").rows.column("vat_included").to_pylist()) == {True}
    opts = tmp_path / "o.yaml"
    opts.write_text("include_vat: false\n", encoding="utf-8")
    assert set(read(DATA / "statistics_day.json", opts).rows.column("vat_included").to_pylist()) == {False}


def test_campaign_names_cannot_come_from_the_api(tmp_path: Path) -> None:
    opts = tmp_path / "o.yaml"
    opts.write_text("campaign: name\n", encoding="utf-8")
    with pytest.raises(MissingColumn, match="no campaign name column"):
        read(DATA / "statistics_day.json", opts)


def test_compact_json_numbers_rows_by_position(tmp_path: Path) -> None:
    doc = {
        "items": [
            {
                "id": 1,
                "rows": [
                    {"date": "2026-11-01", "base": {"shows": 1, "clicks": 0, "spent": "x"}},
                    {"date": "2026-11-02", "base": {"shows": 2, "clicks": 1, "spent": "3.5"}},
                ],
            }
        ]
    }
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    res = read(p)
    assert res.rows.column("cost").to_pylist() == [3.5]
    assert [(e.line, e.column, e.value) for e in res.errors] == [(1, "cost", "x")]  # first row of the file


@pytest.mark.parametrize(
    "text", ['{"items": 5}', '{"items": [1]}', "[1, 2]", '{"items": [{"id": 1, "rows": 3}]}']
)
def test_other_json_is_refused_clearly(tmp_path: Path, text: str) -> None:
    p = tmp_path / "s.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFailed, match="VK Ads|items"):
        read(p)


def test_detection_needs_a_vk_cost_column(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("Дата,Кампания,Показы,Клики,Потрачено\n01.11.2026,A,1,1,1\n", encoding="utf-8")
    assert not VkAds().detect(p, p.read_bytes())  # no VK-specific column besides the cost: could be anything
    assert VkAds().detect(DATA / "export.csv", (DATA / "export.csv").read_bytes())
