"""The month-end report as data: sections of tables, charts and plain-words lines, built from the warehouse.

:func:`build_report` is the only place that reads the warehouse (through :func:`kassa.metrics.compute`);
renderers (:mod:`kassa.report.html`, :mod:`kassa.report.xlsx`, later the dashboard) get a
:class:`ReportData` and know nothing about SQL. Every human-readable string in it is already in the
report's language; every number is kept raw (renderers format it by its unit), so a spreadsheet gets
numbers and a web page gets ``1 000 ₽`` from the same object.

A section is an ordered list of blocks (:class:`Lines`, :class:`Table`, :class:`Chart`, :class:`Cards`),
so a new section — diagnosis findings, KPI scorecards — plugs in as one more :class:`Section` without
touching the renderers. :func:`findings_section` and :func:`scorecards_section` are those two plugs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from kassa.diagnose import Diagnosis
from kassa.diagnose import run as run_diagnosis
from kassa.diagnose.text import noise_note, responsible_label, stage_label
from kassa.i18n import Translator, check_lang, fmt_change, fmt_percent, fmt_value
from kassa.kpi import Contract, Scorecard
from kassa.kpi import score as score_contract
from kassa.kpi.scoring import tier_label
from kassa.metrics.catalog import CATALOG, Tier
from kassa.metrics.compute import MetricTable, View, compute, months_between
from kassa.names import channel_name
from kassa.period import Period, add_months
from kassa.report import charts
from kassa.report.terminal import MONEY_TRAIL
from kassa.schema import KINDS

_ = Translator("report")

# "row": the values of the column differ in unit (a scorecard's targets); each row names its own in ``unit``.
Unit = Literal["money", "count", "ratio", "percent", "text", "row"]
Tone = Literal["good", "bad", "warning", "neutral"]

# The money trail of a channel, left to right: the same columns as the terminal summary.
FUNNEL_COLUMNS = MONEY_TRAIL
ACTIVITY_COLUMNS = ("cost", "activity_cost", "impressions", "reach", "clicks", "ctr", "cpc", "cpm", "posts")
TREND_MONTHS = 12
TREND_CHANNELS = 6  # per-channel trend charts: the channels with most revenue, then cost


@dataclass(frozen=True)
class Column:
    """A table column: ``unit`` tells renderers how to format; ``tier`` (None for labels) how to badge it."""

    key: str
    label: str
    unit: Unit
    tier: str | None = None
    explain: str = ""

    @classmethod
    def metric(cls, name: str, lang: str) -> Column:
        m = CATALOG[name]
        return cls(name, m.label(lang), m.unit, m.tier.value, m.explain(lang))

    @classmethod
    def text(cls, key: str, label: str) -> Column:
        return cls(key, label, "text")

    def unit_in(self, row: dict[str, Any]) -> str:
        """The unit of this column's value in ``row``: the column's, or for a ``row`` column the row's ``unit``."""
        return str(row.get("unit") or "count") if self.unit == "row" else self.unit


