"""The report's sections after the headline: each a function from numbers already computed to a :class:`Section`.

The money trail per channel (:func:`funnel_section`), money against activity month by month
(:func:`money_vs_activity_section`), spend against revenue (:func:`spend_vs_revenue_section`), the activity
(:func:`activity_section`) and the definitions of every metric shown (:func:`definitions_section`); and
the two plugs of later layers: the diagnosis findings (:func:`findings_section`) and the scored KPI
contracts (:func:`scorecards_section`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kassa.diagnose import Diagnosis
from kassa.diagnose.text import noise_note, responsible_label, stage_label
from kassa.i18n import Translator, fmt_percent, fmt_value
from kassa.kpi import Scorecard
from kassa.kpi.plan_saved import SavedPlan
from kassa.kpi.scoring import tier_label
from kassa.metrics.catalog import CATALOG, Tier
from kassa.metrics.compute import MetricTable
from kassa.names import channel_name
from kassa.period import Period, add_months
from kassa.report import charts
from kassa.report.blocks import (
    Block,
    Card,
    Cards,
    Chart,
    Column,
    Line,
    Lines,
    Section,
    Table,
    metric_row,
    page_labels,
)
from kassa.report.terminal import MONEY_TRAIL

_ = Translator("report")

# The money trail of a channel, left to right: the same columns as the terminal summary.
FUNNEL_COLUMNS = MONEY_TRAIL
ACTIVITY_COLUMNS = ("cost", "activity_cost", "impressions", "reach", "clicks", "ctr", "cpc", "cpm", "posts")


def sort_channels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channels by revenue, then cost, highest first: the report reads top-down from where the money is."""
    return sorted(
        rows, key=lambda r: (-(r.get("revenue") or 0.0), -(r.get("marketing_cost") or 0.0), str(r["channel"]))
    )


def funnel_section(by_channel: MetricTable, lang: str, currency: str) -> Section:
    rows = sort_channels(by_channel.frame.to_dicts())
    cols = [Column.text("channel", _("Channel", lang))] + [Column.metric(n, lang) for n in FUNNEL_COLUMNS]
    table = Table(
        "funnel",
        _("Money trail per channel", lang),
        cols,
        [metric_row(by_channel, r, ["channel", *FUNNEL_COLUMNS]) for r in rows],
        total=metric_row(by_channel, None, list(FUNNEL_COLUMNS)) if by_channel.total else None,
        note=_(
            "CPL = marketing cost / leads; cost per sale = marketing cost / sales; "
            "ROMI = (revenue or gross profit − marketing cost) / marketing cost.",
            lang,
        ),
        sheet=_("Funnel", lang),
    )
    blocks: list[Block] = [table]
    if rows:
        blocks.append(
            Chart(
                "funnel",
                _("Funnel per channel", lang),
                charts.funnel_chart(rows, lang=lang, currency=currency),
                _(
                    "Each bar is labelled with its count and, in brackets, its share of the stage above it.",
                    lang,
                ),
            )
        )
    return Section(
        "funnel",
        _("The funnel: from spend to money, per channel", lang),
        blocks,
        intro=_(
            "Each channel followed from marketing cost to visits, leads, qualified leads, sales, revenue and "
            "payments received.",
            lang,
        ),
    )


def money_vs_activity_section(
    monthly: list[dict[str, Any]],
    window: Period,
    lang: str,
    currency: str,
    per_channel: list[dict[str, Any]] | None = None,
) -> Section:
    present = [n for n in charts.TREND_METRICS if any(r.get(n) for r in monthly)]
    cols = [Column.text("month", _("Month", lang))] + [Column.metric(n, lang) for n in present]
    table = Table(
        "money_vs_activity",
        _("Money and activity by month", lang),
        cols,
        [{k: r.get(k) for k in ["month", *present]} for r in monthly],
        sheet=_("By month", lang),
    )
    blocks: list[Block] = []
    if monthly:
        blocks.append(
            Chart(
                "money_vs_activity",
                _("Money vs activity", lang),
                charts.money_vs_activity_chart(monthly, present, lang=lang, currency=currency),
                _(
                    "Index = the month's value / the value of the first month with any × 100. Solid lines are money and "
                    "qualified leads; dashed grey lines are activity. Activity rising while money stays flat is the "
                    "activity illusion.",
                    lang,
                ),
            )
        )
    if per_channel:
        blocks.append(
            Chart(
                "money_vs_activity_by_channel",
                _("Money vs activity per channel", lang),
                charts.money_vs_activity_chart(
                    per_channel, present, lang=lang, currency=currency, by_channel=True
                ),
                _(
                    "The same index for each channel, so a channel whose clicks grow while its money does not stands out.",
                    lang,
                ),
            )
        )
    blocks.append(table)
    return Section(
        "money_vs_activity",
        _("Money vs activity over months", lang),
        blocks,
        intro=_(
            "{first} to {last}: did more activity bring more money?",
            lang,
            first=f"{window.start:%Y-%m}",
            last=f"{add_months(window.end, -1):%Y-%m}",
        ),
    )


