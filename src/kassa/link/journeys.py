"""Journeys: every customer's ordered touchpoints before each conversion, and the paths that never converted.

This is the input of attribution, in two shapes:

* :func:`journey_touches` — one row per touch: ``journey_id, customer_id, conversion_id, conversion_ts,
  converted, touch_order, touch_kind, visit_id, channel, campaign, ts, value, end_ts``;
* :func:`journey_paths` — the same aggregated as the ChannelAttribution package expects it: one row per
  distinct ``path`` ("yandex_direct > direct > email") with ``conversions``, ``value`` and ``nulls``
  (journeys along that path that did not convert).

Rules
-----
* A conversion is a lead (``conversion="lead"``, at ``created_at``; value 0, or with ``value="revenue"``
  / ``"paid"`` what its won deals brought) or a sale (``"sale"``: a won deal at ``closed_at``, value its
  amount, or with ``value="paid"`` what the bank confirmed for it). ``deals`` replaces the money trail's
  deals, e.g. with amounts converted into the business currency (attribution passes the metric
  layer's conversion, so its totals equal ``kassa metrics``).
* Its touches are the customer's visits (all their cookies, :mod:`kassa.link.customers`) at or before
  the conversion, within ``lookback_days`` (default ``settings.lookback_days``). As in Google Analytics'
  conversion paths, a visit before two conversions is on both paths: a lead's path then always holds
  the visit :mod:`kassa.link.visit_lead` credited it to.
* A conversion without any visit still has a path: one touch of kind ``lead`` carrying the channel the
  lead was linked to (its own UTM, or ``unknown``), so no conversion drops out of attribution.
* A customer's visits after their last conversion (or all of them, for a visitor who never converted)
  within ``lookback_days`` of their last visit form one non-converting journey (``converted`` false).
* With a ``period`` the journeys are taken as they stood at the period's end: the conversions that
  happened in the period, and the non-converting journeys built from what was known then (visits and
  conversions before the period's end) whose last touch is in the period. A customer who converts
  next month is a non-converting journey of this month.
* ``end_ts`` is when a journey ends: its conversion, else the period's end (or, without a period, its
  last touch). Time decay measures each touch's age to it.

References: Anderl, Becker, von Wangenheim, Schumann, "Mapping the customer journey: lessons learned
from graph-based online attribution modeling", IJRM 33(3), 2016 (paths with conversions and nulls);
the ChannelAttribution R/Python package (Altomare & Loris) for the input layout.
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir

from kassa.link.channels import NOT_SET, UNKNOWN
from kassa.link.money_trail import MoneyTrail
from kassa.period import Period

Conversion = Literal["sale", "lead"]
Value = Literal["revenue", "paid"]
# What a conversion is worth when the caller does not say: a sale its revenue, a lead nothing.
DEFAULT_VALUE: dict[str, Value | None] = {"sale": "revenue", "lead": None}
MAX_TOUCHES = 20
TOUCH_COLUMNS = (
    "journey_id",
    "customer_id",
    "conversion_id",
    "conversion_ts",
    "converted",
    "touch_order",
    "touch_kind",
    "visit_id",
    "channel",
    "campaign",
    "ts",
    "value",
    "end_ts",
)


def conversions(
    money_trail: MoneyTrail,
    conversion: Conversion = "sale",
    value: Value | None = None,
    *,
    deals: ir.Table | None = None,
) -> ir.Table:
    """``customer_id, conversion_id, conversion_ts, value`` and the lead's channel (for a touchless path).

    A lead's value (``value`` given; none by default) is the sum over its won deals of their amount (``"revenue"``) or
    of what was paid for them (``"paid"``); a sale's is its own. ``deals`` defaults to ``money_trail.deal_status``.
    """
    if conversion not in ("sale", "lead"):
        raise ValueError(f"conversion must be 'sale' or 'lead', not {conversion!r}")
    deals = money_trail.deal_status if deals is None else deals
    value = value if value is not None else DEFAULT_VALUE[conversion]
    won = deals.filter(deals.status == "won")
    if conversion == "lead":
        ld = money_trail.leads
        worth: ir.FloatingValue = ibis.literal(0.0)
        if value is not None:
            amount = won.paid if value == "paid" else won.amount
            per = won.group_by(w_lead=won.lead_id).aggregate(w_value=amount.sum())
            ld = ld.left_join(per, ld.lead_id == per.w_lead)
            worth = ld.w_value.fill_null(0.0).cast("float64")
        return ld.select(
            customer_id=ld.customer_id,
            conversion_id=ld.lead_id,
            conversion_ts=ld.created_at,
            value=worth,
            f_channel=ld.channel,
            f_campaign=ld.campaign,
            f_ts=ld.created_at,
        )
    d = won
    amount = d.paid if value == "paid" else d.amount
    # The lead's customer: the one its visits carry (the payer's INN may merge deals further).
    who = d.lead_customer_id if "lead_customer_id" in d.columns else d.customer_id
    return d.select(
        customer_id=who.fill_null(ibis.literal("deal:").concat(d.deal_id)),
        conversion_id=d.deal_id,
        conversion_ts=d.closed_at,
        value=amount.cast("float64"),
        f_channel=d.channel,
        f_campaign=d.campaign,
        f_ts=ibis.coalesce(d.lead_created_at, d.created_at),
    )


def journey_touches(
    money_trail: MoneyTrail,
    conversion: Conversion = "sale",
    *,
    lookback_days: int | None = None,
    value: Value | None = None,
    period: Period | None = None,
    deals: ir.Table | None = None,
) -> ir.Table:
    """One row per touch of every journey (see the module docstring).

    ``value`` defaults to ``"revenue"`` for sales and to none (0) for leads. ``period`` keeps the
    conversions that happened in it and the non-converting journeys, as known at its end, whose last
    touch is in it. ``touch_order`` starts at 1 for the earliest touch.
    """
    days = lookback_days if lookback_days is not None else money_trail.lookback_days
    conv = conversions(
        money_trail, conversion, value if value is not None else DEFAULT_VALUE[conversion], deals=deals
    )
    v = money_trail.visits
    vt = v.select(
        t_customer=v.customer_id, visit_id=v.visit_id, channel=v.channel, campaign=v.campaign, ts=v.ts
    )
    ts_type = conv.conversion_ts.type()
    known, seen, ending = conv, vt, conv
    if period is not None:
        start, end = period.start_ts(), period.end_ts()
        ending = conv.filter((conv.conversion_ts >= start) & (conv.conversion_ts < end))
        # What was known at the period's end: a conversion of next month does not end this month's journey.
        known = conv.filter(conv.conversion_ts < end)
        seen = vt.filter(vt.ts < end)
    ending = ending.view()
    j = ending.join(
        vt,
        [
            ending.customer_id == vt.t_customer,
            vt.ts <= ending.conversion_ts,
            vt.ts >= ending.conversion_ts - ibis.interval(days=days),
        ],
    )
    touched = j.select(
        journey_id=j.conversion_id,
        customer_id=j.customer_id,
        conversion_id=j.conversion_id,
        conversion_ts=j.conversion_ts,
        converted=ibis.literal(True),
        touch_kind=ibis.literal("visit"),
        visit_id=j.visit_id,
        channel=j.channel,
        campaign=j.campaign,
        ts=j.ts,
        value=j.value,
        end_ts=j.conversion_ts,
    )
    bare = ending.anti_join(touched, ending.conversion_id == touched.conversion_id)
    lead_only = bare.select(
        journey_id=bare.conversion_id,
        customer_id=bare.customer_id,
        conversion_id=bare.conversion_id,
        conversion_ts=bare.conversion_ts,
        converted=ibis.literal(True),
        touch_kind=ibis.literal("lead"),
        visit_id=ibis.null("string"),
        channel=bare.f_channel.fill_null(UNKNOWN),
        campaign=bare.f_campaign.fill_null(NOT_SET),
        ts=bare.f_ts,
        value=bare.value,
        end_ts=bare.conversion_ts,
    )
    last = known.group_by(l_customer=known.customer_id).aggregate(l_ts=known.conversion_ts.max())
    after = seen.left_join(last, seen.t_customer == last.l_customer)
    after = after.filter(after.l_ts.isnull() | (after.ts > after.l_ts))
    after = after.mutate(last_ts=after.ts.max().over(group_by=after.t_customer))
    after = after.filter(after.ts >= after.last_ts - ibis.interval(days=days))
    if period is not None:
        after = after.filter(after.last_ts >= start)
        null_end = ibis.literal(end).cast(ts_type)
    else:
        null_end = after.last_ts.cast(ts_type)
    never = after.select(
        journey_id=ibis.literal("null:").concat(after.t_customer),
        customer_id=after.t_customer,
        conversion_id=ibis.null("string"),
        conversion_ts=ibis.null(ts_type),
        converted=ibis.literal(False),
        touch_kind=ibis.literal("visit"),
        visit_id=after.visit_id,
        channel=after.channel,
        campaign=after.campaign,
        ts=after.ts,
        value=ibis.literal(0.0),
        end_ts=null_end,
    )
    rows = ibis.union(touched, lead_only, never, distinct=False)
    order = ibis.row_number().over(group_by=rows.journey_id, order_by=[rows.ts, rows.visit_id]) + 1
    return rows.mutate(touch_order=order).select(*TOUCH_COLUMNS)


def journey_paths(
    touches: ir.Table, *, max_touches: int = MAX_TOUCHES, collapse_repeats: bool = False
) -> ir.Table:
    """Journeys aggregated into ChannelAttribution's input: ``path, conversions, value, nulls``.

    ``path`` joins the channels of a journey's touches, earliest first, with " > ". Only the last
    ``max_touches`` touches are kept (the path then starts with "…"), because a path is built with one
    column per position (no ordered aggregation, so it also compiles for Spark). With
    ``collapse_repeats`` consecutive touches of the same channel count once ("a > a > b" → "a > b").
    """
    t = touches
    if collapse_repeats:
        prev = t.channel.lag().over(group_by=t.journey_id, order_by=t.touch_order)
        t = t.filter(prev.isnull() | (prev != t.channel))
        t = t.mutate(touch_order=ibis.row_number().over(group_by=t.journey_id, order_by=t.touch_order) + 1)
    n = t.touch_order.max().over(group_by=t.journey_id)
    t = t.mutate(from_end=n - t.touch_order + 1, n=n)
    t = t.filter(t.from_end <= max_touches)
    slots = {
        f"c{k}": ibis.ifelse(t.from_end == k, t.channel, ibis.null("string")).max()
        for k in range(1, max_touches + 1)
    }
    per = t.group_by("journey_id").aggregate(
        converted=t.converted.cast("int64").max(), value=t.value.max(), n=t.n.max(), **slots
    )
    head = ibis.ifelse(per.n > max_touches, ibis.literal("…"), ibis.null("string"))
    path = ibis.literal(" > ").join([head, *[per[f"c{k}"] for k in range(max_touches, 0, -1)]])
    per = per.mutate(path=path)
    return per.group_by("path").aggregate(
        conversions=per.converted.sum(),
        value=ibis.ifelse(per.converted == 1, per.value, 0.0).sum(),
        nulls=(1 - per.converted).sum(),
    )
