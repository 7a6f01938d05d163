"""The Channels page (``/channels``, JSON twin ``/channels.json``, download ``/channels.csv``) and one
channel's campaigns (``/channels/{channel}``, ``.json``, ``.csv``): the money trail per channel or
campaign, activity in its own columns, optionally shared out by an attribution model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.attribution import model_names
from kassa.attribution.money import MONEY_METRICS, attributed_money
from kassa.errors import KassaError
from kassa.i18n import Translator
from kassa.metrics.catalog import derived
from kassa.metrics.compute import compute
from kassa.metrics.formula import NUMBERS
from kassa.period import Period
from kassa.report.blocks import metric_row
from kassa.report.csvfile import MARK_COLUMNS, marked_cells, rows_csv
from kassa.report.model import ACTIVITY_COLUMNS, FUNNEL_COLUMNS
from kassa.store import Warehouse
from kassa.web.dependencies import NotFound, Page
from kassa.web.pages.common import column, no_nan
from kassa.web.render import CSV_TYPE, download
from kassa.web.state import Dashboard

_ = Translator("web")
router = APIRouter()

# Under an attribution model: what the model credits and what follows (catalog names).
MODEL_COLUMNS = ("leads", "sales", "revenue", "cpl", "cost_per_sale", "romi")


@router.get("/channels")
@router.get("/channels.json")
def channels(page: Page, model: str | None = None) -> Response:
    data = channels_page(page.dash, page.scope, page.period, page.lang, model=model or None)
    return page.render("channels.html.j2", data)


# ``:path``: a channel's name may hold a "/" (``a/b``); the link sends it as %2F, which the server decodes
# before routing, so a plain ``{channel}`` (one path segment) would answer 404.
@router.get("/channels/{channel:path}")
def channel(page: Page, channel: str, model: str | None = None) -> Response:
    if channel.endswith(".csv"):  # the campaigns of one channel as a download
        name = channel.removesuffix(".csv")
        body = channels_table_csv(page.dash, page.scope, page.period, page.lang, name)
        return download(body, CSV_TYPE, f"{name}-{page.period.label}.csv")
    name = channel.removesuffix(".json")
    data = channels_page(page.dash, page.scope, page.period, page.lang, name, model=model or None)
    return page.render("channels.html.j2", data)


@router.get("/channels.csv")
def channels_csv(page: Page) -> Response:
    body = channels_table_csv(page.dash, page.scope, page.period, page.lang)
    return download(body, CSV_TYPE, f"channels-{page.period.label}.csv")


def channels_page(
    dash: Dashboard,
    scope: list[str] | None,
    period: Period,
    lang: str,
    channel: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The money trail per channel, or per campaign of one ``channel``; activity in its own columns.

    ``scope`` (an agency's channels) limits the rows and the totals; a channel outside it is not found.
    With ``model`` (any of :func:`kassa.attribution.model_names`), leads, sales and revenue are also
    shared out by that attribution model (:func:`kassa.attribution.money.attributed_money`) and shown
    beside the metric layer's own one-channel-per-lead numbers, with CPL, CAC and ROMI under the model.
    """
    if channel is not None and scope is not None and channel not in scope:
        raise NotFound(channel)
    if model is not None and model not in model_names():
        raise KassaError(
            _(
                "Unknown attribution model {name}; use one of {models}.",
                lang,
                name=model,
                models=", ".join(model_names()),
            )
        )
    chosen = [channel] if channel is not None else scope
    where = {"channel": chosen} if chosen is not None else None
    by = ["channel", "campaign"] if channel is not None else ["channel"]

    def build(wh: Warehouse) -> tuple[Any, Any]:
        table = compute(wh, None, by, period, where=where)
        credited = None
        if model is not None:
            credited = wh.memo(
                ("web.attributed", period.label, model, channel is not None),
                lambda: attributed_money(wh, period, model, by="campaign" if channel else "channel"),
            )
        return table, credited

    table, credited = dash.locked(build)
    # Rows as the metric JSON writes them: an incomplete value null with why, estimated metrics listed.
    keys = [*by, *FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]
    rows = [metric_row(table, r, keys) for r in table.rows()]
    rows.sort(key=lambda r: (-(r.get("revenue") or 0.0), -(r.get("marketing_cost") or 0.0), str(r[by[-1]])))
    total = metric_row(table, None, [*FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]) if table.total else None
    model_total = None
    if credited is not None:
        found = {tuple(str(r[k]) for k in by): r for r in credited.to_dicts()}
        for r in rows:
            got = found.get(tuple(str(r[k]) for k in by), {})
            r["model"] = {k: no_nan(got.get(k)) for k in MODEL_COLUMNS}
        shown = [r["model"] for r in rows]
        cost = sum(float(r.get("marketing_cost") or 0.0) for r in rows)
        sums = {k: sum(float(m[k] or 0.0) for m in shown) for k in ("leads", "sales", "revenue")}
        # The attributed total's prices by the catalog's formulas, as each row's (attribution.money).
        # Gross profit is not attributed, so ROMI is on revenue there and here.
        totals = {**sums, "marketing_cost": cost, "gross_profit": None, "margin_missing": sums["sales"]}
        values = derived(MONEY_METRICS, totals, NUMBERS)
        model_total = {**sums, "marketing_cost": cost, **{n: values[n] for n in MONEY_METRICS}}
    return {
        "page": "channel" if channel else "channels",
        "period": period.label,
        "lang": lang,
        "channel": channel,
        "currency": dash.currency,
        "scope": scope,
        "by": by,
        "model": model,
        "models": model_names(),
        "funnel_columns": [column(n, lang) for n in FUNNEL_COLUMNS],
        "activity_columns": [column(n, lang) for n in ACTIVITY_COLUMNS],
        "model_columns": [column(k, lang) for k in MODEL_COLUMNS],
        "rows": rows,
        "total": total,
        "model_total": model_total,
        "warnings": table.warnings,
    }


def channels_table_csv(
    dash: Dashboard, scope: list[str] | None, period: Period, lang: str, channel: str | None = None
) -> str:
    """The page's rows as CSV (plain numbers, catalog names as headers), scoped like the page; no cell can
    run as a formula in a spreadsheet (:mod:`kassa.report.csvfile`)."""
    data = channels_page(dash, scope, period, lang, channel)
    keys = [
        *data["by"],
        *(c["key"] for c in data["funnel_columns"]),
        *(c["key"] for c in data["activity_columns"]),
    ]
    return rows_csv([*keys, *MARK_COLUMNS], (marked_cells(r, keys) for r in data["rows"]))