def spend_vs_revenue_section(by_channel: MetricTable, lang: str, currency: str) -> Section:
    rows = sort_channels(by_channel.frame.to_dicts())
    blocks: list[Block] = []
    if rows:
        blocks.append(
            Chart(
                "spend_vs_revenue",
                _("Spend vs revenue", lang),
                charts.spend_vs_revenue_chart(rows, lang=lang, currency=currency),
                _("Marketing cost, revenue of the deals won and payments received, per channel.", lang),
            )
        )
    return Section("spend_vs_revenue", _("Spend vs revenue per channel", lang), blocks)


CUSTOMER_COLUMNS = (
    "new_customers",
    "repeat_customers",
    "repeat_share",
    "cost_per_sale",
    "cac",
    "ltv",
    "ltv_to_cac",
)


def customers_section(by_channel: MetricTable, lang: str, currency: str) -> Section:
    """New and repeat customers per channel, CAC next to cost per sale, LTV and LTV/CAC."""
    rows = sorted(
        by_channel.frame.to_dicts(), key=lambda r: (-(r.get("new_customers") or 0), str(r["channel"]))
    )
    present = [n for n in CUSTOMER_COLUMNS if n in by_channel.frame.columns]
    cols = [Column.text("channel", _("Channel", lang))] + [Column.metric(n, lang) for n in present]
    table = Table(
        "customers",
        _("New and repeat customers per channel", lang),
        cols,
        [metric_row(by_channel, r, ["channel", *present]) for r in rows],
        total=metric_row(by_channel, None, present) if by_channel.total else None,
        note=_(
            "CAC = marketing cost / new customers (a customer's first won deal); cost per sale counts every "
            "won deal. LTV = gross profit (revenue when a sale has no margin) per customer acquired in the "
            "period, over the customer horizon (12 months unless the settings say otherwise); ≥ while the "
            "horizon of some of them has not ended. Payback and the cohort triangle: `kassa customers` and "
            "the dashboard's Customers page.",
            lang,
        ),
        sheet=_("Customers", lang),
    )
    return Section(
        "customers",
        _("Customers: new or repeat, and what one is worth", lang),
        [table],
        intro=_(
            "A customer is acquired by the channel of their first won deal; a repeat purchase is not an "
            "acquisition, so CAC counts new customers only.",
            lang,
        ),
    )


def activity_section(by_channel: MetricTable, lang: str) -> Section:
    rows = sort_channels(by_channel.frame.to_dicts())
    present = [n for n in ACTIVITY_COLUMNS if any(r.get(n) for r in rows)]
    cols = [Column.text("channel", _("Channel", lang))] + [Column.metric(n, lang) for n in present]
    table = Table(
        "activity",
        _("Activity per channel", lang),
        cols,
        [metric_row(by_channel, r, ["channel", *present]) for r in rows],
        total=metric_row(by_channel, None, present) if by_channel.total else None,
        sheet=_("Activity", lang),
    )
    return Section(
        "activity",
        _("Activity: what was done", lang),
        [table],
        intro=_(
            "Impressions, clicks, CTR, CPC and publications say the work was done, not that it earned anything. "
            "Read them only next to the money above.",
            lang,
        ),
        badge=_("activity — not money", lang),
    )


def formula_in_words(formula: str, lang: str) -> str:
    """``marketing_cost / leads`` -> ``Marketing cost / Leads``: the formula a person can recompute."""
    words = re.sub(r"[a-z_]+", lambda m: CATALOG[m[0]].label(lang) if m[0] in CATALOG else m[0], formula)
    return words.replace(" * ", " × ").replace(" - ", " − ")


def definitions_section(metric_names: Sequence[str], lang: str) -> Section:
    """Every metric the report shows, with its formula: each number can be recomputed by hand."""
    cols = [
        Column.text(k, label)
        for k, label in (
            ("metric", _("Metric", lang)),
            ("tier", _("Kind", lang)),
            ("formula", _("Formula", lang)),
            ("meaning", _("Meaning", lang)),
        )
    ]
    tiers = page_labels(lang)
    rows = []
    for n in dict.fromkeys(metric_names):
        m = CATALOG[n]
        rows.append(
            {
                "metric": m.label(lang),
                "tier": tiers[m.tier.value],
                "formula": formula_in_words(m.formula, lang) if m.formula else _("measured", lang),
                "meaning": m.explain(lang),
            }
        )
    table = Table("definitions", _("Definitions", lang), cols, rows, sheet=_("Definitions", lang))
    return Section("definitions", _("How the numbers are computed", lang), [table])


