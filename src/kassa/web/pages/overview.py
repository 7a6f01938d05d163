"""The Overview page (``/overview``, JSON twin ``/overview.json``): money in and out of the period against
the previous one, the report's headline and its money-vs-activity chart. ``/`` leads here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from kassa.i18n import Translator
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import compute, months_between
from kassa.period import Period, add_months
from kassa.report import charts as report_charts
from kassa.report.model import build_report, trend_period
from kassa.store import Warehouse
from kassa.web.dependencies import Page, Visitor
from kassa.web.pages.common import chart_json
from kassa.web.state import Dashboard
from kassa.web.users import User

_ = Translator("web")
router = APIRouter()

# The overview's cards: money in, money out, and what each sale and each ruble of cost returned.
OVERVIEW_METRICS = ("payments", "revenue", "marketing_cost", "romi", "cost_per_sale")


@router.get("/")
def home(visit: Visitor) -> Response:
    q = visit.request.url.query
    return RedirectResponse("/overview" + ("?" + q if q else ""), status_code=303)


@router.get("/overview")
@router.get("/overview.json")
def overview(page: Page) -> Response:
    return page.render("overview.html.j2", overview_page(page.dash, page.user, page.period, page.lang))


def overview_page(
    dash: Dashboard, user: User, period: Period, lang: str, *, background: bool = False
) -> dict[str, Any]:
    """Money in and out of ``period`` and the previous period, the headline lines and the trend chart.

    ``change = current / previous − 1`` (``None`` when the previous value is 0 or missing). Kept per
    (period, language, channels seen) until the next write (:meth:`Dashboard.kept`); ``background`` is
    the warm-up building it ahead.
    """
    scope = user.channel_filter
    key = ("web.overview", period.label, lang, tuple(scope) if scope is not None else None)
    return dash.kept(key, lambda wh: _overview(wh, user, period, lang), background=background)


def _overview(wh: Warehouse, user: User, period: Period, lang: str) -> dict[str, Any]:
    scope = user.channel_filter
    where = {"channel": scope} if scope is not None else None
    prev = period.previous()
    currency = wh.settings.currency
    cur = compute(wh, list(OVERVIEW_METRICS), None, period, where=where, with_total=False)
    old = compute(wh, list(OVERVIEW_METRICS), None, prev, where=where, with_total=False)
    # As the metric JSON has them: an incomplete value null with why; the estimated metrics listed.
    c = cur.json_row(cur.frame.to_dicts()[0]) if cur.frame.height else {}
    o = old.json_row(old.frame.to_dicts()[0]) if old.frame.height else {}
    report = build_report(wh, period, lang, only=("money_vs_activity",)) if user.can("see_totals") else None
    months = None if report is not None else scoped_months(wh, period, where)
    cards = []
    for name in OVERVIEW_METRICS:
        m = CATALOG[name]
        now, before = c.get(name), o.get(name)
        # A change against zero or a negative base (ROMI −1 → 3.5) has no meaning as a percentage.
        chg = None if now is None or before is None or before <= 0 else now / before - 1
        cards.append(
            {
                "name": name,
                "label": m.label(lang),
                "tier": m.tier.value,
                "unit": m.unit,
                "better": m.better,
                "value": now,
                "previous": before,
                "change": chg,
                **_marks(c, name),
                **{f"previous_{k}": v for k, v in _marks(o, name).items()},
            }
        )
    headline: list[dict[str, str]] = []
    charts: list[dict[str, Any]] = []
    if report is not None:
        for block in report.section("headline").blocks:
            headline += [{"text": line.text, "tone": line.tone} for line in getattr(block, "items", [])]
        charts = [
            chart_json(c)
            for c in report.section("money_vs_activity").charts()
            if c.key == "money_vs_activity"
        ]
    elif months:
        # The report's chart, drawn from the scoped channels only.
        present = [n for n in report_charts.TREND_METRICS if any(r.get(n) for r in months)]
        charts = [
            {
                "key": "money_vs_activity",
                "title": _("Money vs activity", lang),
                "caption": _(
                    "Index = the month's value / the value of the first month with any × 100.", lang
                ),
                "spec": report_charts.money_vs_activity_chart(months, present, lang=lang, currency=currency),
            }
        ]
    return {
        "page": "overview",
        "period": period.label,
        "previous_period": prev.label,
        "lang": lang,
        "currency": currency,
        "scope": scope,
        "cards": cards,
        "headline": headline,
        "charts": charts,
        "warnings": cur.warnings,
    }


def _marks(row: dict[str, Any], name: str) -> dict[str, Any]:
    """A card's marks: ``estimated`` (a share of a whole-period report the period cuts) and ``incomplete``
    (amounts without an exchange rate: what was counted and what was not), as the metric JSON says them."""
    return {
        "estimated": name in row.get("estimated", []),
        "incomplete": row.get("incomplete", {}).get(name),
    }


def scoped_months(wh: Warehouse, period: Period, where: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """Trend measures per month of the report's window, for the channels in ``where`` only.

    Months with no row count as zeros; months before the first with any value are dropped, as in the report.
    """
    window = trend_period(period)
    table = compute(wh, list(report_charts.TREND_METRICS), "month", window, where=where, with_total=False)
    found = {str(r["month"]): r for r in table.frame.to_dicts()}
    months = months_between(window.start, add_months(window.end, -1))
    names = report_charts.TREND_METRICS
    active = [m for m in months if any(found.get(m, {}).get(n) for n in names)]
    shown = months[months.index(active[0]) :] if active else []
    return [{"month": m, **{n: found.get(m, {}).get(n) or 0 for n in names}} for m in shown]
