"""Credited leads, sales and revenue per channel under any model — and CPL, CAC, ROAS, ROMI on top.

The metric layer credits every lead, sale and ruble to one channel (the lead's own UTM, else its last
non-direct visit). Here each model shares them out instead; spend stays where the ad platform booked
it. So, for a model M and a channel k in a period:

* ``leads_k``   = leads credited to k by M (journeys ending in a lead of the period)
* ``sales_k``, ``revenue_k`` = won deals closed in the period and their amount, credited by M
* ``cpl``, ``cost_per_sale``, ``roas`` and ``romi`` per channel by the catalog's own formulas
  (:mod:`kassa.metrics.catalog`) over these columns, each "no value" when its divisor is 0. Gross profit
  is not attributed yet, so no credited sale has a margin and ROMI is on revenue, as the catalog's
  ``romi_base`` says for sales without margin data.

Totals over channels equal the metric layer's ``leads``, ``sales`` and ``revenue`` for the period,
whatever the model. A report combines the two with :func:`attributed_money`; nothing in
``metrics/compute.py`` needs to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from kassa.attribution import attribute
from kassa.attribution.journeys import By, split_campaign, warehouse_paths
from kassa.metrics.catalog import derived
from kassa.metrics.compute import compute
from kassa.metrics.formula import POLARS
from kassa.period import Period
from kassa.settings import Settings

if TYPE_CHECKING:
    from kassa.store import Warehouse

MONEY_METRICS = ["cpl", "cost_per_sale", "roas", "romi"]


def credited_outcomes(
    wh: Warehouse,
    period: Period | str,
    model: str = "markov",
    *,
    by: By = "channel",
    params: Mapping[str, Any] | None = None,
    lookback_days: int | None = None,
    exclude_direct: bool = False,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """``channel`` (and ``campaign``), ``leads``, ``sales``, ``revenue`` credited by ``model``."""
    p = Period.parse(period) if isinstance(period, str) else period
    kw: dict[str, Any] = {"by": by, "lookback_days": lookback_days, "settings": settings}
    lead_paths = warehouse_paths(wh, p, "leads", **kw)
    sale_paths = warehouse_paths(wh, p, "sales", **kw)
    leads = attribute(lead_paths, model, params=params, exclude_direct=exclude_direct)[model].credits
    sales = attribute(sale_paths, model, params=params, exclude_direct=exclude_direct)[model].credits
    out = (
        leads.select("channel", leads="conversions")
        .join(
            sales.select("channel", sales="conversions", revenue="value"),
            on="channel",
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("leads", "sales", "revenue").fill_null(0.0))
        .sort("channel")
    )
    return split_campaign(out) if by == "campaign" else out


def attributed_money(
    wh: Warehouse,
    period: Period | str,
    model: str = "markov",
    *,
    by: By = "channel",
    params: Mapping[str, Any] | None = None,
    lookback_days: int | None = None,
    exclude_direct: bool = False,
) -> pl.DataFrame:
    """Marketing cost (as ``kassa metrics`` shows it) next to the outcomes ``model`` credits, with
    ``cpl``, ``cost_per_sale``, ``roas`` and ``romi`` per channel (or campaign) by the catalog's formulas."""
    keys = ["channel"] if by == "channel" else ["channel", "campaign"]
    credited = credited_outcomes(
        wh, period, model, by=by, params=params, lookback_days=lookback_days, exclude_direct=exclude_direct
    )
    cost = compute(wh, ["marketing_cost"], keys, period, with_total=False).frame.select(
        *keys, "marketing_cost"
    )
    j = cost.join(credited, on=keys, how="full", coalesce=True).with_columns(
        pl.col("marketing_cost", "leads", "sales", "revenue").fill_null(0.0)
    )

    attributed = {
        "marketing_cost": pl.col("marketing_cost"),
        "leads": pl.col("leads"),
        "sales": pl.col("sales"),
        "revenue": pl.col("revenue"),
        # Not attributed: every credited sale is one without margin data.
        "gross_profit": pl.lit(None, dtype=pl.Float64),
        "margin_missing": pl.col("sales"),
    }
    values = derived(MONEY_METRICS, attributed, POLARS)
    return j.with_columns(**{n: values[n] for n in MONEY_METRICS}).sort(keys)