def finding_lines(diagnosis: Diagnosis, lang: str) -> list[Line]:
    """A diagnosis in plain lines: what stands out from noise (tone ``bad``), then what could be noise."""
    out: list[Line] = [
        Line(_("No data in {period}: nothing to compare.", lang, period=label), "warning")
        for label in diagnosis.empty_periods
    ]
    for f in diagnosis.significant:
        out.append(
            Line(
                f"{f.title}: {f.message}" if f.title else f.message,
                "bad",
                _(
                    "step: {stage} · whose side: {who}",
                    lang,
                    stage=stage_label(f.stage, lang),
                    who=responsible_label(f.responsible, lang),
                ),
            )
        )
    for f in diagnosis.noise:
        text = f"{f.title}: {f.message}" if f.title else f.message
        # The diagnosis usually says "could be noise" itself; say it only where it does not.
        out.append(Line(text, "neutral", "" if noise_note(lang) in text else noise_note(lang)))
    return out


def findings_section(findings: Sequence[Line], lang: str, intro: str = "") -> Section | None:
    """The diagnosis: where the chain from spend to money breaks, one plain sentence each."""
    if not findings and not intro:
        return None
    return Section(
        "findings",
        _("Diagnosis: where the chain breaks", lang),
        [Lines("findings", list(findings), "findings")],
        intro=intro,
    )


def diagnosis_intro(diagnosis: Diagnosis, lang: str) -> str:
    text = _(
        "Compared with {vs}: {significant} finding(s) stand out from noise, {noise} more could be noise.",
        lang,
        vs=diagnosis.vs.label,
        significant=len(diagnosis.significant),
        noise=len(diagnosis.noise),
    )
    if not diagnosis.findings:
        text += " " + _("Nothing stands out: every change is within noise.", lang)
    return text


def _scorecard_table(card: Scorecard, lang: str) -> Table:
    """Plan vs fact per KPI of a scored contract, with the weight and the contribution of each."""
    c = card.contract
    cols = [
        Column.text("kpi", _("KPI", lang)),
        Column.text("tier", _("Kind", lang)),
        Column("target", _("Target", lang), "row"),
        Column("fact", _("Fact", lang), "row"),
        Column(
            "attainment",
            _("Attainment", lang),
            "percent",
            explain=_("Fact against target after the floor and the cap: what the score counts.", lang),
        ),
        Column("weight", _("Weight", lang), "percent"),
        Column("contribution", _("Contribution", lang), "percent"),
    ]
    # The uncapped attainment is in each KPI's note below the table ("fact / target = 199.8 %, capped at 100 %").
    rows = [
        {
            "kpi": r.label[lang],
            "tier": tier_label(r.tier, lang),
            "unit": r.unit,
            "target": r.target,
            "fact": r.fact,
            "attainment": r.attainment,
            "weight": r.weight,
            "contribution": r.contribution,
        }
        for r in card.rows
    ]
    total = {"weight": sum(r.weight for r in card.rows), "contribution": card.score}
    return Table(
        f"kpi_{len(c.name)}_{abs(hash(c.name)) % 10_000}",
        c.name,
        cols,
        rows,
        total=total,
        note=_(
            "Score = Σ weight × attainment; attainment counts 0 below the floor and at most the cap.", lang
        ),
        sheet=c.name,
    )


def _scorecard_verdict(card: Scorecard, weights: dict[str, float], lang: str) -> Line:
    """The score and the bonus; ``bad`` when a bonus is paid with half or more of the weight on activity."""
    money = lambda v: fmt_value(v, "money", lang, card.currency)  # noqa: E731
    if card.bonus is None:
        verdict_text = _("Score {score}", lang, score=fmt_percent(card.score, lang, 0))
    else:
        verdict_text = _(
            "Score {score}: bonus {bonus} of {base}",
            lang,
            score=fmt_percent(card.score, lang, 0),
            bonus=money(card.bonus),
            base=money(card.bonus_base),
        )
    pays_activity = weights.get(Tier.ACTIVITY.value, 0.0) >= 0.5 and bool(card.bonus)
    return Line(
        verdict_text,
        "bad" if pays_activity else "neutral",
        card.bonus_explanation[lang] if card.bonus_explanation else "",
    )


