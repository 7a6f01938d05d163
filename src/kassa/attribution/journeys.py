"""Journeys for attribution: a thin adapter over the money trail's :mod:`kassa.link.journeys`.

There is one definition of a journey in kassa — :func:`kassa.link.journeys.journey_touches`, read on the
stitching the metrics memoised on the open warehouse (:func:`kassa.metrics.compute.base_tables`), so a
customer's cookies and devices are merged by their contacts exactly as in ``kassa money`` and
``kassa metrics``. This module only chooses what a conversion is for each ``measure`` and turns the
touches into a :class:`~kassa.attribution.paths.PathTable`:

* ``leads``: a lead of the period (at ``created_at``), valued at the revenue of its won deals;
* ``sales`` / ``revenue``: a won deal closed in the period, valued at its amount;
* ``paid_revenue``: the same deals valued at what the bank confirmed for them (``paid``).

Deal amounts are converted into the business currency by the metric layer's own rule
(:func:`kassa.metrics.compute.in_business_currency`; deals in a currency without a rate for their
month are left out there and here), so every model's totals equal ``kassa metrics`` for the period.
The journeys are those of the period as they stood at its end (docs/linking.md, "Journeys"): a
non-converting journey's touches are aged to the period's end for time decay.

Every transform is Ibis and compiles for PySpark; the lists are assembled and ordered in Polars after
the long, narrow touch table is pulled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.attribution.paths import DAYS_DTYPE, PATH_DTYPE, PathTable
from kassa.errors import KassaError
from kassa.link import journeys as link_journeys
from kassa.metrics.compute import base_tables, in_business_currency
from kassa.period import Period
from kassa.settings import Settings

if TYPE_CHECKING:
    from kassa.store import Warehouse

Measure = Literal["leads", "sales", "revenue", "paid_revenue"]
By = Literal["channel", "campaign"]
MEASURES: tuple[str, ...] = ("leads", "sales", "revenue", "paid_revenue")
# Inside a path a campaign touch is "channel<US>campaign"; split back into two columns for people.
CAMPAIGN_SEP = "\x1f"
# measure -> (what converts, what it is worth) in kassa.link.journeys' terms
_CONVERSION: dict[str, tuple[link_journeys.Conversion, link_journeys.Value]] = {
    "leads": ("lead", "revenue"),
    "sales": ("sale", "revenue"),
    "revenue": ("sale", "revenue"),
    "paid_revenue": ("sale", "paid"),
}


def journey_touches(
    wh: Warehouse,
    period: Period,
    measure: Measure = "revenue",
    *,
    lookback_days: int | None = None,
    settings: Settings | None = None,
) -> ir.Table:
    """One row per touch of every journey of ``period`` (lazy Ibis; see the module docstring).

    Columns: ``journey_id, converted, visit_id, channel, campaign, ts, conversion_ts, value`` where
    ``conversion_ts`` is the journey's end (:func:`kassa.link.journeys.journey_touches`' ``end_ts``).
    """
    if measure not in MEASURES:
        raise KassaError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}")
    st = settings or wh.settings
    chain = base_tables(wh, st).chain
    deals, _ = in_business_currency(
        chain.deal_status, ["amount", "paid"], chain.deal_status.closed_at, wh.table("fx_rates"), st.currency
    )
    conversion, value = _CONVERSION[measure]
    t = link_journeys.journey_touches(
        chain, conversion, lookback_days=lookback_days, value=value, period=period, deals=deals
    )
    return t.select(
        journey_id=t.journey_id,
        converted=t.converted,
        visit_id=t.visit_id,
        channel=t.channel,
        campaign=t.campaign,
        ts=t.ts,
        conversion_ts=t.end_ts,
        value=t.value,
    )


def touch_rows(touches: ir.Table, by: By = "channel") -> ir.Table:
    """What the paths need from the touches, computed in the engine: ``journey_id, converted, token,
    ts, days, value`` — the campaign leaves the engine only when it is part of the touch."""
    x = touches
    token = x.channel if by == "channel" else x.channel.concat(ibis.literal(CAMPAIGN_SEP), x.campaign)
    seconds = x.conversion_ts.epoch_seconds() - x.ts.epoch_seconds()
    return x.select(
        journey_id=x.journey_id,
        converted=x.converted,
        token=token,
        ts=x.ts,
        days=ibis.greatest(seconds, 0) / 86400.0,
        value=x.value,
    )


def paths_from_touches(
    touches: ir.Table | pl.DataFrame,
    *,
    by: By = "channel",
    direct_channels: tuple[str, ...] = ("direct",),
    source: str = "warehouse",
) -> PathTable:
    """A path table from touches (``journey_id, converted, channel, campaign, ts, conversion_ts, value``,
    ``conversion_ts`` being the journey's end): one row per journey, touches in time order (ties by
    name), with per-touch ``days_before`` (to the conversion, or to the period's end for a journey that
    did not convert) for time decay.

    With ``by="campaign"`` a touch is its (channel, campaign) pair; :func:`split_campaign` turns the
    credited names back into two columns.
    """
    if isinstance(touches, ir.Table):
        t = touch_rows(touches, by).to_polars()
    else:
        name = (
            pl.col("channel")
            if by == "channel"
            else pl.concat_str(pl.col("channel"), pl.lit(CAMPAIGN_SEP), pl.col("campaign"))
        )
        seconds = (pl.col("conversion_ts") - pl.col("ts")).dt.total_seconds(fractional=True)
        t = touches.select(
            "journey_id",
            "converted",
            name.alias("token"),
            "ts",
            (seconds / 86400.0).clip(lower_bound=0.0).alias("days"),
            "value",
        )
    # Touches at the same moment are ordered by name: the path never depends on the engine's row order.
    t = t.sort("journey_id", "ts", "token", nulls_last=True)
    per = t.group_by("journey_id", maintain_order=True).agg(
        path=pl.col("token"),
        days_before=pl.col("days"),
        converted=pl.col("converted").first(),
        value=pl.col("value").first(),
    )
    frame = per.select(
        pl.col("path").cast(PATH_DTYPE),
        conversions=pl.col("converted").cast(pl.Float64),
        value=pl.when(pl.col("converted"))
        .then(pl.col("value").fill_null(0.0))
        .otherwise(0.0)
        .cast(pl.Float64),
        nulls=(~pl.col("converted")).cast(pl.Float64),
        days_before=pl.col("days_before").cast(DAYS_DTYPE),
    )
    if by == "channel":
        direct = tuple(direct_channels)
    else:
        tokens = t.get_column("token").unique().to_list()
        direct = tuple(x for x in tokens if x.split(CAMPAIGN_SEP, 1)[0] in direct_channels)
    return PathTable.from_frame(frame, source=source, has_value=True, has_nulls=True, direct=direct)


def warehouse_paths(
    wh: Warehouse,
    period: Period | str,
    measure: Measure = "revenue",
    *,
    by: By = "channel",
    lookback_days: int | None = None,
    settings: Settings | None = None,
) -> PathTable:
    """The journeys ending in ``period`` as a path table (see the module docstring)."""
    p = Period.parse(period) if isinstance(period, str) else period
    st = settings or wh.settings
    if by not in ("channel", "campaign"):
        raise KassaError(f"cannot attribute by {by!r}; use channel or campaign")

    def build() -> PathTable:
        touches = journey_touches(wh, p, measure, lookback_days=lookback_days, settings=st)
        return paths_from_touches(
            touches, by=by, direct_channels=tuple(st.direct_channels), source=f"{wh.path} {p.label}"
        )

    # Kept while the warehouse is open and unchanged (the memo is forgotten on every write): every model
    # of a period reads the same journeys, so the second model, or a switch of model on the dashboard,
    # does not build them again.
    key = ("attribution.paths", p, measure, by, lookback_days, st.model_dump_json())
    paths: PathTable = wh.memo(key, build)
    return paths


def split_campaign(frame: pl.DataFrame, column: str = "channel") -> pl.DataFrame:
    """``channel<US>campaign`` names -> ``channel`` and ``campaign`` columns (first two)."""
    parts = pl.col(column).str.split_exact(CAMPAIGN_SEP, 1)
    return frame.with_columns(
        parts.struct.field("field_0").alias("channel"), parts.struct.field("field_1").alias("campaign")
    ).select("channel", "campaign", *[c for c in frame.columns if c not in (column, "channel", "campaign")])
