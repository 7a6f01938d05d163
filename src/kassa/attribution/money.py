"""Credited leads, sales and revenue per channel under any model — and CPL, CAC, ROAS, ROMI on top.

The metric layer credits every lead, sale and ruble to one channel (the lead's own UTM, else its last
non-direct visit). Here each model shares them out instead; spend stays where the ad platform booked
it. So, for a model M and a channel k in a period:

* ``leads_k``   = leads credited to k by M (journeys ending in a lead of the period)
* ``sales_k``, ``revenue_k`` = won deals closed in the period and their amount, credited by M
* ``cpl_k = marketing_cost_k / leads_k``, ``cost_per_sale_k = marketing_cost_k / sales_k``,
  ``roas_k = revenue_k / marketing_cost_k``, ``romi_k = (revenue_k − marketing_cost_k) / marketing_cost_k``
  (on revenue: gross profit is not attributed yet), each "no value" when its divisor is 0.

Totals over channels equal the metric layer's ``leads``, ``sales`` and ``revenue`` for the period,
whatever the model. A report combines the two with :func:`attributed_money`; nothing in
``metrics/compute.py`` needs to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from kassa.attribution import attribute
from kassa.attribution.journeys import By, split_campaign, warehouse_paths
from kassa.metrics.compute import compute
from kassa.period import Period
from kassa.settings import Settings


def credited_outcomes(
    wh: Any,
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
    wh: Any,
    period: Period | str,
    model: str = "markov",
    *,
    by: By = "channel",
    params: Mapping[str, Any] | None = None,
    lookback_days: int | None = None,
    exclude_direct: bool = False,
) -> pl.DataFrame:
    """Marketing cost (as ``kassa metrics`` shows it) next to the outcomes ``model`` credits, with
    ``cpl``, ``cost_per_sale``, ``roas`` and ``romi`` per channel (or campaign)."""
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

    def per(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return pl.when(b != 0).then(a / b).otherwise(None)

    mc = pl.col("marketing_cost")
    paid = pl.when(mc != 0).then(mc)  # a channel nobody paid for has no price per lead: None, not 0
    return j.with_columns(
        cpl=per(paid, pl.col("leads")),
        cost_per_sale=per(paid, pl.col("sales")),
        roas=per(pl.col("revenue"), mc),
        romi=per(pl.col("revenue") - mc, mc),
    ).sort(keys)
