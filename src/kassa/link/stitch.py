"""Credit every visit, lead, deal and payment to a channel and campaign (Ibis expressions, lazy).

Rules (docs/metrics.md, "Which channel a lead belongs to"):

* a visit's channel comes from the channel rules; its campaign is ``utm_campaign``;
* a lead's channel and campaign are its own UTM fields, as CRMs store them; a lead without any UTM
  field takes the last non-direct visit of its client at or before the lead, within the lookback
  window; with only direct visits it is ``direct``; with no visit at all it is ``unknown``
  (never silently ``direct``);
* a deal belongs to its lead's channel and campaign; a payment to its deal's (``unknown`` without one).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.channels import UNKNOWN, classify, source_medium
from kassa.settings import Settings

NOT_SET = "(not set)"


def _blank(e: ir.StringValue) -> ir.BooleanValue:
    return e.fill_null("").strip() == ""


def visits_with_channel(visits: ir.Table, settings: Settings) -> ir.Table:
    return visits.mutate(
        channel=classify(settings.channel_rules, visits.utm_source, visits.utm_medium, visits.click_id, visits.referrer),
        campaign=ibis.ifelse(_blank(visits.utm_campaign), ibis.literal(NOT_SET), visits.utm_campaign.strip()),
        source_medium=source_medium(visits.utm_source, visits.utm_medium),
    )


def leads_with_channel(leads: ir.Table, visits: ir.Table, settings: Settings, lookback_days: int = 90) -> ir.Table:
    """Leads with ``channel``, ``campaign``, ``source_medium`` and ``touch`` (how the channel was found)."""
    has_utm = ~(_blank(leads.utm_source) & _blank(leads.utm_medium) & _blank(leads.utm_campaign))
    v = visits_with_channel(visits, settings)
    direct = [c for c in settings.direct_channels]
    candidates = leads.filter(~has_utm & leads.client_id.notnull()).select("lead_id", "client_id", "created_at")
    touches = v.select(v_client=v.client_id, v_ts=v.ts, v_channel=v.channel, v_campaign=v.campaign, v_sm=v.source_medium)
    joined = candidates.join(
        touches,
        [
            candidates.client_id == touches.v_client,
            touches.v_ts <= candidates.created_at,
            touches.v_ts >= candidates.created_at - ibis.interval(days=lookback_days),
        ],
    )
    # Rank non-direct touches first, then the latest; the first row per lead is its last marketing touch.
    ranked = joined.mutate(
        is_direct=joined.v_channel.isin(direct),
        rn=ibis.row_number().over(
            group_by=joined.lead_id,
            order_by=[joined.v_channel.isin(direct).cast("int8"), ibis.desc(joined.v_ts), ibis.desc(joined.v_channel)],
        ),
    )
    last_touch = ranked.filter(ranked.rn == 0).select(
        t_lead=ranked.lead_id,
        t_channel=ranked.v_channel,
        t_campaign=ranked.v_campaign,
        t_sm=ranked.v_sm,
        t_direct=ranked.is_direct,
    )
    own_channel = classify(settings.channel_rules, leads.utm_source, leads.utm_medium)
    j = leads.mutate(
        own_channel=own_channel,
        own_campaign=ibis.ifelse(_blank(leads.utm_campaign), ibis.literal(NOT_SET), leads.utm_campaign.strip()),
        own_sm=source_medium(leads.utm_source, leads.utm_medium),
        has_utm=has_utm,
    ).left_join(last_touch, ibis._.lead_id == last_touch.t_lead)
    return j.select(
        *[c for c in leads.columns],
        channel=ibis.cases(
            (j.has_utm, j.own_channel),
            (j.t_channel.notnull(), j.t_channel),
            else_=ibis.literal(UNKNOWN),
        ),
        campaign=ibis.cases((j.has_utm, j.own_campaign), (j.t_campaign.notnull(), j.t_campaign), else_=ibis.literal(NOT_SET)),
        source_medium=ibis.cases((j.has_utm, j.own_sm), (j.t_sm.notnull(), j.t_sm), else_=ibis.literal(NOT_SET)),
        touch=ibis.cases(
            (j.has_utm, ibis.literal("lead_utm")),
            (j.t_direct == ibis.literal(False), ibis.literal("last_visit")),
            (j.t_direct == ibis.literal(True), ibis.literal("direct_visit")),
            else_=ibis.literal("none"),
        ),
    )


def deals_with_channel(deals: ir.Table, leads: ir.Table) -> ir.Table:
    """Deals with their lead's channel, campaign, source/medium, manager and creation time."""
    l = leads.select(
        l_lead=leads.lead_id,
        channel=leads.channel,
        campaign=leads.campaign,
        source_medium=leads.source_medium,
        manager=leads.manager,
        lead_created_at=leads.created_at,
    )
    j = deals.left_join(l, deals.lead_id == l.l_lead)
    return j.select(
        *deals.columns,
        channel=j.channel.fill_null(UNKNOWN),
        campaign=j.campaign.fill_null(NOT_SET),
        source_medium=j.source_medium.fill_null(NOT_SET),
        manager=j.manager,
        lead_created_at=j.lead_created_at,
    )


def payments_with_channel(payments: ir.Table, deals: ir.Table) -> ir.Table:
    d = deals.select(
        d_deal=deals.deal_id,
        channel=deals.channel,
        campaign=deals.campaign,
        source_medium=deals.source_medium,
        manager=deals.manager,
        lead_created_at=deals.lead_created_at,
    )
    j = payments.left_join(d, payments.deal_id == d.d_deal)
    return j.select(
        *payments.columns,
        channel=j.channel.fill_null(UNKNOWN),
        campaign=j.campaign.fill_null(NOT_SET),
        source_medium=j.source_medium.fill_null(NOT_SET),
        manager=j.manager,
        lead_created_at=j.lead_created_at,
    )


def campaign_source_medium(visits: ir.Table) -> ir.Table:
    """The most common source/medium of each (channel, campaign) in visits: how spend maps to source/medium."""
    counts = visits.group_by(["channel", "campaign", "source_medium"]).aggregate(n=ibis._.count())
    ranked = counts.mutate(
        rn=ibis.row_number().over(group_by=[counts.channel, counts.campaign], order_by=[ibis.desc(counts.n), counts.source_medium])
    )
    return ranked.filter(ranked.rn == 0).select(sm_channel=ranked.channel, sm_campaign=ranked.campaign, sm=ranked.source_medium)
