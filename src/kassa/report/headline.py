"""The report's headline: "where the money is" in up to four plain sentences, each recomputable from the tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kassa.i18n import Translator, fmt_change, fmt_percent
from kassa.metrics import relative_change
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import MetricTable
from kassa.names import channel_name
from kassa.period import Period
from kassa.report.blocks import Line, Lines, Section
from kassa.report.terminal import ESTIMATE, fmt_metric

_ = Translator("report")

# A channel "leaks" when its share of the marketing cost exceeds its share of revenue by this much.
LEAK_GAP = 0.10
# Activity counts as "up" from +10 % on the previous period; money as "flat or down" below +2 %.
ACTIVITY_UP = 0.10
MONEY_FLAT = 0.02
HEADLINE_ACTIVITY = ("clicks", "impressions", "reach", "posts")
HEADLINE_MONEY = ("qualified_leads", "revenue")


def _share(part: Any, whole: Any) -> float | None:
    return None if not whole or part is None else float(part) / float(whole)


def _revenue_line(
    current: MetricTable, prev: dict[str, Any], previous_period: Period, lang: str, currency: str
) -> Line:
    """Line 1: the period's revenue (and its change on the previous period), payments, cost, ROMI, each
    marked as the tables mark it ("≈" for a share of a whole-period report, "≥" for amounts without a
    rate): a sentence must not state exactly what a table below says is an estimate."""
    cur = current.total
    shown = lambda name: fmt_metric(current, name, lang, currency)  # noqa: E731
    rev_change = relative_change(prev.get("revenue"), cur.get("revenue"))
    vs = (
        " ("
        + _("{change} vs {period}", lang, change=fmt_change(rev_change, lang), period=previous_period.label)
        + ")"
        if rev_change is not None
        else ""
    )
    return Line(
        _(
            "Revenue {revenue}{vs}, payments received {payments}, marketing cost {cost}, ROMI {romi}.",
            lang,
            revenue=shown("revenue"),
            vs=vs,
            payments=shown("payments"),
            cost=shown("marketing_cost"),
            romi=shown("romi"),
        ),
        tone="neutral" if not rev_change else ("good" if rev_change > 0 else "bad"),
    )


def _cost_share(current: MetricTable, row: dict[str, Any], total_cost: float, lang: str) -> str:
    """A channel's share of the marketing cost, "≈" when its cost or the total is an estimate."""
    text = fmt_percent(_share(row.get("marketing_cost"), total_cost) or 0.0, lang, 0)
    guessed = "marketing_cost" in current.estimated(row) | current.estimated()
    return f"{ESTIMATE} {text}" if guessed else text


def _top_earner_line(
    current: MetricTable, top: dict[str, Any], total_rev: float, total_cost: float, lang: str
) -> Line:
    """Line 2: the channel that earns most, its share of revenue next to its share of marketing cost."""
    rev_share = _share(top.get("revenue"), total_rev) or 0.0
    cost_share = _share(top.get("marketing_cost"), total_cost) or 0.0
    return Line(
        _(
            "{channel} earns {revenue_share} of revenue on {cost_share} of the marketing cost.",
            lang,
            channel=channel_name(top["channel"], lang),
            revenue_share=fmt_percent(rev_share, lang, 0),
            cost_share=_cost_share(current, top, total_cost, lang),
        ),
        tone="good" if rev_share >= cost_share else "neutral",
    )


