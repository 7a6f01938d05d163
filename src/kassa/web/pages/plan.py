"""The Plan page (``/plan``, JSON twin ``/plan.json``): a revenue target for the period's month turned into
the funnel it needs per channel (as ``kassa plan``), what the month has done so far, and the draft KPI
contract with the plan's targets, which an owner or marketer can save as a contract in one click.

Inputs are query parameters, so a plan is a link: ``revenue`` (default: the revenue of the month before),
``months`` (the window of rates, default 3) and ``by`` (``channel``, default, or ``business``). An agency
plans its own channels only: the rates, the split and the target are its channels' alone.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.errors import KassaError
from kassa.i18n import Translator
from kassa.kpi.plan import DEFAULT_MONTHS, FIGURES, RATES, Plan, draft_contract, make_plan, shortfall_lines
from kassa.metrics.compute import compute
from kassa.period import Period
from kassa.store import Warehouse
from kassa.web.dependencies import Page
from kassa.web.pages.common import column, no_nan

_ = Translator("web")
router = APIRouter()

# What the month has done so far, beside what the plan asks (the budget is the marketing cost).
FACT_OF = {"revenue": "revenue", **{f: ("marketing_cost" if f == "budget" else f) for f in FIGURES}}


@router.get("/plan")
@router.get("/plan.json")
def plan(page: Page) -> Response:
    q = page.request.query_params
    data = plan_page(page, q.get("revenue"), q.get("months"), q.get("by"))
    return page.render("plan.html.j2", data, status=422 if data["error"] else 200)


def _number(text: str | None, name: str, lang: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        v = float(text.replace("\xa0", "").replace(" ", "").replace(",", "."))
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise KassaError(_("{name}: {value} is not a number.", lang, name=name, value=text[:40]))
    return v


def plan_page(page: Page, revenue: str | None, months: str | None, by: str | None) -> dict[str, Any]:
    """The plan of ``page.period`` as the page shows it; a wrong input is said in ``error``, not raised."""
    scope = page.user.channel_filter
    lang, period = page.lang, page.period
    data: dict[str, Any] = {
        "page": "plan",
        "period": period.label,
        "lang": lang,
        "currency": page.dash.currency,
        "scope": scope,
        "inputs": {"revenue": revenue, "months": months or str(DEFAULT_MONTHS), "by": by or "channel"},
        "figures": [_figure_column(f, lang) for f in FIGURES],
        "rates": [column(r, lang) for r in RATES],
        "plan": None,
        "fact": None,
        "shortfalls": [],
        "contract": None,
        "can_save_contract": page.user.can("edit_contracts"),
        "error": None,
    }
    try:
        n = _number(months, "months", lang)
        window = DEFAULT_MONTHS if n is None else int(n)
        if by not in (None, "", "channel", "business"):
            raise KassaError(
                _("by: {value} — plan by channel or for the whole business.", lang, value=by[:40])
            )
        target = _number(revenue, "revenue", lang)
        built = page.dash.locked(lambda wh: _build(wh, period, target, window, by != "business", scope))
    except KassaError as exc:
        data["error"] = str(exc)
        return data
    p, fact = built
    data["inputs"]["revenue"] = f"{p.target:.0f}"
    data["plan"] = _no_nan(p.to_json())
    data["fact"] = fact
    data["shortfalls"] = shortfall_lines(p, lang, page.dash.currency)
    data["contract"] = draft_contract(
        p, command=f"kassa plan --revenue {p.target:.0f} --period {period.label}"
    )
    return data


def _build(
    wh: Warehouse,
    period: Period,
    target: float | None,
    months: int,
    by_channel: bool,
    scope: list[str] | None,
) -> tuple[Plan, dict[str, Any]]:
    where = {"channel": scope} if scope is not None else None
    if target is None:  # the month before as it was: a plan to keep the pace
        before = compute(wh, ["revenue"], [], period.previous(), where=where).total.get("revenue")
        target = float(before) if before else None
        if not target:
            raise KassaError(f"no revenue in {period.previous().label} to start from: type a revenue target")
    p = make_plan(wh, target, period, by_channel=by_channel, months=months, scope=scope)
    fact = compute(
        wh, list(dict.fromkeys(FACT_OF.values())), "channel" if by_channel else [], period, where=where
    )
    rows = {str(r["channel"]): r for r in fact.rows()} if by_channel else {}
    done = {ch: {k: no_nan(r.get(m)) for k, m in FACT_OF.items()} for ch, r in rows.items()}
    done["__total__"] = {k: no_nan(fact.total.get(m)) for k, m in FACT_OF.items()}
    return p, done


def _figure_column(name: str, lang: str) -> dict[str, Any]:
    from kassa.kpi.plan import figure_label

    if name == "budget":
        return {"key": name, "label": figure_label(name, lang), "tier": "outcome", "unit": "money"}
    return column(name, lang)


def _no_nan(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_nan(x) for x in v]
    return no_nan(v)
