"""The Data page's connections block: each connection's service, account, last day synced and last
outcome (never a secret, nor where it is kept), and — for an owner — a "sync now" button.

``POST /data/connections/<name>/sync`` starts the sync in a thread of its own, as ``kassa sync NAME``
would: the fetch (minutes of a report being built, for Metrica or Meta) runs beside the pages, and only
the load goes into the queue of writes (:mod:`kassa.web.jobs`, job ``sync``), so uploads and the pages
are not held up meanwhile. The outcome lands in the connection's ``last_sync`` (what the block shows);
while a sync runs, the block says so and its button is not offered again.

Owners only: a sync spends the service's quota and changes the warehouse; a marketer uploads files.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from kassa.errors import KassaError
from kassa.store.connections import SERVICES, Connections
from kassa.web.dependencies import Forbidden, NotFound, Visitor
from kassa.web.users import User

if TYPE_CHECKING:
    from kassa.store.warehouse import FileReport
    from kassa.web.state import Dashboard

router = APIRouter()
_running: dict[tuple[str, str], threading.Thread] = {}  # (warehouse, connection) -> its sync
_lock = threading.Lock()


def _account(options: dict[str, Any]) -> str:
    for key, shown in (("subdomain", "{}"), ("client_login", "{}"), ("counter", "counter {}"), ("customer_id", "customer {}"),
                       ("account", "act_{}"), ("client_id", "app {}")):  # fmt: skip
        if options.get(key):
            return shown.format(options[key])
    return ""


def running(db: Path, name: str) -> bool:
    with _lock:
        t = _running.get((str(db), name))
        return t is not None and t.is_alive()


def connections_block(dash: Dashboard, user: User) -> dict[str, Any]:
    """What the block shows; no secret and no secret's whereabouts (file or variable name)."""
    try:
        conns = Connections(dash.db_path).all()
    except KassaError as exc:  # a damaged connections file: the page still answers, saying so
        return {"connections": [], "connections_error": str(exc), "can_sync": False}
    return {
        "connections": [
            {
                "name": c.name,
                "service": SERVICES[c.service].title if c.service in SERVICES else c.service,
                "account": _account(c.options),
                "synced_through": c.synced_through,
                "last_sync": c.last_sync,
                "syncing": running(dash.db_path, c.name),
            }
            for c in conns
        ],
        "connections_error": None,
        "can_sync": user.role == "owner",
    }


def _sync_in_thread(dash: Dashboard, name: str, by: str) -> None:
    from kassa.store.sync import load_report, sync_one, today_in

    conns = Connections(dash.db_path)

    def load(report: Path, options: Path, fmt: str, origin: str) -> FileReport | list[FileReport]:
        # Into the queue of writes, as an upload: one writer, the pages undisturbed.
        result: FileReport | list[FileReport] = dash.jobs.run(
            "sync", origin, by, lambda wh, job: load_report(wh, report, options, fmt, origin)
        )
        return result

    try:
        sync_one(conns, conns.get(name), load, since=None, until=None, today=today_in(dash.wh.settings))
    finally:
        with _lock:
            _running.pop((str(dash.db_path), name), None)


@router.post("/data/connections/{name}/sync")
def sync_now(visit: Visitor, csrf: Annotated[str, Form()], name: str) -> Response:
    """Start syncing connection ``name`` (an owner only); 202 with JSON, else back to the Data page."""
    user = visit.allowed(csrf)
    if user.role != "owner":
        raise Forbidden()
    dash = visit.dash
    try:
        Connections(dash.db_path).get(name)
    except KassaError:
        raise NotFound() from None
    key = (str(dash.db_path), name)
    with _lock:
        started = not (key in _running and _running[key].is_alive())
        if started:
            t = threading.Thread(
                target=_sync_in_thread, args=(dash, name, user.name), name=f"sync-{name}", daemon=True
            )
            _running[key] = t
            t.start()
    return visit.done(
        {"connection": name, "started": started, "syncing": True}, "/data", status=202, anchor="#connections"
    )
