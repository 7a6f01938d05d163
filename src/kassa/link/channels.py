"""A visit's channel, campaign and source/medium: the channel rules over utm_source, utm_medium, click
ids and referrer, and the source/medium behind a campaign's spend.

Rules come from :class:`kassa.settings.Settings.channel_rules` (first match wins). A visit whose
source matches no rule keeps its lower-cased ``utm_source`` as channel name, so an unfamiliar partner
shows up under its own name instead of disappearing into "other". A visit's campaign is
``utm_campaign`` (``NOT_SET`` when blank). How leads, deals and payments inherit a channel is the money
trail (:mod:`kassa.link.money_trail`, docs/linking.md).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.settings import ChannelRule, Settings

UNKNOWN = "unknown"
NOT_SET = "(not set)"


def _norm(e: ir.StringValue) -> ir.StringValue:
    return e.fill_null("").strip().lower()


def _matches_any(value: ir.StringValue, options: list[str]) -> ir.BooleanValue:
    conds = []
    for opt in options:
        o = opt.strip().lower()
        if o == "*":
            conds.append(value != "")
        else:
            conds.append(value == o)
    return ibis.or_(*conds) if conds else ibis.literal(True)


def rule_condition(
    rule: ChannelRule,
    source: ir.StringValue,
    medium: ir.StringValue,
    click_id: ir.StringValue,
    referrer: ir.StringValue,
) -> ir.BooleanValue:
    conds: list[ir.BooleanValue] = []
    if rule.source is not None:
        conds.append(_matches_any(source, rule.source))
    if rule.medium is not None:
        conds.append(_matches_any(medium, rule.medium))
    if rule.click_id_prefix is not None:
        conds.append(ibis.or_(*[click_id.startswith(p.lower() + ":") for p in rule.click_id_prefix]))
    if rule.referrer_contains is not None:
        conds.append(ibis.or_(*[referrer.contains(p.lower()) for p in rule.referrer_contains]))
    return ibis.and_(*conds) if conds else ibis.literal(True)


def classify(
    rules: list[ChannelRule],
    source: ir.StringValue,
    medium: ir.StringValue,
    click_id: ir.StringValue | None = None,
    referrer: ir.StringValue | None = None,
) -> ir.StringValue:
    """Channel name for each row, as an Ibis expression (compiles to one CASE)."""
    s, m = _norm(source), _norm(medium)
    c = _norm(click_id) if click_id is not None else ibis.literal("")
    r = _norm(referrer) if referrer is not None else ibis.literal("")
    branches = [(rule_condition(rule, s, m, c, r), ibis.literal(rule.channel)) for rule in rules]
    fallback = ibis.ifelse(s != "", s, ibis.literal(UNKNOWN))
    return ibis.cases(*branches, else_=fallback) if branches else fallback


def source_medium(source: ir.StringValue, medium: ir.StringValue) -> ir.StringValue:
    """``source / medium`` as Yandex Metrica and GA show it; ``(direct) / (none)`` when both are empty."""
    s, m = _norm(source), _norm(medium)
    return ibis.ifelse(s == "", ibis.literal("(direct)"), s).concat(
        " / ", ibis.ifelse(m == "", ibis.literal("(none)"), m)
    )


def _blank(e: ir.StringValue) -> ir.BooleanValue:
    return e.fill_null("").strip() == ""


def visits_with_channel(visits: ir.Table, settings: Settings) -> ir.Table:
    """Visits with their ``channel`` (the channel rules), ``campaign`` and ``source_medium``."""
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
