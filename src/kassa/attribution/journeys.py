"""Journeys from the warehouse: every conversion's ordered touches, and the journeys that did not convert.

The touches come out in the layout of :func:`kassa.link.journeys.journey_touches` (``journey_id``,
``converted``, ``touch_order``, ``channel``, ``campaign``, ``ts``, ``conversion_ts``, ``value``), so
the builder here — kept small on purpose — can be swapped for the money-trail one without touching
:func:`paths_from_touches` or any model.

Rules (the same as the money trail's, with ``client_id`` as the customer)
--------------------------------------------------------------------------
* A conversion is a lead (``measure="leads"``, at ``created_at``; its value is the revenue of its won
  deals) or a won deal (``"sales"``/``"revenue"``, at ``closed_at``, value its amount in the business
  currency; ``"paid_revenue"``: value what the bank received for it, payments linked by ``deal_id``). The period keeps the conversions that happened in it, as the metric layer's calendar view
  counts them, so attributed totals equal ``kassa metrics`` totals.
* A conversion's touches are the client's visits at or before it, within ``lookback_days`` (default
  ``settings.lookback_days``), channel and campaign from :func:`kassa.link.stitch.visits_with_channel`.
  A visit before two conversions is on both paths, as in Google Analytics' conversion paths.
* A conversion without any visit in its window still has a path: one touch with the lead's own UTM
  channel (else ``unknown``), so no conversion drops out of attribution.
* A client's visits after their last conversion (all of them, for a visitor who never converted) within
  ``lookback_days`` before the period's end form one non-converting journey, kept when one of them is
  in the period. (Measuring the window from the period's end rather than from each client's last visit
  spares a grouping of every visit by client; it only differs at the window's far edge.)

Every transform is Ibis and compiles for PySpark (joins, group-bys, no ordered aggregation); the
lists are assembled and ordered in Polars after the long, narrow touch table is pulled.
"""

from __future__ import annotations

from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.attribution.paths import DAYS_DTYPE, PATH_DTYPE, PathTable
from kassa.errors import KassaError
from kassa.link.channels import UNKNOWN, classify
from kassa.link.stitch import NOT_SET, visits_with_channel
from kassa.period import Period
from kassa.settings import Settings

Measure = Literal["leads", "sales", "revenue", "paid_revenue"]
By = Literal["channel", "campaign"]
MEASURES: tuple[str, ...] = ("leads", "sales", "revenue", "paid_revenue")
# Inside a path a campaign touch is "channel<US>campaign"; split back into two columns for people.
CAMPAIGN_SEP = "\x1f"


def classified_visits(visits: ir.Table, settings: Settings) -> ir.Table:
    """``client_id, visit_id, ts, channel, campaign`` for every visit.

    The channel rules are one long CASE; evaluating it per visit dominates on millions of visits.
    It is evaluated once per distinct traffic source instead (source, medium, campaign, click-id
    prefix, referrer) and joined back. The click id enters the rules only through its ``prefix:``,
    so cutting it there changes no channel.
    """
    blank = ibis.literal("")
    cid = visits.click_id.fill_null("")
    keyed = visits.select(
        client_id=visits.client_id,
        visit_id=visits.visit_id,
        ts=visits.ts,
        k_source=visits.utm_source.fill_null(""),
        k_medium=visits.utm_medium.fill_null(""),
        k_campaign=visits.utm_campaign.fill_null(""),
        k_click=ibis.ifelse(cid.contains(":"), cid.split(":")[0].concat(":"), blank),
        k_referrer=visits.referrer.fill_null(""),
    )
    keys = ["k_source", "k_medium", "k_campaign", "k_click", "k_referrer"]
    sources = keyed.select(*keys).distinct()
    named = sources.select(
        *keys,
        utm_source=sources.k_source,
        utm_medium=sources.k_medium,
        utm_campaign=sources.k_campaign,
        click_id=sources.k_click,
        referrer=sources.k_referrer,
    )
    dims = visits_with_channel(named, settings).select(*keys, "channel", "campaign")
    j = keyed.join(dims, keys)
    return j.select("client_id", "visit_id", "ts", "channel", "campaign")


def _lead_channel(leads: ir.Table, settings: Settings) -> tuple[ir.StringValue, ir.StringValue]:
    """A lead's own UTM channel and campaign (``unknown`` / ``(not set)`` without UTM)."""
    has_utm = ~(
        (leads.utm_source.fill_null("").strip() == "")
        & (leads.utm_medium.fill_null("").strip() == "")
        & (leads.utm_campaign.fill_null("").strip() == "")
    )
    own = classify(settings.channel_rules, leads.utm_source, leads.utm_medium)
    campaign = leads.utm_campaign.fill_null("").strip()
    return (
        ibis.ifelse(has_utm, own, ibis.literal(UNKNOWN)),
        ibis.ifelse(has_utm & (campaign != ""), campaign, ibis.literal(NOT_SET)),
    )


