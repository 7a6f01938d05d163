"""The month-end report as data: the warehouse queried once, then a table of section builders.

:func:`build_report` is the only place that reads the warehouse (through :func:`kassa.metrics.compute`);
renderers (:mod:`kassa.report.html`, :mod:`kassa.report.xlsx`, the dashboard) get a :class:`ReportData`
and know nothing about SQL. The report is split along its seams:

* :mod:`kassa.report.blocks` — what a report is made of (:class:`ReportData`, :class:`Section`,
  :class:`Table`, :class:`Chart`, :class:`Lines`, :class:`Cards`);
* :mod:`kassa.report.headline` — "where the money is" in up to four sentences;
* :mod:`kassa.report.sections` — every other section, including the two plugs of later layers,
  :func:`findings_section` (the diagnosis) and :func:`scorecards_section` (KPI contracts);
* this module — the queries (:func:`query_numbers`) and the order of the sections (:data:`SECTIONS`).

Every name other code imports from here (the blocks, the sections, :func:`build_report`) still is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from kassa.diagnose import run as run_diagnosis
from kassa.i18n import Translator, check_lang
from kassa.kpi import Contract
from kassa.kpi import score as score_contract
from kassa.kpi.plan_saved import PlanFolder, SavedPlan
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import MetricTable, View, compute, months_between
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
    ReportData,
    Section,
    Table,
    Tone,
    Unit,
    page_labels,
)
from kassa.report.headline import (
    ACTIVITY_UP,
    HEADLINE_ACTIVITY,
    HEADLINE_MONEY,
    LEAK_GAP,
    MONEY_FLAT,
    headline_lines,
    headline_section,
)
from kassa.report.sections import (
    ACTIVITY_COLUMNS,
    FUNNEL_COLUMNS,
    activity_section,
    customers_section,
    definitions_section,
    diagnosis_intro,
    finding_lines,
    findings_section,
    formula_in_words,
    funnel_section,
    money_vs_activity_section,
    plan_vs_fact_section,
    scorecard_card,
    scorecards_section,
    sort_channels,
    spend_vs_revenue_section,
)
from kassa.schema import KINDS

if TYPE_CHECKING:
    from kassa.store import Warehouse

_ = Translator("report")

TREND_MONTHS = 12
TREND_CHANNELS = 6  # per-channel trend charts: the channels with most revenue, then cost
# Measures read month by month: the trend lines and what the headline compares with the previous period.
MONTHLY_MEASURES = tuple(dict.fromkeys((*charts.TREND_METRICS, *HEADLINE_ACTIVITY, *HEADLINE_MONEY)))


def _latest_data(wh: Warehouse, lang: str) -> str:
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


@dataclass(frozen=True)
class ReportNumbers:
    """Every number the report's sections show, queried once (:func:`query_numbers`)."""

    period: Period
    previous_period: Period
    window: Period  # the months of the trend charts
    by_channel: MetricTable  # the period per channel, with the company's total
    previous: dict[str, Any]  # the previous period's totals of MONTHLY_MEASURES
    monthly: list[dict[str, Any]]  # the company's months over the window
    per_channel_monthly: list[dict[str, Any]]  # the top channels' months; empty for a single channel
    warnings: list[str]
    plan: SavedPlan | None = None  # the month's plan saved beside the warehouse (kassa plan --save)


def _previous_totals(
    wh: Warehouse, company: pl.DataFrame, window: Period, prev: Period, view: View, settle_days: int | None
) -> tuple[dict[str, Any], MetricTable | None]:
    """The previous period's totals: summed from the company's months when the window holds them, else
    queried (a long period or a range of days has its previous period outside the window)."""
    if prev.is_whole_months and window.start <= prev.start:
        prev_months = [f"{d:%Y-%m}" for d in prev.month_starts()]
        chosen = company.filter(pl.col("month").is_in(prev_months))
        return {n: chosen[n].sum() for n in MONTHLY_MEASURES}, None
    prev_table = compute(
        wh, list(MONTHLY_MEASURES), None, prev, view=view, settle_days=settle_days, with_total=False
    )
    return (prev_table.frame.to_dicts()[0] if prev_table.frame.height else {}), prev_table


def _top_channels_monthly(
    by_channel: MetricTable, by_channel_month: pl.DataFrame, window: Period
) -> list[dict[str, Any]]:
    """The months of the :data:`TREND_CHANNELS` channels that earn most, in the funnel table's order."""
    top = [str(r["channel"]) for r in sort_channels(by_channel.frame.to_dicts())][:TREND_CHANNELS]
    per_channel = _monthly_rows(
        by_channel_month.filter(pl.col("channel").is_in(top)), window, charts.TREND_METRICS, ("channel",)
    )
    # Facets in the channel order of the funnel table, not alphabetically.
    per_channel.sort(key=lambda r: top.index(r["channel"]))
    return per_channel if len(top) > 1 else []


