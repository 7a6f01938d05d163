"""Chart specs: valid Vega-Lite, the hand-computed data values, and golden JSON files.

Golden files live in tests/report/golden/<chart>.<lang>.json. After an intended change to a chart,
regenerate them with ``KASSA_REGEN_GOLDEN=1 pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import vl_convert as vlc
from altair.vegalite.v6.schema.core import load_schema

from kassa.report import charts
from kassa.report.html import VL_VERSION
from kassa.report.model import ReportData

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("KASSA_REGEN_GOLDEN") == "1"
CHARTS = ("funnel", "spend_vs_revenue", "money_vs_activity", "money_vs_activity_by_channel")
VALIDATOR = jsonschema.Draft7Validator(load_schema())


def _spec(data: ReportData, key: str) -> dict[str, Any]:
    return next(c.spec for c in data.charts() if c.key == key)


def _values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec["data"]["values"])  # every builder puts its inline data at the top level


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("key", CHARTS)
def test_chart_spec_is_valid_vega_lite_and_matches_its_golden_file(
    reports: dict[str, ReportData], key: str, lang: str
) -> None:
    spec = _spec(reports[lang], key)
    errors = sorted(VALIDATOR.iter_errors(spec), key=str)
    assert not errors, errors[0].message
    vg = vlc.vegalite_to_vega(spec, vl_version=VL_VERSION)  # compiles: Vega-Lite itself accepts it
    assert vg["marks"]
    text = json.dumps(spec, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    path = GOLDEN / f"{key}.{lang}.json"
    if REGEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run KASSA_REGEN_GOLDEN=1 pytest tests/report and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{key}.{lang} differs from {path}; regenerate on purpose"
    )


def test_funnel_chart_labels_count_and_share_of_the_stage_above(reports: dict[str, ReportData]) -> None:
    values = _values(_spec(reports["en"], "funnel"))
    ya = [(v["stage"], v["value"], v["text"]) for v in values if v["channel"] == "yandex_direct"]
    assert ya == [
        ("Visits", 4, "4"),
        ("Leads", 3, "3 (75.0%)"),  # 3 / 4
        ("Qualified leads", 2, "2 (66.7%)"),  # 2 / 3
        ("Sales", 2, "2 (100.0%)"),  # 2 / 2
    ]
    tg = [v["text"] for v in values if v["channel"] == "telegram"]
    assert tg == ["1", "1 (100.0%)", "0 (0.0%)", "0 (—)"]  # sales / 0 qualified: no value
    ru = [v["text"] for v in _values(_spec(reports["ru"], "funnel")) if v["channel"] == "yandex_direct"]
    assert ru[2] == "2 (66,7%)"


def test_money_vs_activity_chart_is_indexed_to_the_first_month(reports: dict[str, ReportData]) -> None:
    values = _values(_spec(reports["en"], "money_vs_activity"))
    index = {(v["metric"], v["month"]): v["index"] for v in values}
    assert index[("revenue", "2026-09")] == 100.0
    assert index[("revenue", "2026-10")] == 142.1  # 270 000 / 190 000 × 100
    assert index[("clicks", "2026-10")] == 208.3  # 1 250 / 600 × 100
    assert index[("impressions", "2026-10")] == 166.7  # 50 000 / 30 000 × 100
    assert index[("qualified_leads", "2026-10")] == 100.0  # 3 / 3
    assert (
        index[("posts", "2026-09")] is None and index[("posts", "2026-10")] == 100.0
    )  # no posts before October
    series = {v["metric"]: v["series"] for v in values}
    assert series["clicks"] == "Clicks (activity)" and series["revenue"] == "Revenue"
    assert "reach" not in series  # no platform reported reach: the line is left out, not drawn at zero
    ru = {
        v["metric"]: v for v in _values(_spec(reports["ru"], "money_vs_activity")) if v["month"] == "2026-10"
    }
    assert ru["revenue"]["text"] == "270\xa0000\xa0₽" and ru["clicks"]["series"] == "Клики (активность)"


def test_spend_vs_revenue_values_per_channel(reports: dict[str, ReportData]) -> None:
    values = _values(_spec(reports["en"], "spend_vs_revenue"))
    got = {(v["channel"], v["measure"]): v["value"] for v in values}
    assert got[("yandex_direct", "Marketing cost")] == 25000
    assert got[("yandex_direct", "Revenue")] == 240000
    assert got[("vk_ads", "Payments received")] == 30000
    assert got[("telegram", "Marketing cost")] == 5000


def test_chart_numbers_follow_the_language() -> None:
    assert charts.number_locale("ru", "RUB") == {
        "decimal": ",",
        "thousands": "\xa0",
        "grouping": [3],
        "currency": ["", "\xa0₽"],
    }
    assert charts.number_locale("en", "RUB")["currency"] == ["RUB\xa0", ""]
    spec = charts.spend_vs_revenue_chart(
        [{"channel": "a", "marketing_cost": 1500, "revenue": 0, "payments": 0}], lang="ru"
    )
    assert spec["config"]["locale"]["number"]["decimal"] == ","
    svg = vlc.vegalite_to_svg(spec, vl_version=VL_VERSION)
    assert "1\xa0500\xa0₽" in svg  # the bar label, drawn offline


def test_chart_builders_are_pure() -> None:
    rows = [{"channel": "a", "visits": 10, "leads": 2, "qualified_leads": 1, "sales": 1}]
    assert charts.funnel_chart(rows) == charts.funnel_chart([dict(r) for r in rows])
    assert rows == [{"channel": "a", "visits": 10, "leads": 2, "qualified_leads": 1, "sales": 1}]