def _conversions(wh: Any, st: Settings, measure: Measure) -> ir.Table:
    """``client_id, conversion_id, conversion_ts, value`` and the lead's own channel/campaign."""
    leads = wh.table("leads")
    f_channel, f_campaign = _lead_channel(leads, st)
    leads = leads.mutate(f_channel=f_channel, f_campaign=f_campaign)
    deals = wh.table("deals")
    won = deals.filter((deals.status == "won") & (deals.currency.fill_null(st.currency) == st.currency))
    if measure == "leads":
        revenue = won.group_by(r_lead=won.lead_id).aggregate(r_value=won.amount.sum())
        j = leads.left_join(revenue, leads.lead_id == revenue.r_lead)
        return j.select(
            client_id=j.client_id,
            conversion_id=j.lead_id,
            conversion_ts=j.created_at,
            value=j.r_value.fill_null(0.0).cast("float64"),
            f_channel=j.f_channel,
            f_campaign=j.f_campaign,
            f_ts=j.created_at,
        )
    if measure == "paid_revenue":
        # What reached the bank for each won deal (payments linked by deal_id, business currency).
        pay = wh.table("payments")
        pay = pay.filter(pay.deal_id.notnull() & (pay.currency.fill_null(st.currency) == st.currency))
        paid = pay.group_by(p_deal=pay.deal_id).aggregate(p_amount=pay.amount.sum())
        won = won.left_join(paid, won.deal_id == paid.p_deal)
        won = won.mutate(amount=won.p_amount.fill_null(0.0))
    ld = leads.select(l_lead=leads.lead_id, l_client=leads.client_id, l_channel=leads.f_channel,
                      l_campaign=leads.f_campaign, l_created=leads.created_at)
    j = won.left_join(ld, won.lead_id == ld.l_lead)
    return j.select(
        # A deal without a lead has no client: its own id keeps it a journey of its own.
        client_id=j.l_client.fill_null(ibis.literal("deal:").concat(j.deal_id)),
        conversion_id=j.deal_id,
        conversion_ts=j.closed_at,
        value=j.amount.cast("float64"),
        f_channel=j.l_channel.fill_null(UNKNOWN),
        f_campaign=j.l_campaign.fill_null(NOT_SET),
        f_ts=ibis.coalesce(j.l_created, j.created_at),
    )


def journey_touches(
    wh: Any,
    period: Period,
    measure: Measure = "revenue",
    *,
    lookback_days: int | None = None,
    settings: Settings | None = None,
) -> ir.Table:
    """One row per touch of every journey ending in ``period`` (lazy Ibis; see the module docstring).

    Columns: ``journey_id, converted, visit_id, channel, campaign, ts, conversion_ts, value,
    in_period``. The touch order is ``ts`` (sorted in Polars by :func:`paths_from_touches`, so the
    engine needs no window over every touch).
    """
    if measure not in MEASURES:
        raise KassaError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}")
    st = settings or wh.settings
    days = lookback_days if lookback_days is not None else st.lookback_days
    conv = _conversions(wh, st, measure)
    v = classified_visits(wh.table("visits"), st)
    vt = v.select(t_client=v.client_id, visit_id=v.visit_id, channel=v.channel, campaign=v.campaign, ts=v.ts)
    start, end = period.start_ts(), period.end_ts()
    in_period = conv.filter((conv.conversion_ts >= start) & (conv.conversion_ts < end))
    j = in_period.join(
        vt,
        [
            in_period.client_id == vt.t_client,
            vt.ts <= in_period.conversion_ts,
            vt.ts >= in_period.conversion_ts - ibis.interval(days=days),
        ],
    )
    touched = j.select(
        journey_id=ibis.literal("c:").concat(j.conversion_id),
        converted=ibis.literal(True),
        visit_id=j.visit_id,
        channel=j.channel,
        campaign=j.campaign,
        ts=j.ts,
        conversion_ts=j.conversion_ts,
        value=j.value,
    )
    bare = in_period.anti_join(j, in_period.conversion_id == j.conversion_id)
    bare_touch = bare.select(
        journey_id=ibis.literal("c:").concat(bare.conversion_id),
        converted=ibis.literal(True),
        visit_id=ibis.null("string"),
        channel=bare.f_channel,
        campaign=bare.f_campaign,
        ts=bare.f_ts,
        conversion_ts=bare.conversion_ts,
        value=bare.value,
    )
    # Non-converting: a client's visits after their last conversion, within the lookback window
    # before the period's end; paths_from_touches keeps the journeys with a touch in the period.
    last = conv.filter(conv.conversion_ts < end).group_by(l_client=conv.client_id).aggregate(l_ts=conv.conversion_ts.max())
    recent = vt.filter((vt.ts < end) & (vt.ts >= ibis.literal(end) - ibis.interval(days=days)))
    after = recent.left_join(last, recent.t_client == last.l_client)
    after = after.filter(after.l_ts.isnull() | (after.ts > after.l_ts))
    never = after.select(
        journey_id=ibis.literal("n:").concat(after.t_client),
        converted=ibis.literal(False),
        visit_id=after.visit_id,
        channel=after.channel,
        campaign=after.campaign,
        ts=after.ts,
        conversion_ts=ibis.literal(end).cast(touched.conversion_ts.type()),
        value=ibis.literal(0.0),
    )
    rows = ibis.union(touched, bare_touch, never, distinct=False)
    return rows.mutate(in_period=rows.converted | (rows.ts >= ibis.literal(start)))


