"""Chart specs shared by the month-end report and the dashboard: plain data in, Vega-Lite dict out.

Every builder is pure: it takes rows (dicts of already computed metric values), a language and a
currency, and returns a Vega-Lite v6 specification as a JSON-ready ``dict`` built with Altair. No
warehouse, no SQL, no rendering here, so the report (inline Vega JS, or SVG/PNG through
``vl-convert``) and the web dashboard draw the very same spec.

Numbers inside a chart follow the reader's language twice over: the spec carries a d3 number locale
(``config.locale``) for axes, and every mark has a ``text`` field formatted by :mod:`kassa.i18n`, so a
tooltip or bar label shows exactly the string the report's tables show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

from kassa.i18n import Translator, fmt_number, fmt_value, locale_of
from kassa.metrics.catalog import CATALOG, Tier

_ = Translator("report")

Row = Mapping[str, Any]

# Funnel stages counted in people and deals (money is drawn apart, in spend_vs_revenue).
FUNNEL_STAGES = ("visits", "leads", "qualified_leads", "sales")
# Money next to activity over months: outcome and intermediate first, then the activity they are compared to.
TREND_METRICS = ("revenue", "qualified_leads", "clicks", "impressions", "reach", "posts")
SPEND_REVENUE = ("marketing_cost", "revenue", "payments")

# Money is drawn in strong colours, activity in greys: the eye should land on money first.
_COLOURS = {
    "revenue": "#1a7f37",
    "payments": "#0b4f2a",
    "sales": "#2f9e44",
    "qualified_leads": "#1f5fa8",
    "leads": "#74a9e0",
    "marketing_cost": "#c2410c",
    "clicks": "#6b7280",
    "impressions": "#9ca3af",
    "reach": "#b8bec8",
    "posts": "#4b5563",
}
_STAGE_COLOURS = ("#9ec5ee", "#5b9bd5", "#1f5fa8", "#1a7f37")
_WIDTH = 520


def number_locale(lang: str, currency: str) -> dict[str, Any]:
    """The d3-format locale of ``lang`` with the currency symbol kassa's tables use.

    Written into ``config.locale`` so axes read ``1 000 000 ₽`` in Russian and ``RUB 1,000,000`` in English
    whoever renders the spec (browser, vl-convert).
    """
    loc = locale_of(lang)
    symbol = get_currency_symbol(currency, loc)
    return {
        "decimal": get_decimal_symbol(loc),
        "thousands": get_group_symbol(loc),
        "grouping": [3],
        "currency": ["", "\u00a0" + symbol] if lang == "ru" else [symbol + "\u00a0", ""],
    }


def _config(chart: alt.TopLevelMixin, lang: str, currency: str) -> dict[str, Any]:
    configured = chart.configure(
        locale={"number": number_locale(lang, currency)},
        font="system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
        view={"stroke": None},
        axis={"labelColor": "#374151", "titleColor": "#374151", "gridColor": "#eef0f3"},
        legend={"orient": "bottom", "labelLimit": 260, "columns": 3, "columnPadding": 24},
    )
    spec: dict[str, Any] = configured.to_dict()
    return spec


def _metric_label(name: str, lang: str) -> str:
    return CATALOG[name].label(lang)


def _series_label(name: str, lang: str) -> str:
    """Legend text; activity says so in the legend itself, not only in a colour."""
    label = _metric_label(name, lang)
    if CATALOG[name].tier == Tier.ACTIVITY:
        return _("{metric} (activity)", lang, metric=label)
    return label


def _num(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    return float(v)


def funnel_chart(rows: Sequence[Row], *, lang: str = "en", currency: str = "RUB") -> dict[str, Any]:
    """Visits → leads → qualified leads → sales, one small bar chart per channel.

    ``rows``: one dict per channel with ``channel`` and the counts of :data:`FUNNEL_STAGES`. The x axis is
    symmetric-log because visits outnumber sales by two or three orders of magnitude and a linear axis would
    hide the sales bar; each bar is labelled with its count and the share of the stage before it
    (``leads / visits``, ``qualified_leads / leads``, ``sales / qualified_leads``), so nobody has to read a
    log axis.
    """
    data: list[dict[str, Any]] = []
    for r in rows:
        previous: float | None = None
        for stage in FUNNEL_STAGES:
            value = _num(r.get(stage)) or 0.0
            text = fmt_number(value, lang)
            if previous is not None:
                share = value / previous if previous else None
                text += f" ({fmt_value(share, 'percent', lang, currency)})"
            data.append(
                {
                    "channel": str(r["channel"]),
                    "stage": _metric_label(stage, lang),
                    "value": value,
                    "text": text,
                }
            )
            previous = value
    stages = [_metric_label(s, lang) for s in FUNNEL_STAGES]
    base = alt.Chart().encode(
        y=alt.Y("stage:N", sort=stages, title=None),
    )
    bars = base.mark_bar(cornerRadiusEnd=2).encode(
        x=alt.X("value:Q", scale=alt.Scale(type="symlog"), axis=None, title=None),
        color=alt.Color("stage:N", scale=alt.Scale(domain=stages, range=list(_STAGE_COLOURS)), legend=None),
        tooltip=[
            alt.Tooltip("channel:N", title=_("Channel", lang)),
            alt.Tooltip("stage:N", title=_("Stage", lang)),
            alt.Tooltip("text:N", title=_("Count", lang)),
        ],
    )
    labels = base.mark_text(align="left", dx=4, color="#111827").encode(
        x=alt.X("value:Q", scale=alt.Scale(type="symlog")), text="text:N"
    )
    chart = (
        alt.layer(bars, labels, data=alt.Data(values=data))
        .properties(width=_WIDTH - 120, height=alt.Step(16))
        .facet(
            row=alt.Row(
                "channel:N",
                title=None,
                sort=[str(r["channel"]) for r in rows],
                header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold"),
            )
        )
        .resolve_scale(x="shared")
        .properties(title=_("Funnel per channel: visits → leads → qualified leads → sales", lang))
    )
    return _config(chart, lang, currency)


def index_series(values: Sequence[float | None]) -> list[float | None]:
    """Each value as an index, 100 = the first month with a non-zero value.

    ``index_t = 100 · value_t / value_base``; months before the base (nothing to compare yet) get ``None``.
    An index puts clicks (thousands) and revenue (millions of rubles) on one axis: what matters for the
    "activity up, money flat" question is how each moved, not its size.
    """
    base: float | None = None
    out: list[float | None] = []
    for v in values:
        x = _num(v)
        if base is None and x:
            base = x
        out.append(None if base is None or x is None else 100.0 * x / base)
    return out


def trend_data(
    months: Sequence[Row],
    metrics: Sequence[str] = TREND_METRICS,
    *,
    lang: str = "en",
    currency: str = "RUB",
    facet: str | None = None,
) -> list[dict[str, Any]]:
    """Long rows for :func:`money_vs_activity_chart`: one per (group, metric, month), with index and text.

    ``months``: dicts with ``month`` (``YYYY-MM``), optionally the ``facet`` key, and the metric values, in
    month order. A metric that is zero or missing in every month of a group is left out of that group.
    """
    groups: dict[str, list[Row]] = {}
    for r in months:
        groups.setdefault(str(r[facet]) if facet else "", []).append(r)
    out: list[dict[str, Any]] = []
    for group, rows in groups.items():
        for name in metrics:
            values = [_num(r.get(name)) for r in rows]
            if not any(values):
                continue
            m = CATALOG[name]
            for r, v, ix in zip(rows, values, index_series(values), strict=True):
                row: dict[str, Any] = {
                    "month": str(r["month"]),
                    "metric": name,
                    "series": _series_label(name, lang),
                    "kind": _("activity", lang) if m.tier == Tier.ACTIVITY else _("money and leads", lang),
                    "value": v,
                    "index": None if ix is None else round(ix, 1),
                    "text": fmt_value(v, m.unit, lang, currency),
                }
                if facet:
                    row[facet] = group
                out.append(row)
    return out


def money_vs_activity_chart(
    months: Sequence[Row],
    metrics: Sequence[str] = TREND_METRICS,
    *,
    lang: str = "en",
    currency: str = "RUB",
    by_channel: bool = False,
) -> dict[str, Any]:
    """Money and qualified leads against activity over months, each line indexed (100 = its first month).

    Money lines are solid and coloured, activity lines dashed and grey, so "clicks ×2 while revenue stays at
    100" reads at a glance. With ``by_channel`` the rows carry ``channel`` and the chart repeats per channel.
    """
    data = trend_data(months, metrics, lang=lang, currency=currency, facet="channel" if by_channel else None)
    present = [m for m in metrics if any(d["metric"] == m for d in data)]
    series = [_series_label(m, lang) for m in present]
    kinds = [_("money and leads", lang), _("activity", lang)]
    month_axis = sorted({str(r["month"]) for r in months})
    lines = (
        alt.Chart()
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=alt.X("month:O", sort=month_axis, title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("index:Q", title=_("Index, first month = 100", lang)),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=series, range=[_COLOURS[m] for m in present]),
                sort=series,
                title=None,
            ),
            # The legend of colours already says "(activity)"; a second legend for dashes would repeat it.
            strokeDash=alt.StrokeDash(
                "kind:N", scale=alt.Scale(domain=kinds, range=[[1, 0], [5, 4]]), legend=None
            ),
            tooltip=[
                alt.Tooltip("month:O", title=_("Month", lang)),
                alt.Tooltip("series:N", title=_("Metric", lang)),
                alt.Tooltip("text:N", title=_("Value", lang)),
                alt.Tooltip("index:Q", title=_("Index", lang), format=".0f"),
            ],
        )
    )
    baseline = alt.Chart().mark_rule(color="#9ca3af", strokeDash=[2, 2]).encode(y=alt.datum(100))
    title = _("Money vs activity, indexed (first month = 100)", lang)
    if by_channel:
        channels = list(
            dict.fromkeys(str(r["channel"]) for r in months)
        )  # the caller's order, not alphabetical
        chart: alt.TopLevelMixin = (
            alt.layer(baseline, lines, data=alt.Data(values=data))
            .properties(width=230, height=150)
            .facet(
                facet=alt.Facet(
                    "channel:N", title=None, sort=channels, header=alt.Header(labelFontWeight="bold")
                ),
                columns=min(len(channels), 3),
            )
            .resolve_scale(y="independent")
            .properties(title=_("Money vs activity per channel, indexed (first month = 100)", lang))
        )
    else:
        chart = alt.layer(baseline, lines, data=alt.Data(values=data)).properties(
            width=_WIDTH, height=260, title=title
        )
    return _config(chart, lang, currency)


def spend_vs_revenue_chart(rows: Sequence[Row], *, lang: str = "en", currency: str = "RUB") -> dict[str, Any]:
    """Per channel: marketing cost, revenue and payments received, as grouped horizontal bars.

    ``rows``: one dict per channel with ``channel`` and :data:`SPEND_REVENUE` values; channels are drawn in
    the order given (the report passes them by revenue, highest first).
    """
    data: list[dict[str, Any]] = []
    for r in rows:
        for name in SPEND_REVENUE:
            v = _num(r.get(name)) or 0.0
            data.append(
                {
                    "channel": str(r["channel"]),
                    "measure": _metric_label(name, lang),
                    "value": v,
                    "text": fmt_value(v, "money", lang, currency),
                }
            )
    measures = [_metric_label(m, lang) for m in SPEND_REVENUE]
    channels = [str(r["channel"]) for r in rows]
    base = alt.Chart().encode(
        y=alt.Y("channel:N", sort=channels, title=None),
        yOffset=alt.YOffset("measure:N", sort=measures),
    )
    bars = base.mark_bar(cornerRadiusEnd=2).encode(
        x=alt.X("value:Q", title=None, axis=alt.Axis(format="$,.0f", tickCount=5)),
        color=alt.Color(
            "measure:N",
            scale=alt.Scale(domain=measures, range=[_COLOURS[m] for m in SPEND_REVENUE]),
            sort=measures,
            title=None,
        ),
        tooltip=[
            alt.Tooltip("channel:N", title=_("Channel", lang)),
            alt.Tooltip("measure:N", title=_("Metric", lang)),
            alt.Tooltip("text:N", title=_("Value", lang)),
        ],
    )
    labels = base.mark_text(align="left", dx=3, fontSize=10, color="#374151").encode(
        x="value:Q", text="text:N"
    )
    chart = alt.layer(bars, labels, data=alt.Data(values=data)).properties(
        width=_WIDTH - 80,
        height=alt.Step(14),
        title=_("Where the money went and where it came from, per channel", lang),
    )
    return _config(chart, lang, currency)