def _leak_line(
    current: MetricTable,
    rows: list[dict[str, Any]],
    total_rev: float,
    total_cost: float,
    top_channel: Any,
    lang: str,
) -> Line | None:
    """Line 3: the channel whose share of cost exceeds its share of revenue most, by at least
    :data:`LEAK_GAP`; none when that is the top earner of line 2."""

    def gap(r: dict[str, Any]) -> float:
        return (_share(r.get("marketing_cost"), total_cost) or 0.0) - (
            _share(r.get("revenue"), total_rev) or 0.0
        )

    leak = max(rows, key=gap)
    # When the top earner is also the leak, line 2 already gave both shares: line 3 would repeat them
    # (the top earner's line then turns from "good" to "neutral", as its cost share is the larger).
    if not (gap(leak) >= LEAK_GAP and not (top_channel is not None and leak["channel"] == top_channel)):
        return None
    return Line(
        _(
            "{channel} takes {cost_share} of the marketing cost and brings {revenue_share} of revenue.",
            lang,
            channel=channel_name(leak["channel"], lang),
            cost_share=_cost_share(current, leak, total_cost, lang),
            revenue_share=fmt_percent(_share(leak.get("revenue"), total_rev) or 0.0, lang, 0),
        ),
        tone="bad",
    )


def _activity_illusion_line(
    cur: dict[str, Any], prev: dict[str, Any], previous_period: Period, lang: str
) -> Line | None:
    """Line 4: activity up (≥ :data:`ACTIVITY_UP`) while qualified leads or revenue stayed flat or fell
    (< :data:`MONEY_FLAT`): the activity illusion of the article, for the whole company."""
    ups = [
        (n, c)
        for n in HEADLINE_ACTIVITY
        if (c := relative_change(prev.get(n), cur.get(n))) is not None and c >= ACTIVITY_UP
    ]
    flat = [
        (n, c)
        for n in HEADLINE_MONEY
        if (c := relative_change(prev.get(n), cur.get(n))) is not None and c < MONEY_FLAT
    ]
    if not (ups and flat):
        return None
    moved = lambda pairs: ", ".join(f"{CATALOG[n].label(lang)} {fmt_change(c, lang)}" for n, c in pairs)  # noqa: E731
    return Line(
        _(
            "Activity up ({activity}) while money did not follow ({money}) — compared with {period}.",
            lang,
            activity=moved(ups),
            money=moved(flat),
            period=previous_period.label,
        ),
        tone="warning",
    )


def headline_lines(
    current: MetricTable, previous: dict[str, Any], previous_period: Period, lang: str, currency: str
) -> list[Line]:
    """ "Where the money is" in up to four plain sentences, each recomputable from the tables.

    1. the period's revenue (and its change on the previous period), payments, marketing cost, ROMI;
    2. the channel that earns most: its share of revenue next to its share of marketing cost (``good`` when
       the first is the larger);
    3. the channel whose share of cost exceeds its share of revenue most (by at least :data:`LEAK_GAP`),
       unless it is the channel of line 2 (whose shares line 2 already gives);
    4. activity up (≥ +10 %) while qualified leads or revenue stayed flat or fell (< +2 %): the activity
       illusion of the article, for the whole company.
    """
    cur, prev = current.total, previous
    out = [_revenue_line(current, prev, previous_period, lang, currency)]
    rows = current.frame.to_dicts()
    total_rev, total_cost = cur.get("revenue") or 0.0, cur.get("marketing_cost") or 0.0
    top_channel = None
    if rows and total_rev > 0:
        top = max(rows, key=lambda r: (r.get("revenue") or 0.0, -(r.get("marketing_cost") or 0.0)))
        out.append(_top_earner_line(current, top, total_rev, total_cost, lang))
        top_channel = top["channel"]
    if (
        rows
        and total_cost > 0
        and (leak := _leak_line(current, rows, total_rev, total_cost, top_channel, lang))
    ):
        out.append(leak)
    if illusion := _activity_illusion_line(cur, prev, previous_period, lang):
        out.append(illusion)
    return out


def headline_section(
    current: MetricTable,
    previous: dict[str, Any],
    previous_period: Period,
    lang: str,
    currency: str,
    findings: Sequence[Line] = (),
) -> Section:
    """The headline, plus the first two problems the diagnosis found (the rest are in their own section)."""
    lines = headline_lines(current, previous, previous_period, lang, currency)
    lines += [f for f in findings if f.tone == "bad"][:2]
    return Section("headline", _("Where the money is", lang), [Lines("headline", lines, "headline")])
