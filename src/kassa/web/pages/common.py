"""Pieces of page data more than one page shows: a metric's column, a chart, a number that may be NaN."""

from __future__ import annotations

from typing import Any

from kassa.metrics.catalog import CATALOG
from kassa.report.model import Chart


def column(name: str, lang: str) -> dict[str, Any]:
    """A table column of the catalog metric ``name``: its label in ``lang``, tier and unit."""
    m = CATALOG[name]
    return {"key": name, "label": m.label(lang), "tier": m.tier.value, "unit": m.unit}


def chart_json(chart: Chart) -> dict[str, Any]:
    """A report chart as a page draws it (a Vega-Lite spec with its title and caption)."""
    return {"key": chart.key, "title": chart.title, "caption": chart.caption, "spec": chart.spec}


def no_nan(v: Any) -> Any:
    """NaN and infinity leave the dashboard as "no value" (JSON ``null``), as everywhere in kassa."""
    return None if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) else v
