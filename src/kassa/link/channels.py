"""The channel classifier: configurable rules over utm_source, utm_medium, click ids and referrer.

Rules come from :class:`kassa.settings.Settings.channel_rules` (first match wins). A visit whose
source matches no rule keeps its lower-cased ``utm_source`` as channel name, so an unfamiliar partner
shows up under its own name instead of disappearing into "other".
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.settings import ChannelRule

UNKNOWN = "unknown"


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