def touch_rows(touches: ir.Table, by: By = "channel") -> ir.Table:
    """What the paths need from the touches, computed in the engine: ``journey_id, converted, token,
    ts, days, value, in_period`` — the campaign leaves the engine only when it is part of the touch."""
    x = touches
    token = x.channel if by == "channel" else x.channel.concat(ibis.literal(CAMPAIGN_SEP), x.campaign)
    seconds = x.conversion_ts.epoch_seconds() - x.ts.epoch_seconds()
    return x.select(
        journey_id=x.journey_id, converted=x.converted, token=token, ts=x.ts,
        days=ibis.greatest(seconds, 0) / 86400.0, value=x.value, in_period=x.in_period,
    )


def paths_from_touches(
    touches: ir.Table | pl.DataFrame,
    *,
    by: By = "channel",
    direct_channels: tuple[str, ...] = ("direct",),
    source: str = "warehouse",
) -> PathTable:
    """A path table from touches (``journey_id, converted, channel, campaign, ts, conversion_ts, value,
    in_period``): one row per journey with a touch in the period (every converting one), touches in
    time order (ties by name), with per-touch ``days_before`` (to the conversion, or to the period's end
    for a journey that did not convert) for time decay.

    With ``by="campaign"`` a touch is its (channel, campaign) pair; :func:`split_campaign` turns the
    credited names back into two columns.
    """
    if isinstance(touches, ir.Table):
        t = touch_rows(touches, by).to_polars()
    else:
        name = pl.col("channel") if by == "channel" else pl.concat_str(pl.col("channel"), pl.lit(CAMPAIGN_SEP), pl.col("campaign"))
        seconds = (pl.col("conversion_ts") - pl.col("ts")).dt.total_seconds(fractional=True)
        t = touches.select(
            "journey_id", "converted", name.alias("token"), "ts",
            (seconds / 86400.0).clip(lower_bound=0.0).alias("days"), "value", "in_period",
        )
    # Touches at the same moment are ordered by name: the path never depends on the engine's row order.
    t = t.sort("journey_id", "ts", "token", nulls_last=True)
    per = t.group_by("journey_id", maintain_order=True).agg(
        path=pl.col("token"),
        days_before=pl.col("days"),
        converted=pl.col("converted").first(),
        value=pl.col("value").first(),
        in_period=pl.col("in_period").any(),
    ).filter(pl.col("in_period"))
    frame = per.select(
        pl.col("path").cast(PATH_DTYPE),
        conversions=pl.col("converted").cast(pl.Float64),
        value=pl.when(pl.col("converted")).then(pl.col("value").fill_null(0.0)).otherwise(0.0).cast(pl.Float64),
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
    wh: Any,
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
    touches = journey_touches(wh, p, measure, lookback_days=lookback_days, settings=st)
    return paths_from_touches(touches, by=by, direct_channels=tuple(st.direct_channels), source=f"{wh.path} {p.label}")


def split_campaign(frame: pl.DataFrame, column: str = "channel") -> pl.DataFrame:
    """``channel<US>campaign`` names -> ``channel`` and ``campaign`` columns (first two)."""
    parts = pl.col(column).str.split_exact(CAMPAIGN_SEP, 1)
    return frame.with_columns(parts.struct.field("field_0").alias("channel"), parts.struct.field("field_1").alias("campaign")).select(
        "channel", "campaign", *[c for c in frame.columns if c not in (column, "channel", "campaign")]
    )