def scorecard_card(card: Scorecard, lang: str) -> Card:
    """A scored KPI contract as a card: plan vs fact per KPI, the score, what it pays and for what.

    The subtitle says what the contract pays for — the weight on each tier — because a contract that puts
    its weight on activity can pay in full while revenue falls; the verdict is ``bad`` exactly then (a bonus
    paid with half or more of the weight on activity).
    """
    c = card.contract
    table = _scorecard_table(card, lang)
    weights: dict[str, float] = {}
    for r in card.rows:
        weights[r.tier] = weights.get(r.tier, 0.0) + r.weight
    pays_for = ", ".join(
        f"{tier_label(t, lang)} {fmt_percent(w, lang, 0)}"
        for t, w in sorted(weights.items(), key=lambda kv: -kv[1])
    )
    notes = [Line(r.explain(lang)) for r in card.rows]
    if card.gate is not None:
        notes.append(Line(card.gate.explanation[lang], "neutral" if card.gate.passed else "warning"))
    notes += [Line(w.text[lang], "warning") for w in card.warnings]
    summary = {
        "contract": c.name,
        **{t.value: weights.get(t.value, 0.0) for t in Tier},
        "score": card.score,
        "bonus": card.bonus,
    }
    return Card(
        c.name,
        table,
        _("Pays for: {tiers}", lang, tiers=pays_for),
        _scorecard_verdict(card, weights, lang),
        notes,
        summary,
    )


def scorecards_section(cards: Sequence[Card], lang: str) -> Section | None:
    """KPI contracts scored on the period, side by side (an activity contract next to an outcome one)."""
    if not cards:
        return None
    blocks: list[Block] = []
    summaries = [c.summary for c in cards if c.summary]
    if summaries:
        labels = page_labels(lang)
        cols = (
            [Column.text("contract", _("Contract", lang))]
            + [
                Column(t.value, _("Weight on {tier}", lang, tier=labels[t.value]), "percent", t.value)
                for t in (Tier.ACTIVITY, Tier.INTERMEDIATE, Tier.OUTCOME)
            ]
            + [Column("score", _("Score", lang), "percent"), Column("bonus", _("Bonus", lang), "money")]
        )
        blocks.append(
            Table("contracts", _("Contracts compared", lang), cols, summaries, sheet=_("Contracts", lang))
        )
    blocks.append(Cards("scorecards", list(cards)))
    return Section(
        "scorecards",
        _("KPI contracts: what each would pay for", lang),
        blocks,
        intro=_("The same month scored by different KPI contracts.", lang),
    )


# -- plan vs fact -------------------------------------------------------------------------------------------
PLAN_FIGURES = ("revenue", "sales", "qualified_leads", "leads", "visits", "budget")


def plan_vs_fact_section(plan: SavedPlan | None, by_channel: MetricTable, lang: str) -> Section | None:
    """The month's saved plan (``kassa plan --save``) against what the month did, per channel and figure;
    None when no plan was saved for the month."""
    if plan is None:
        return None
    facts = {str(r["channel"]): r for r in by_channel.frame.to_dicts()}
    planned = {"qualified_leads": "qualified_leads", "budget": "marketing_cost"}

    def label(figure: str) -> str:
        return _("Budget", lang) if figure == "budget" else CATALOG[figure].label(lang)

    def rows_of(channel: str, parts: list[Any], fact: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for f in PLAN_FIGURES:
            values = [getattr(p, f) for p in parts if getattr(p, f) is not None]
            target = sum(values) if values else None
            done = fact.get(planned.get(f, f))
            unit = "money" if f in ("revenue", "budget") else "count"
            out.append(
                {
                    "channel": channel,
                    "figure": label(f),
                    "unit": unit,
                    "plan": target,
                    "fact": done,
                    "done": (done / target) if target and done is not None else None,
                }
            )
        return out

    rows: list[dict[str, Any]] = []
    for c in plan.channels:
        who = channel_name(c.channel, lang) if c.channel is not None else _("All channels", lang)
        rows += rows_of(
            who, [c], facts.get(str(c.channel), {}) if c.channel is not None else by_channel.total
        )
    if len(plan.channels) > 1:
        # The scope's total: a plan of some channels (an agency's) is compared with those channels only.
        mine = [r for r in facts.values() if plan.scope is None or r["channel"] in plan.scope]
        total = {
            k: sum(r.get(k) or 0 for r in mine)
            for k in ("revenue", "sales", "qualified_leads", "leads", "visits", "marketing_cost")
        }
        rows += rows_of(
            _("Total", lang), list(plan.channels), total if plan.scope is not None else by_channel.total
        )
    table = Table(
        "plan_vs_fact",
        _("Plan vs fact — {period}", lang, period=plan.period),
        [
            Column.text("channel", _("Channel", lang)),
            Column.text("figure", _("Figure", lang)),
            Column("plan", _("Plan", lang), "row"),
            Column("fact", _("Fact", lang), "row"),
            Column("done", _("Done", lang), "percent"),
        ],
        rows,
        sheet=_("Plan vs fact", lang),
    )
    intro = _(
        "The plan saved for {period}: revenue {target}, the funnel it needs from the rates of {window}, "
        "against what the month did.",
        lang,
        period=plan.period,
        target=fmt_value(plan.target, "money", lang),
        window=plan.window,
    )
    return Section("plan_vs_fact", _("Plan vs fact", lang), [table], intro=intro)
