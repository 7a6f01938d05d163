"""The Funnel page (``/funnel``, JSON twin ``/funnel.json``): stage by stage per channel against the
previous period, the significant breaks marked with who answers for them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.diagnose import run as run_diagnosis
from kassa.diagnose.findings import Finding
from kassa.diagnose.funnel import STAGE, STAGES
from kassa.diagnose.text import responsible_label, stage_label
from kassa.metrics import relative_change
from kassa.metrics.compute import compute
from kassa.period import Period
from kassa.report.model import funnel_section
from kassa.store import Warehouse
from kassa.web.dependencies import Page
from kassa.web.pages.common import chart_json, column, no_nan
from kassa.web.state import Dashboard

router = APIRouter()

# Each count followed by the conversion into the next (kassa.diagnose.funnel.STAGES).
FUNNEL_STEPS = (
    "visits",
    "visit_to_lead",
    "leads",
    "lead_to_qualified",
    "qualified_leads",
    "qualified_to_sale",
    "sales",
    "average_check",
    "revenue",
)
STEP_OWNER = {s.rate: s.responsible for s in STAGES}
TOTAL_ROW = "__total__"


@router.get("/funnel")
@router.get("/funnel.json")
def funnel(page: Page) -> Response:
    return page.render("funnel.html.j2", funnel_page(page.dash, page.scope, page.period, page.lang))


def finding_channel(f: Finding) -> str | None:
    """The channel a finding is about: a channel's own (its ``value``), a campaign's (its ``channel``),
    none for the company or a manager (a manager's break runs across channels)."""
    if f.dimension == "channel":
        return f.value
    if f.dimension == "campaign":
        return f.channel
    return None


def funnel_page(dash: Dashboard, scope: list[str] | None, period: Period, lang: str) -> dict[str, Any]:
    """Counts and the conversion of each step per channel, against the previous period, with the steps
    where the diagnosis found a significant break marked and who answers for them.

    The steps and their owners are :data:`kassa.diagnose.funnel.STAGES`; a break is a ``funnel_break``
    finding of :func:`kassa.diagnose.run` (same tests, same Benjamini–Hochberg correction as
    ``kassa diagnose``). An agency (``scope``: its channels) sees its channels' rows and their breaks
    only: a company-wide or a manager's break describes every channel.
    """
    where = {"channel": scope} if scope is not None else None
    currency = dash.currency
    names = list(FUNNEL_STEPS)
    prev = period.previous()

    def build(wh: Warehouse) -> dict[str, Any]:
        # Every metric: the steps here, and the report's funnel chart below from the same table.
        cur = compute(wh, None, "channel", period, where=where)
        old = compute(wh, names, "channel", prev, where=where)
        diagnosis = wh.memo(
            ("web.funnel_breaks", period.label, lang),
            lambda: run_diagnosis(wh, period, lang=lang, kinds=["funnel_break"]),
        )
        return {"cur": cur, "old": old, "diagnosis": diagnosis}

    got = dash.locked(build)
    before = {str(r["channel"]): r for r in got["old"].frame.to_dicts()}
    breaks: dict[str, dict[str, dict[str, Any]]] = {}
    findings = []
    for f in got["diagnosis"].findings:
        channel = finding_channel(f)
        if scope is not None and (channel is None or channel not in scope):
            continue
        item = {
            "dimension": f.dimension,
            "value": f.value,
            "channel": channel,
            "stage": f.stage,
            "stage_label": stage_label(f.stage, lang),
            "responsible": f.responsible,
            "responsible_label": responsible_label(f.responsible, lang),
            "significant": f.significant,
            "message": f.message,
            "q_value": no_nan(f.q_value),
        }
        findings.append(item)
        # A break in one campaign marks its channel's cell (the message names the campaign); a manager's
        # break is listed but marks no channel: it runs across them.
        if f.significant and f.dimension in ("company", "channel", "campaign") and f.stage in STAGE:
            row = TOTAL_ROW if f.dimension == "company" else str(channel)
            breaks.setdefault(row, {}).setdefault(STAGE[f.stage].rate, item)

    def with_change(r: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any]:
        # The metric JSON of the row (None: the total): incomplete values null with why, estimates listed.
        now_row = got["cur"].json_row(r)
        out: dict[str, Any] = {}
        for n in names:
            now, was = no_nan(now_row.get(n)), no_nan((old or {}).get(n))
            out[n] = {
                "value": now,
                "previous": was,
                "change": relative_change(was, now),
                "estimated": n in now_row.get("estimated", []),
                "incomplete": now_row.get("incomplete", {}).get(n),
            }
        return out

    rows: list[dict[str, Any]] = [
        {"channel": str(r["channel"]), "steps": with_change(r, before.get(str(r["channel"])))}
        for r in got["cur"].frame.to_dicts()
    ]
    rows.sort(key=lambda r: -(r["steps"]["revenue"]["value"] or 0.0))
    total = None
    if got["cur"].total:
        total = {"channel": TOTAL_ROW, "steps": with_change(None, got["old"].total)}
    section = funnel_section(got["cur"], lang, currency)
    return {
        "page": "funnel",
        "period": period.label,
        "previous_period": prev.label,
        "lang": lang,
        "currency": currency,
        "scope": scope,
        "columns": [column(n, lang) | {"owner": STEP_OWNER.get(n)} for n in names],
        "owners": {n: responsible_label(who, lang) for n, who in STEP_OWNER.items()},
        "rows": rows,
        "total": total,
        "breaks": breaks,
        "findings": findings,
        # How many tests the company's diagnosis ran counts every channel, campaign and manager: not an
        # agency's business.
        "tests": got["diagnosis"].tests if scope is None else None,
        "charts": [chart_json(c) for c in section.charts()],
        "warnings": got["cur"].warnings,
    }
