"""The Alerts page (``/alerts``, JSON twin ``/alerts.json``): the findings the scheduled ``alerts`` job sends
(:mod:`kassa.diagnose.alerts`), as of yesterday, with since when each episode runs and those that recovered
in the last 30 days. An agency sees only the alerts of its channels, as its recipients get them.

Also the Data page's schedule block (:func:`schedule_block`): the jobs of kassa.yaml, when each runs next,
and the latest runs with their outcome and error. Kept here, apart from the Data page's own module, so the
two change apart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.store import Warehouse
from kassa.web.dependencies import Page
from kassa.web.state import Dashboard

router = APIRouter()
RUNS_SHOWN = 20


@router.get("/alerts")
@router.get("/alerts.json")
def alerts(page: Page) -> Response:
    return page.render("alerts.html.j2", alerts_page(page.dash, page.scope, page.lang))


def alerts_page(
    dash: Dashboard, scope: list[str] | None, lang: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    from kassa.notify.alerting import listed

    at = now or dt.datetime.now(dt.UTC)
    key = ("web.alerts", lang, tuple(scope) if scope is not None else None, at.strftime("%Y-%m-%d %H"))
    found = dash.kept(key, lambda wh: listed(wh, dash.db_path, at, lang, scope))
    return {"page": "alerts", "lang": lang, "period": None, **found}  # as of yesterday: no period to choose


def schedule_block(dash: Dashboard, now: dt.datetime | None = None, can_edit: bool = False) -> dict[str, Any]:
    """The jobs, their next time and the latest runs (for the Data page: owners and marketers); why a
    changed kassa.yaml was not taken; ``can_edit``: the link to the editor (owners)."""
    from kassa.notify.schedule import next_time
    from kassa.store import journal

    at = now or dt.datetime.now(dt.UTC)
    settings = dash.wh.settings

    def build(wh: Warehouse) -> dict[str, Any]:
        last = {j.name: journal.last_run(wh, j.name) for j in settings.schedule.jobs}
        return {"last": last, "runs": [r.to_json() for r in journal.runs(wh, limit=RUNS_SHOWN)]}

    got = dash.locked(build)
    jobs = []
    for j in settings.schedule.jobs:
        r = got["last"].get(j.name)
        nxt = next_time(j, r, at, settings.timezone)
        jobs.append(
            {
                "job": j.name,
                "kind": j.kind,
                "at": j.at,
                "next": nxt.isoformat(timespec="minutes") if nxt else None,
                "last_outcome": r.outcome if r else None,
            }
        )
    return {
        "timezone": settings.timezone,
        "jobs": jobs,
        "runs": got["runs"],
        "error": dash.schedule_error,
        "can_edit": can_edit,
    }