@dataclass
class Table:
    """Rows of raw values (numbers stay numbers), a total row if it means something, and a sheet name."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    note: str = ""
    sheet: str = ""  # spreadsheet tab (≤ 31 characters); defaults to the title

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


@dataclass
class Chart:
    """A Vega-Lite spec from :mod:`kassa.report.charts` with the words around it."""

    key: str
    title: str
    spec: dict[str, Any]
    caption: str = ""


@dataclass(frozen=True)
class Line:
    """One sentence in plain words: a headline line, a finding, a note."""

    text: str
    tone: Tone = "neutral"
    detail: str = ""


@dataclass
class Lines:
    key: str
    items: list[Line]
    style: Literal["headline", "findings", "notes"] = "notes"


@dataclass
class Card:
    """A small titled table with a verdict, drawn next to its siblings (a KPI contract's scorecard)."""

    title: str
    table: Table
    subtitle: str = ""
    verdict: Line | None = None
    notes: list[Line] = field(default_factory=list)
    # One row of the comparison table above the cards: contract, weight per tier, score, bonus.
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cards:
    key: str
    cards: list[Card]


Block = Lines | Table | Chart | Cards


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""
    badge: str = ""  # e.g. "activity — not money": shown next to the title, and never omitted for activity

    def tables(self) -> list[Table]:
        out: list[Table] = []
        for b in self.blocks:
            if isinstance(b, Table):
                out.append(b)
            elif isinstance(b, Cards):
                out.extend(c.table for c in b.cards)
        return out

    def charts(self) -> list[Chart]:
        return [b for b in self.blocks if isinstance(b, Chart)]


@dataclass
class ReportData:
    """Everything a renderer needs; nothing it would have to look up."""

    title: str
    lang: str
    currency: str
    period: Period
    view: View
    facts: list[tuple[str, str]]  # the header: (label, value), already in words
    sections: list[Section]
    generated_at: dt.datetime
    warnings: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # fixed words of the page (badges, "Total")

    def section(self, key: str) -> Section:
        try:
            return next(s for s in self.sections if s.key == key)
        except StopIteration:
            raise KeyError(
                f"no section {key!r}; sections: {', '.join(s.key for s in self.sections)}"
            ) from None

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables()]

    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts()]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (the HTML page's twin): blocks tagged with their ``type``."""

        def block(b: Block) -> dict[str, Any]:
            kind = {Lines: "lines", Table: "table", Chart: "chart", Cards: "cards"}[type(b)]
            return {"type": kind, **_jsonable(dataclasses.asdict(b))}

        return {
            "title": self.title,
            "lang": self.lang,
            "currency": self.currency,
            "period": self.period.label,
            "view": self.view,
            "facts": [list(f) for f in self.facts],
            "generated_at": self.generated_at.isoformat(),
            "warnings": self.warnings,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "intro": s.intro,
                    "badge": s.badge,
                    "blocks": [block(b) for b in s.blocks],
                }
                for s in self.sections
            ],
        }

    def add(self, section: Section | None, *, before: str | None = None) -> None:
        """Add a section (``None`` is ignored), before the section ``before`` if it exists."""
        if section is None:
            return
        keys = [s.key for s in self.sections]
        self.sections.insert(keys.index(before) if before in keys else len(self.sections), section)


def _jsonable(v: Any) -> Any:
    """NaN and infinity never leave kassa as numbers: they are "no value" (``null``)."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


# -- building ------------------------------------------------------------------------------------------


def _page_labels(lang: str) -> dict[str, str]:
    return {
        "total": _("Total", lang),
        "summary": _("Summary", lang),
        "activity_badge": _("activity — not money", lang),
        "activity": _("activity", lang),
        "intermediate": _("intermediate", lang),
        "outcome": _("outcome", lang),
        "generated": _("Generated by kassa on {date}", lang),
        "no_js": _("Charts need JavaScript; the tables below hold the same numbers.", lang),
        "contents": _("Contents", lang),
        "warnings": _("Warnings", lang),
        "no_rows": _("No data for this period.", lang),
    }


def _sort_channels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channels by revenue, then cost, highest first: the report reads top-down from where the money is."""
    return sorted(
        rows, key=lambda r: (-(r.get("revenue") or 0.0), -(r.get("marketing_cost") or 0.0), str(r["channel"]))
    )


def _latest_data(wh: Any, lang: str) -> str:
    """The last date present in each canonical table, so a half-loaded month is visible in the header."""
    # Literal calls, so the catalog test sees every word that needs a translation.
    words = {
        "spend": _("spend", lang),
        "activities": _("activities", lang),
        "visits": _("visits", lang),
        "leads": _("leads", lang),
        "deals": _("deals", lang),
        "payments": _("payments", lang),
        "fx_rates": _("exchange rates", lang),
    }
    parts = []
    for kind in KINDS.values():
        t = wh.table(kind.name)
        latest = t[kind.date_column].max().to_pyarrow().as_py()
        if latest is not None:
            day = latest.date() if isinstance(latest, dt.datetime) else latest
            parts.append(f"{words.get(kind.name, kind.name)} {day:%Y-%m-%d}")
    return " · ".join(parts) if parts else _("no data loaded", lang)


