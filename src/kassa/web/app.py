"""The dashboard: one FastAPI router per page (:mod:`kassa.web.pages`), each page with a JSON twin at the
same URL.

``create_app(db_path)`` opens the warehouse once, as its single writer (so a CLI import while the server
runs gets the warehouse's "open for writing by another process" message), adds the middleware and the
error answers every page shares, and includes the pages' routers.

A page answers JSON when its URL ends in ``.json`` or the request prefers ``application/json``.
Every route but :data:`PUBLIC_PATHS` needs a session when users exist; an ``agency`` user's numbers are
computed with ``where={"channel": scope}``, so totals never include other channels. Every POST carries the
session's CSRF token; uploading data and editing contracts need the ``owner`` or ``marketer`` role.
Without users, only this computer's own names may be in the ``Host`` header (no DNS rebinding), and a
forwarded client address is believed only from a proxy named with ``trusted_proxies``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kassa.errors import KassaError
from kassa.i18n import LANGS, Translator
from kassa.period import Period
from kassa.settings import Settings
from kassa.web.csp import CSP_HEADER, dashboard_policy
from kassa.web.dependencies import Forbidden, NotAuthenticated, NotFound
from kassa.web.pages import ROUTERS
from kassa.web.pages.overview import overview_page
from kassa.web.render import wants_json
from kassa.web.security import LOCAL_CSRF_COOKIE
from kassa.web.state import STOP_WAIT_S, Dashboard
from kassa.web.uploads import FORM_SLACK, BodyLimit

_ = Translator("web")
PUBLIC_PATHS = ("/login", "/static/vega.js", "/static/htmx.js")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # what a browser on this computer sends as Host

log = logging.getLogger(__name__)


def create_app(
    db_path: Path | str,
    settings: Settings | None = None,
    *,
    users_required: bool = True,
    max_upload_bytes: int | None = None,
    warm: bool = True,
    port: int | None = None,
    trusted_proxies: Sequence[str] = (),
    config_path: Path | None = None,
) -> FastAPI:
    """The dashboard of the warehouse at ``db_path``.

    ``users_required=False`` lets requests in without a session while the users file is empty (``kassa serve``
    then listens on loopback only); as soon as a user exists, every data route needs a session.
    ``max_upload_bytes`` caps a Data page upload (default 50 MiB). With ``warm``, the server builds the latest
    month's overview in the background as it starts, so the first visitor does not wait for it.

    Without users, a request must name this computer in its ``Host`` header (:data:`LOOPBACK_HOSTS`, with
    ``port`` when given): a page of another site whose name was re-pointed to 127.0.0.1 (DNS rebinding)
    gets 400 instead of the figures. ``trusted_proxies`` (addresses or networks) are the reverse proxies
    whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; from anyone else they are ignored,
    so a client cannot pick the address its failed logins are counted under.

    ``config_path`` is the kassa.yaml ``settings`` came from (default: beside the warehouse): the Data page
    edits its schedule, and the server takes a changed schedule from it within a minute.
    """
    dash = Dashboard(
        Path(db_path), settings, users_required, overview_page, keep_warm=warm, config_path=config_path
    )
    if max_upload_bytes is not None:
        dash.max_upload_bytes = max_upload_bytes
    dash.served_port = port

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from kassa.store import handoff

        if dash.keep_warm:
            dash.warm_in_background()
        # `kassa import` and `kassa imports undo` while the server runs hand their write to it.
        try:
            listener: handoff.Listener | None = handoff.Listener(dash.db_path, dash.run_handed_over)
        except OSError as exc:
            log.warning("imports from the command line cannot be handed to this server: %s", exc)
            listener = None
        stop_schedule = threading.Event()
        # kassa.yaml's jobs run in this process while it serves; always started, as jobs may be added later.
        threading.Thread(
            target=_schedule_loop, args=(dash, stop_schedule), name="kassa-schedule", daemon=True
        ).start()
        yield
        stop_schedule.set()
        # Stopping (SIGTERM, Ctrl+C): the import under way is cancelled and rolls back first, so a
        # handed-over one answers its command, then the listener and the warehouse close.
        dash.jobs.stop(STOP_WAIT_S)
        if listener is not None:
            listener.stop()
        dash.close()  # releases the warehouse's write lock when the server stops

    # The schema is built (tests fuzz it with schemathesis) but not served: it would list every route to anyone.
    # redirect_slashes=False: Starlette's "/overview/" redirect names the request's Host, whatever it is;
    # safety_headers answers it with a path of this site instead.
    app = FastAPI(
        title="kassa",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.dashboard = dash
    # Uploads may be as large as the limit (plus the form around them); every other form is small.
    app.add_middleware(
        BodyLimit,
        limit_of=lambda path: dash.max_upload_bytes + FORM_SLACK if path == "/data/upload" else FORM_SLACK,
    )
    app.middleware("http")(safety_headers)
    app.add_exception_handler(NotAuthenticated, unauthenticated)
    app.add_exception_handler(NotFound, lambda request, exc: error(404, "not found"))
    app.add_exception_handler(Forbidden, lambda request, exc: error(403, "forbidden"))
    app.add_exception_handler(KassaError, lambda request, exc: error(400, str(exc)))
    add_pages(app)
    if trusted_proxies:  # outermost: every later layer sees the client the proxy named
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))
    return app


SCHEDULE_EVERY_S = 60.0  # a job's time is a minute; checking each minute runs it within one


def _schedule_loop(dash: Dashboard, stop: threading.Event) -> None:
    """Run the due jobs now and every minute until the server stops (a failure is logged; the run's record
    in the warehouse says it too). Each pass first takes a changed kassa.yaml's schedule."""
    while not stop.is_set():
        try:
            dash.reload_schedule()
            if dash.wh.settings.schedule.jobs:
                dash.scheduler().run_due()
        except Exception:  # noqa: BLE001 — the loop must outlive one bad pass
            log.exception("the scheduled jobs' pass failed")
        stop.wait(SCHEDULE_EVERY_S)