def query_numbers(
    wh: Warehouse, p: Period, *, view: View, settle_days: int | None, trend_months: int = TREND_MONTHS
) -> ReportNumbers:
    """Query the warehouse for the report of ``p``: the period per channel and channel × month over the
    trend window (plus the previous period when the window does not hold it)."""
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
    prev = p.previous()
    previous, prev_table = _previous_totals(wh, company, window, prev, view, settle_days)
    return ReportNumbers(
        period=p,
        previous_period=prev,
        window=window,
        by_channel=by_channel,
        previous=previous,
        monthly=_monthly_rows(company, window, charts.TREND_METRICS),
        per_channel_monthly=_top_channels_monthly(by_channel, by_channel_month.frame, window),
        warnings=by_channel.warnings
        + by_channel_month.warnings
        + (prev_table.warnings if prev_table else []),
        plan=PlanFolder.for_db(wh.path).read(p),
    )


SectionBuilder = Callable[[ReportNumbers, str, str], Section | None]  # None: nothing to show
# The sections after the headline, in reading order: key → how it is built from the numbers, the language
# and the currency. ``build_report(only=...)`` picks among these keys.
SECTIONS: dict[str, SectionBuilder] = {
    "funnel": lambda n, lang, currency: funnel_section(n.by_channel, lang, currency),
    "spend_vs_revenue": lambda n, lang, currency: spend_vs_revenue_section(n.by_channel, lang, currency),
    "money_vs_activity": lambda n, lang, currency: money_vs_activity_section(
        n.monthly, n.window, lang, currency, n.per_channel_monthly
    ),
    "plan_vs_fact": lambda n, lang, currency: plan_vs_fact_section(n.plan, n.by_channel, lang),
    "customers": lambda n, lang, currency: customers_section(n.by_channel, lang, currency),
    "activity": lambda n, lang, currency: activity_section(n.by_channel, lang),
}


def _facts(wh: Warehouse, p: Period, view: View, settle_days: int | None, lang: str) -> list[tuple[str, str]]:
    """The report's header: what was measured, how, and how fresh the data are."""
    st = wh.settings
    return [
        (_("Period", lang), p.label),
        (_("View", lang), _view_words(view, settle_days, lang)),
        (_("Currency", lang), st.currency),
        (_("Costs", lang), _("including VAT", lang) if st.costs_include_vat else _("net of VAT", lang)),
        (_("Warehouse", lang), wh.path.name),
        (_("Latest data", lang), _latest_data(wh, lang)),
    ]


def build_report(
    wh: Warehouse,
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
    only : build only these sections besides the headline (keys of :data:`SECTIONS`: ``funnel``,
        ``spend_vs_revenue``, ``money_vs_activity``, ``activity``) and only the company's trend chart:
        the dashboard's overview needs the headline and one chart, not the whole report

    Returns
    -------
    ReportData
    """
    check_lang(lang)
    p = Period.parse(period) if isinstance(period, str) else period
    currency = wh.settings.currency
    numbers = query_numbers(wh, p, view=view, settle_days=settle_days, trend_months=trend_months)
    facts = _facts(wh, p, view, settle_days, lang)
    intro = ""
    diag_warnings: list[str] = []
    if findings is None and diagnosis:
        diag = run_diagnosis(wh, p, lang=lang)
        findings, intro, diag_warnings = finding_lines(diag, lang), diagnosis_intro(diag, lang), diag.warnings
    if only is not None:  # the dashboard's overview: the company's trend chart only
        numbers = dataclasses.replace(numbers, per_channel_monthly=[])
    headline = headline_section(
        numbers.by_channel, numbers.previous, numbers.previous_period, lang, currency, findings or ()
    )
    data = ReportData(
        title=title or _("Where is the money? {name}", lang, name=wh.path.stem),
        lang=lang,
        currency=currency,
        period=p,
        view=view,
        facts=facts,
        sections=[headline]
        + [
            section
            for key, build in SECTIONS.items()
            if (only is None or key in only) and (section := build(numbers, lang, currency)) is not None
        ],
        generated_at=generated_at or dt.datetime.now().replace(microsecond=0),
        warnings=list(dict.fromkeys(numbers.warnings + diag_warnings)),
        labels=page_labels(lang),
    )
    if only is not None:  # a part of the report (the dashboard's overview): no findings, cards, definitions
        return data
    data.add(findings_section(findings or [], lang, intro), before="funnel")
    cards = list(scorecards or []) + [scorecard_card(score_contract(wh, c, p), lang) for c in contracts]
    data.add(scorecards_section(cards, lang), before="activity")
    shown = [c.key for t in data.tables() for c in t.columns if c.key in CATALOG]
    data.add(definitions_section(shown, lang))
    return data


__all__ = [
    "ACTIVITY_COLUMNS",
    "ACTIVITY_UP",
    "FUNNEL_COLUMNS",
    "HEADLINE_ACTIVITY",
    "HEADLINE_MONEY",
    "LEAK_GAP",
    "MONEY_FLAT",
    "MONTHLY_MEASURES",
    "SECTIONS",
    "TREND_CHANNELS",
    "TREND_MONTHS",
    "Block",
    "Card",
    "Cards",
    "Chart",
    "Column",
    "Line",
    "Lines",
    "ReportData",
    "ReportNumbers",
    "Section",
    "Table",
    "Tone",
    "Unit",
    "activity_section",
    "build_report",
    "definitions_section",
    "finding_lines",
    "findings_section",
    "formula_in_words",
    "funnel_section",
    "headline_lines",
    "headline_section",
    "money_vs_activity_section",
    "query_numbers",
    "scorecard_card",
    "scorecards_section",
    "spend_vs_revenue_section",
    "trend_period",
]
