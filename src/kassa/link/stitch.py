"""A visit's channel, campaign and source/medium, and the source/medium behind a campaign's spend.

A visit's channel comes from the channel rules (:mod:`kassa.link.channels`); its campaign is
``utm_campaign``. How leads, deals and payments inherit a channel is the money trail
(:mod:`kassa.link.chain`, docs/linking.md).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.channels import classify, source_medium
from kassa.settings import Settings

NOT_SET = "(not set)"


def _blank(e: ir.StringValue) -> ir.BooleanValue:
    return e.fill_null("").strip() == ""


def visits_with_channel(visits: ir.Table, settings: Settings) -> ir.Table:
    return visits.mutate(
        channel=classify(
            settings.channel_rules, visits.utm_source, visits.utm_medium, visits.click_id, visits.referrer
        ),
        campaign=ibis.ifelse(_blank(visits.utm_campaign), ibis.literal(NOT_SET), visits.utm_campaign.strip()),
        source_medium=source_medium(visits.utm_source, visits.utm_medium),
    )


def campaign_source_medium(visits: ir.Table) -> ir.Table:
    """The most common source/medium of each (channel, campaign) in visits: how spend maps to source/medium."""
    counts = visits.group_by(["channel", "campaign", "source_medium"]).aggregate(n=ibis._.count())
    ranked = counts.mutate(
        rn=ibis.row_number().over(
            group_by=[counts.channel, counts.campaign], order_by=[ibis.desc(counts.n), counts.source_medium]
        )
    )
    return ranked.filter(ranked.rn == 0).select(
        sm_channel=ranked.channel, sm_campaign=ranked.campaign, sm=ranked.source_medium
    )