def add_pages(app: FastAPI) -> None:
    """Every page's routes (:data:`kassa.web.pages.ROUTERS`), added to the app one by one.

    Not ``app.include_router``: since FastAPI 0.165 an included router stands behind one opaque entry of
    ``app.routes``, and the dashboard's tests walk ``app.routes`` to prove that no route answers data
    without a session. A page's decorator may set its path, methods and response class (what is copied
    here); the summary, description and operation id come from the endpoint, as they did.
    """
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            app.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                name=route.name,
                response_class=route.response_class,
            )


async def safety_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every answer: a foreign Host refused, the trailing-slash and period picker's redirects, then the
    headers that keep pages private."""
    started = time.perf_counter()
    dash: Dashboard = request.app.state.dashboard
    early = (foreign_host(request, dash.served_port) if not dash.login_required else None) or without_slash(
        request
    )
    if early is None:
        early = picked_period(request)
    resp = early if early is not None else await call_next(request)
    token = getattr(request.state, "new_local_csrf", None)
    if token:  # a dashboard without users: its forms' token (see Dashboard.session_of)
        resp.set_cookie(LOCAL_CSRF_COOKIE, token, httponly=True, samesite="strict")
    # The server's own time for the page (W3C Server-Timing): what `make bench` reads for the overview.
    resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of the login or logout forms
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages hold money figures: no shared or browser cache keeps them after logout.
    resp.headers.setdefault("Cache-Control", "no-store")
    # Only kassa's own scripts run (web/csp.py); /report.html sets its own, which allows its inlined Vega.
    resp.headers.setdefault(CSP_HEADER, dashboard_policy())
    return resp


def loopback_host(host: str, port: int | None) -> bool:
    """Whether a ``Host`` header names this computer: 127.0.0.1, localhost or [::1], with ``port`` (any
    port when ``None``; none written for port 80)."""
    name, given = host.lower(), ""
    if ":" in name and not name.endswith("]"):  # "[::1]" alone has colons but no port
        name, _colon, given = name.rpartition(":")
    if name not in LOOPBACK_HOSTS:
        return False
    if port is None:
        return not given or given.isdigit()
    return given == str(port) or (not given and port == 80)


def foreign_host(request: Request, port: int | None) -> Response | None:
    """400 for a request whose Host is not this computer, on a dashboard without users (DNS rebinding: a
    page of attacker.example, re-pointed to 127.0.0.1, would otherwise read every figure)."""
    if loopback_host(request.headers.get("host", ""), port):
        return None
    message = _(
        "Only this computer's names (127.0.0.1, localhost, [::1]) may open a dashboard without users; "
        "add a user to open it under other names: kassa user add NAME --role owner",
        lang_in(request),
    )
    return error(400, message)


def without_slash(request: Request) -> Response | None:
    """``/overview/`` -> 307 to ``/overview``, as a path of this site: the Location never names a host
    (Starlette's own redirect echoes the request's Host). Only for a path some route answers, so
    ``//evil.example/`` is no redirect anywhere."""
    path = request.url.path
    if path == "/" or not path.endswith("/"):
        return None
    bare = path.rstrip("/")
    scope = {**request.scope, "path": bare}
    if not bare or not any(r.matches(scope)[0] != Match.NONE for r in request.app.router.routes):
        return None
    query = request.url.query
    return RedirectResponse(bare + ("?" + query if query else ""), status_code=307)


def lang_in(request: Request) -> str:
    lang = request.query_params.get("lang", "en")
    return lang if lang in LANGS else "en"


def picked_period(request: Request) -> Response | None:
    """The header's period picker sends ``pick`` = month, week or custom with ``month`` (2026-10),
    ``week`` (2026-W43) or ``from``/``to`` dates; answer with a redirect to the same page with the one
    canonical ``period`` parameter, so every link, bookmark and JSON twin reads the same way."""
    q = request.query_params
    pick = q.get("pick")
    if request.method != "GET" or pick is None:
        return None
    text = {
        "month": q.get("month", ""),
        "week": q.get("week", ""),
        "custom": f"{q.get('from', '')}..{q.get('to', '')}",
    }.get(pick)
    try:
        if not text:
            raise KassaError(f"pick must be month, week or custom, not {pick!r}")
        period = Period.parse(text)
    except KassaError as exc:
        return error(400, str(exc))
    kept = {k: v for k, v in q.items() if k not in ("pick", "month", "week", "from", "to", "period")}
    return RedirectResponse(
        request.url.path + "?" + urlencode({"period": period.label, **kept}), status_code=303
    )


def unauthenticated(request: Request, exc: Exception) -> Response:
    """No session: 401 for the JSON twin, the login page (coming back here after it) for a page."""
    if wants_json(request):
        return error(401, "login required")
    return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