def _view_words(view: View, settle_days: int | None, lang: str) -> str:
    if view == "cohort":
        text = _("cohort: what the period's leads became, whenever it happened", lang)
        if settle_days is not None:
            text += " " + _("(within {days} days of the lead)", lang, days=settle_days)
        return text
    return _("calendar: everything that happened in the period", lang)


def trend_period(period: Period, months: int = TREND_MONTHS) -> Period:
    """The months shown in the money-vs-activity chart: ``months`` up to the period's end (or the whole period)."""
    last_day = period.end - dt.timedelta(days=1)  # the end is exclusive
    end = add_months(dt.date(last_day.year, last_day.month, 1), 1)
    return Period(min(add_months(end, -months), dt.date(period.start.year, period.start.month, 1)), end)


def _company_months(frame: pl.DataFrame) -> pl.DataFrame:
    """Channel × month rows summed to months (every monthly measure is additive across channels)."""
    if frame.height == 0:
        return pl.DataFrame(schema={"month": pl.String, **{n: pl.Float64 for n in MONTHLY_MEASURES}})
    return frame.group_by("month").agg([pl.col(n).sum() for n in MONTHLY_MEASURES]).sort("month")


def _monthly_rows(
    frame: pl.DataFrame, window: Period, names: Sequence[str], keys: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every month of the window for every group (zeros where nothing happened), months before the first
    month with any data dropped, so a warehouse with three months of history is not drawn over twelve."""
    months = months_between(window.start, add_months(window.end, -1))
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in frame.iter_rows(named=True):
        found[tuple(str(r[k]) for k in (*keys, "month"))] = r
    groups = sorted({key[:-1] for key in found}) if keys else [()]
    active = [m for m in months if any(found.get((*g, m), {}).get(n) for g in groups for n in names)]
    shown = months[months.index(active[0]) :] if active else []
    out: list[dict[str, Any]] = []
    for g in groups:
        for m in shown:
            r = found.get((*g, m), {})
            out.append({**dict(zip(keys, g, strict=True)), "month": m, **{n: r.get(n) or 0 for n in names}})
    return out


# A channel "leaks" when its share of the marketing cost exceeds its share of revenue by this much.
LEAK_GAP = 0.10
# Activity counts as "up" from +10 % on the previous period; money as "flat or down" below +2 %.
ACTIVITY_UP = 0.10
MONEY_FLAT = 0.02
HEADLINE_ACTIVITY = ("clicks", "impressions", "reach", "posts")
HEADLINE_MONEY = ("qualified_leads", "revenue")
# Measures read month by month: the trend lines and what the headline compares with the previous period.
MONTHLY_MEASURES = tuple(dict.fromkeys((*charts.TREND_METRICS, *HEADLINE_ACTIVITY, *HEADLINE_MONEY)))


def change(current: Any, previous: Any) -> float | None:
    """Relative change ``current / previous − 1``; ``None`` when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return float(current) / float(previous) - 1.0


def _share(part: Any, whole: Any) -> float | None:
    return None if not whole or part is None else float(part) / float(whole)


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
    money = lambda v: fmt_value(v, "money", lang, currency)  # noqa: E731
    out: list[Line] = []
    rev_change = change(cur.get("revenue"), prev.get("revenue"))
    vs = (
        " ("
        + _("{change} vs {period}", lang, change=fmt_change(rev_change, lang), period=previous_period.label)
        + ")"
        if rev_change is not None
        else ""
    )
    out.append(
        Line(
            _(
                "Revenue {revenue}{vs}, payments received {payments}, marketing cost {cost}, ROMI {romi}.",
                lang,
                revenue=money(cur.get("revenue")),
                vs=vs,
                payments=money(cur.get("payments")),
                cost=money(cur.get("marketing_cost")),
                romi=fmt_value(cur.get("romi"), "ratio", lang, currency),
            ),
            tone="neutral" if not rev_change else ("good" if rev_change > 0 else "bad"),
        )
    )
    rows = current.frame.to_dicts()
    total_rev, total_cost = cur.get("revenue") or 0.0, cur.get("marketing_cost") or 0.0
    top_channel = None
    if rows and total_rev > 0:
        top = max(rows, key=lambda r: (r.get("revenue") or 0.0, -(r.get("marketing_cost") or 0.0)))
        rev_share = _share(top.get("revenue"), total_rev) or 0.0
        cost_share = _share(top.get("marketing_cost"), total_cost) or 0.0
        out.append(
            Line(
                _(
                    "{channel} earns {revenue_share} of revenue on {cost_share} of the marketing cost.",
                    lang,
                    channel=channel_name(top["channel"], lang),
                    revenue_share=fmt_percent(rev_share, lang, 0),
                    cost_share=fmt_percent(cost_share, lang, 0),
                ),
                tone="good" if rev_share >= cost_share else "neutral",
            )
        )
        top_channel = top["channel"]
    if rows and total_cost > 0:

        def gap(r: dict[str, Any]) -> float:
            return (_share(r.get("marketing_cost"), total_cost) or 0.0) - (
                _share(r.get("revenue"), total_rev) or 0.0
            )

        leak = max(rows, key=gap)
        # When the top earner is also the leak, line 2 already gave both shares: line 3 would repeat them
        # (the top earner's line then turns from "good" to "neutral", as its cost share is the larger).
        if gap(leak) >= LEAK_GAP and not (top_channel is not None and leak["channel"] == top_channel):
            out.append(
                Line(
                    _(
                        "{channel} takes {cost_share} of the marketing cost and brings {revenue_share} of revenue.",
                        lang,
                        channel=channel_name(leak["channel"], lang),
                        cost_share=fmt_percent(_share(leak.get("marketing_cost"), total_cost), lang, 0),
                        revenue_share=fmt_percent(_share(leak.get("revenue"), total_rev) or 0.0, lang, 0),
                    ),
                    tone="bad",
                )
            )
    ups = [
        (n, c)
        for n in HEADLINE_ACTIVITY
        if (c := change(cur.get(n), prev.get(n))) is not None and c >= ACTIVITY_UP
    ]
    flat = [
        (n, c)
        for n in HEADLINE_MONEY
        if (c := change(cur.get(n), prev.get(n))) is not None and c < MONEY_FLAT
    ]
    if ups and flat:
        moved = lambda pairs: ", ".join(f"{CATALOG[n].label(lang)} {fmt_change(c, lang)}" for n, c in pairs)  # noqa: E731
        out.append(
            Line(
                _(
                    "Activity up ({activity}) while money did not follow ({money}) — compared with {period}.",
                    lang,
                    activity=moved(ups),
                    money=moved(flat),
                    period=previous_period.label,
                ),
                tone="warning",
            )
        )
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


def funnel_section(by_channel: MetricTable, lang: str, currency: str) -> Section:
    rows = _sort_channels(by_channel.frame.to_dicts())
    cols = [Column.text("channel", _("Channel", lang))] + [Column.metric(n, lang) for n in FUNNEL_COLUMNS]
    table = Table(
        "funnel",
        _("Money trail per channel", lang),
        cols,
        [{k: r.get(k) for k in ["channel", *FUNNEL_COLUMNS]} for r in rows],
        total={k: by_channel.total.get(k) for k in FUNNEL_COLUMNS} if by_channel.total else None,
        note=_(
            "CPL = marketing cost / leads; CAC = marketing cost / sales; "
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
    rows = _sort_channels(by_channel.frame.to_dicts())
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


def activity_section(by_channel: MetricTable, lang: str) -> Section:
    rows = _sort_channels(by_channel.frame.to_dicts())
    present = [n for n in ACTIVITY_COLUMNS if any(r.get(n) for r in rows)]
    cols = [Column.text("channel", _("Channel", lang))] + [Column.metric(n, lang) for n in present]
    table = Table(
        "activity",
        _("Activity per channel", lang),
        cols,
        [{k: r.get(k) for k in ["channel", *present]} for r in rows],
        total={k: by_channel.total.get(k) for k in present} if by_channel.total else None,
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
    tiers = _page_labels(lang)
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


def _diagnosis_intro(diagnosis: Diagnosis, lang: str) -> str:
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


def scorecard_card(card: Scorecard, lang: str) -> Card:
    """A scored KPI contract as a card: plan vs fact per KPI, the score, what it pays and for what.

    The subtitle says what the contract pays for — the weight on each tier — because a contract that puts
    its weight on activity can pay in full while revenue falls; the verdict is ``bad`` exactly then (a bonus
    paid with half or more of the weight on activity).
    """
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
    table = Table(
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
    weights: dict[str, float] = {}
    for r in card.rows:
        weights[r.tier] = weights.get(r.tier, 0.0) + r.weight
    pays_for = ", ".join(
        f"{tier_label(t, lang)} {fmt_percent(w, lang, 0)}"
        for t, w in sorted(weights.items(), key=lambda kv: -kv[1])
    )
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
        Line(
            verdict_text,
            "bad" if pays_activity else "neutral",
            card.bonus_explanation[lang] if card.bonus_explanation else "",
        ),
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
        labels = _page_labels(lang)
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


def build_report(
    wh: Any,
    period: Period | str,
    lang: str = "en",
    *,
    view: View = "calendar",
    settle_days: int | None = None,
    title: str | None = None,
    trend_months: int = TREND_MONTHS,
    diagnosis: bool = True,
    contracts: Sequence[Contract] = (),
    findings: Sequence[Line] | None = None,
    scorecards: Sequence[Card] | None = None,
    generated_at: dt.datetime | None = None,
    only: Collection[str] | None = None,
) -> ReportData:
    """Build the month-end report of ``period`` from an open warehouse.

    Parameters
    ----------
    wh : Warehouse
        Open (read-only is enough); its settings give currency and VAT treatment.
    period : Period or ``YYYY-MM`` text
    lang : ``en`` or ``ru``
    view : ``calendar`` or ``cohort`` (see :func:`kassa.metrics.compute.compute`)
    trend_months : how many months up to the period the money-vs-activity chart covers
    diagnosis : run :func:`kassa.diagnose.run` against the previous period and show its findings
    contracts : KPI contracts to score on the period (:func:`kassa.kpi.score`), shown side by side
    findings, scorecards : ready-made lines and cards instead of (``findings``) or besides (``scorecards``)
        the ones computed here
    generated_at : the timestamp printed in the footer (tests fix it)
    only : build only these sections besides the headline (``money_vs_activity``, ``funnel``,
        ``spend_vs_revenue``, ``activity``) and only the company's trend chart: the dashboard's overview
        needs the headline and one chart, not the whole report

    Returns
    -------
    ReportData
    """
    check_lang(lang)
    p = Period.parse(period) if isinstance(period, str) else period
    st = wh.settings
    currency = st.currency
    by_channel = compute(wh, None, "channel", p, view=view, settle_days=settle_days)
    window = trend_period(p, trend_months)
    # One query for every monthly number: channel × month over the trend window. The company's months and
    # the previous period's totals are sums of it, as every measure used here is additive across channels.
    by_channel_month = compute(
        wh,
        list(MONTHLY_MEASURES),
        ["channel", "month"],
        window,
        view=view,
        settle_days=settle_days,
        with_total=False,
    )
    company = _company_months(by_channel_month.frame)
    monthly = _monthly_rows(company, window, charts.TREND_METRICS)
    prev = p.previous()
    prev_months = [f"{d:%Y-%m}" for d in prev.month_starts()]
    prev_table: MetricTable | None = None
    if prev.is_whole_months and window.start <= prev.start:
        chosen = company.filter(pl.col("month").is_in(prev_months))
        previous = {n: chosen[n].sum() for n in MONTHLY_MEASURES}
    else:  # a long period or a range of days: its previous period lies outside the window
        prev_table = compute(
            wh, list(MONTHLY_MEASURES), None, prev, view=view, settle_days=settle_days, with_total=False
        )
        previous = prev_table.frame.to_dicts()[0] if prev_table.frame.height else {}
    top = [str(r["channel"]) for r in _sort_channels(by_channel.frame.to_dicts())][:TREND_CHANNELS]
    per_channel = _monthly_rows(
        by_channel_month.frame.filter(pl.col("channel").is_in(top)),
        window,
        charts.TREND_METRICS,
        ("channel",),
    )
    # Facets in the channel order of the funnel table, not alphabetically.
    per_channel.sort(key=lambda r: top.index(r["channel"]))

    facts = [
        (_("Period", lang), p.label),
        (_("View", lang), _view_words(view, settle_days, lang)),
        (_("Currency", lang), currency),
        (_("Costs", lang), _("including VAT", lang) if st.costs_include_vat else _("net of VAT", lang)),
        (_("Warehouse", lang), wh.path.name),
        (_("Latest data", lang), _latest_data(wh, lang)),
    ]
    intro = ""
    diag_warnings: list[str] = []
    if findings is None and diagnosis:
        diag = run_diagnosis(wh, p, lang=lang)
        findings, intro, diag_warnings = (
            finding_lines(diag, lang),
            _diagnosis_intro(diag, lang),
            diag.warnings,
        )

    def wanted(key: str) -> bool:
        return only is None or key in only

    sections = [
        headline_section(by_channel, previous, prev, lang, currency, findings or ()),
        funnel_section(by_channel, lang, currency) if wanted("funnel") else None,
        spend_vs_revenue_section(by_channel, lang, currency) if wanted("spend_vs_revenue") else None,
        money_vs_activity_section(
            monthly, window, lang, currency, per_channel if len(top) > 1 and only is None else None
        )
        if wanted("money_vs_activity")
        else None,
        activity_section(by_channel, lang) if wanted("activity") else None,
    ]
    data = ReportData(
        title=title or _("Where is the money? {name}", lang, name=wh.path.stem),
        lang=lang,
        currency=currency,
        period=p,
        view=view,
        facts=facts,
        sections=[x for x in sections if x is not None],
        generated_at=generated_at or dt.datetime.now().replace(microsecond=0),
        warnings=list(
            dict.fromkeys(
                by_channel.warnings
                + by_channel_month.warnings
                + (prev_table.warnings if prev_table else [])
                + diag_warnings
            )
        ),
        labels=_page_labels(lang),
    )
    if (
        only is not None
    ):  # a part of the report (the dashboard's overview): no findings list, cards, definitions
        return data
    data.add(findings_section(findings or [], lang, intro), before="funnel")
    cards = list(scorecards or []) + [scorecard_card(score_contract(wh, c, p), lang) for c in contracts]
    data.add(scorecards_section(cards, lang), before="activity")
    shown = [c.key for t in data.tables() for c in t.columns if c.key in CATALOG]
    data.add(definitions_section(shown, lang))
    return data


__all__ = [
    "headline_section",
    "Block",
    "Card",
    "Cards",
    "Chart",
    "Column",
    "Line",
    "Lines",
    "ReportData",
    "Section",
    "Table",
    "build_report",
    "findings_section",
    "scorecards_section",
]
