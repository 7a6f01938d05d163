"""The dashboard: FastAPI, server-rendered Jinja2 pages, each with a JSON twin at the same URL.

``create_app(db_path)`` opens the warehouse once, as its single writer (so a CLI import while the server
runs gets the warehouse's "open for writing by another process" message), and serialises every use of its
one DuckDB connection with a lock. Pages read numbers only through :func:`kassa.metrics.compute` and
:func:`kassa.report.model.build_report`, so a page shows exactly what ``kassa metrics`` and
``kassa report`` print for the same period.

A page answers JSON when its URL ends in ``.json`` or the request prefers ``application/json``.
Every route but ``/login`` and the static JavaScript needs a session when users exist; an ``agency``
user's numbers are computed with ``where={"channel": scope}``, so totals never include other channels.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from kassa.errors import KassaError
from kassa.i18n import LANGS, Translator
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import compute, months_between
from kassa.period import Period, add_months
from kassa.report import charts as report_charts
from kassa.report.html import show, vega_bundle
from kassa.report.model import ACTIVITY_COLUMNS, FUNNEL_COLUMNS, build_report, funnel_section, trend_period
from kassa.settings import Settings
from kassa.store import Warehouse
from kassa.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    LoginLimiter,
    Sessions,
    same_token,
)
from kassa.web.users import User, UserStore

_ = Translator("web")

# The overview's cards: money in, money out, and what each sale and each ruble of cost returned.
OVERVIEW_METRICS = ("payments", "revenue", "marketing_cost", "romi", "cost_per_sale")
PUBLIC_PATHS = ("/login", "/static/vega.js")
LOCAL_USER = User("local", "owner")  # no users file: the server listens on loopback only (kassa serve)


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    pass


class NotFound(Exception):
    pass


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kassa.web", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


def wants_json(request: Request) -> bool:
    """``.json`` at the end of the path, or an Accept header that asks for JSON rather than HTML."""
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _json_script(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` element: cannot close the element it sits in."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


class Dashboard:
    """State of one running dashboard: the warehouse, its lock, users, sessions, the login limiter."""

    def __init__(self, db_path: Path, settings: Settings | None, users_required: bool) -> None:
        self.db_path = Path(db_path)
        self.wh = Warehouse.open(self.db_path, settings=settings or Settings(), read_only=False, create=False)
        self.lock = threading.Lock()
        self.users = UserStore.for_db(self.db_path)
        self.users_required = users_required
        self.sessions = Sessions(self.users.secret())
        self.limiter = LoginLimiter()

    def close(self) -> None:
        with self.lock:
            self.wh.close()

    @property
    def login_required(self) -> bool:
        # A user added while the server runs closes the anonymous door at once.
        return self.users_required or self.users.has_users()

    def session_of(self, request: Request) -> tuple[User, str] | None:
        if not self.login_required:
            return LOCAL_USER, request.cookies.get(LOGIN_CSRF_COOKIE, "")
        data = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        user = self.users.get(str(data["u"])) if data else None
        return (user, str(data["csrf"])) if user and data else None

    def locked(self, fn: Callable[[Warehouse], Any]) -> Any:
        with self.lock:
            return fn(self.wh)

    # -- data of the pages (the JSON twins) ---------------------------------------------------------------
    def default_period(self) -> str:
        """The month of the latest spend, lead or deal; the previous calendar month on an empty warehouse."""

        def latest(wh: Warehouse) -> dt.date | None:
            dates = []
            for table, col in (("spend", "date"), ("leads", "created_at"), ("deals", "created_at")):
                v = wh.table(table)[col].max().execute()
                if v is not None and v == v:
                    dates.append(v.date() if isinstance(v, dt.datetime) else v)
            return max(dates) if dates else None

        d = self.locked(latest)
        if d is None:
            d = dt.date.today().replace(day=1) - dt.timedelta(days=1)
        return f"{d:%Y-%m}"

    def overview(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        """Money in and out of ``period`` and the previous period, the headline lines and the trend chart.

        ``change = current / previous − 1`` (``None`` when the previous value is 0 or missing).
        """
        scope = user.channel_filter
        where = {"channel": scope} if scope is not None else None
        prev = period.previous()

        def build(wh: Warehouse) -> dict[str, Any]:
            cur = compute(wh, list(OVERVIEW_METRICS), None, period, where=where, with_total=False)
            old = compute(wh, list(OVERVIEW_METRICS), None, prev, where=where, with_total=False)
            c = cur.frame.to_dicts()[0] if cur.frame.height else {}
            o = old.frame.to_dicts()[0] if old.frame.height else {}
            # Built once per period and language until the next write (the warehouse forgets memos on writes).
            report = (
                wh.memo(("web.report", period.label, lang), lambda: build_report(wh, period, lang))
                if user.can("see_totals")
                else None
            )
            months = None if report is not None else scoped_months(wh, period, where)
            return {"c": c, "o": o, "report": report, "months": months, "warnings": cur.warnings}

        got = self.locked(build)
        cards = []
        for name in OVERVIEW_METRICS:
            m = CATALOG[name]
            now, before = got["c"].get(name), got["o"].get(name)
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
                }
            )
        headline: list[dict[str, str]] = []
        charts: list[dict[str, Any]] = []
        report = got["report"]
        if report is not None:
            for block in report.section("headline").blocks:
                headline += [{"text": line.text, "tone": line.tone} for line in getattr(block, "items", [])]
            charts = [
                {"key": c.key, "title": c.title, "caption": c.caption, "spec": c.spec}
                for c in report.section("money_vs_activity").charts()
                if c.key == "money_vs_activity"
            ]
        elif got["months"]:
            # The report's chart, drawn from the scoped channels only.
            present = [n for n in report_charts.TREND_METRICS if any(r.get(n) for r in got["months"])]
            charts = [
                {
                    "key": "money_vs_activity",
                    "title": _("Money vs activity", lang),
                    "caption": _(
                        "Index = the month's value / the value of the first month with any × 100.", lang
                    ),
                    "spec": report_charts.money_vs_activity_chart(
                        got["months"], present, lang=lang, currency=self.wh.settings.currency
                    ),
                }
            ]
        return {
            "page": "overview",
            "period": period.label,
            "previous_period": prev.label,
            "lang": lang,
            "currency": self.wh.settings.currency,
            "scope": scope,
            "cards": cards,
            "headline": headline,
            "charts": charts,
            "warnings": got["warnings"],
        }

    def funnel(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        """The report's funnel section (table and chart) over the channels this user may see."""
        scope = user.channel_filter
        where = {"channel": scope} if scope is not None else None
        currency = self.wh.settings.currency
        table = self.locked(lambda wh: compute(wh, None, "channel", period, where=where))
        section = funnel_section(table, lang, currency)
        (funnel,) = section.tables()
        return {
            "page": "funnel",
            "period": period.label,
            "lang": lang,
            "currency": currency,
            "scope": scope,
            "title": section.title,
            "intro": section.intro,
            "note": funnel.note,
            "columns": [
                {"key": c.key, "label": c.label, "unit": c.unit, "tier": c.tier} for c in funnel.columns
            ],
            "rows": [{k: _no_nan(v) for k, v in r.items()} for r in funnel.rows],
            "total": {k: _no_nan(v) for k, v in funnel.total.items()} if funnel.total else None,
            "charts": [
                {"key": c.key, "title": c.title, "caption": c.caption, "spec": c.spec}
                for c in section.charts()
            ],
            "warnings": table.warnings,
        }

    def data(self, user: User, lang: str) -> dict[str, Any]:
        """The import batches, newest first (what ``kassa imports`` lists). Not for an agency: file names and row
        counts describe every channel's data."""
        if not user.can("see_totals"):
            raise Forbidden()
        keys = (
            "batch_id",
            "file",
            "format",
            "kind",
            "rows_read",
            "rows_loaded",
            "rows_rejected",
            "rows_replaced",
            "period_start",
            "period_end",
            "loaded_at",
            "undone_at",
        )
        batches = self.locked(lambda wh: wh.batches())
        rows = [
            {
                k: (
                    v.isoformat(sep=" ")
                    if isinstance(v, dt.datetime)
                    else v.isoformat()
                    if isinstance(v, dt.date)
                    else v
                )
                for k, v in b.items()
                if k in keys
            }
            for b in reversed(batches)
        ]
        return {"page": "data", "lang": lang, "period": "", "batches": rows, "can_upload": user.can("upload")}

    def channels(self, user: User, period: Period, lang: str, channel: str | None = None) -> dict[str, Any]:
        """The money trail per channel, or per campaign of one ``channel``; activity in its own columns."""
        scope = user.channel_filter
        if channel is not None and scope is not None and channel not in scope:
            raise NotFound(channel)
        chosen = [channel] if channel is not None else scope
        where = {"channel": chosen} if chosen is not None else None
        by = ["channel", "campaign"] if channel is not None else ["channel"]
        table = self.locked(lambda wh: compute(wh, None, by, period, where=where))

        def col(n: str) -> dict[str, Any]:
            m = CATALOG[n]
            return {"key": n, "label": m.label(lang), "tier": m.tier.value, "unit": m.unit}

        rows = [
            {k: r.get(k) for k in [*by, *FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]} for r in table.to_json()["rows"]
        ]
        rows.sort(
            key=lambda r: (-(r.get("revenue") or 0.0), -(r.get("marketing_cost") or 0.0), str(r[by[-1]]))
        )
        total = table.to_json()["total"]
        return {
            "page": "channel" if channel else "channels",
            "period": period.label,
            "lang": lang,
            "channel": channel,
            "currency": self.wh.settings.currency,
            "scope": scope,
            "by": by,
            "funnel_columns": [col(n) for n in FUNNEL_COLUMNS],
            "activity_columns": [col(n) for n in ACTIVITY_COLUMNS],
            "rows": rows,
            "total": {k: total.get(k) for k in [*FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]} if total else None,
            "warnings": table.warnings,
        }


def _no_nan(v: Any) -> Any:
    """NaN and infinity leave the dashboard as "no value" (JSON ``null``), as everywhere in kassa."""
    return None if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) else v


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


def require_user(request: Request) -> tuple[User, str]:
    """(user, CSRF token) of the request's session; :class:`NotAuthenticated` (401 or login page) if none."""
    dash: Dashboard = request.app.state.dashboard
    got = dash.session_of(request)
    if got is None:
        raise NotAuthenticated()
    return got


Session = Annotated[tuple[User, str], Depends(require_user)]


def create_app(
    db_path: Path | str, settings: Settings | None = None, *, users_required: bool = True
) -> FastAPI:
    """The dashboard of the warehouse at ``db_path``.

    ``users_required=False`` lets requests in without a session while the users file is empty (``kassa serve``
    then listens on loopback only); as soon as a user exists, every data route needs a session.
    """
    dash = Dashboard(Path(db_path), settings, users_required)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        dash.close()  # releases the warehouse's write lock when the server stops

    app = FastAPI(title="kassa", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.dashboard = dash

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang", "en")
        if lang not in LANGS:
            raise KassaError(
                _("Unknown language {name}; use one of {langs}.", "en", name=lang, langs=", ".join(LANGS))
            )
        return lang

    def period_of(request: Request) -> Period:
        return Period.parse(request.query_params.get("period") or dash.default_period())

    def render(
        request: Request,
        template: str,
        data: dict[str, Any],
        session: tuple[User, str] | None,
        status: int = 200,
    ) -> Response:
        if wants_json(request):
            return JSONResponse(data, status_code=status)
        lang = str(data.get("lang", "en"))
        currency = dash.wh.settings.currency

        def here(**changes: str) -> str:
            q = {k: v for k, v in request.query_params.items()}
            q.update(changes)
            return request.url.path + ("?" + urlencode(q) if q else "")

        def link(path: str) -> str:
            q = {k: v for k, v in request.query_params.items() if k in ("period", "lang")}
            return path + ("?" + urlencode(q) if q else "")

        html = (
            _env()
            .get_template(template)
            .render(
                d=data,
                lang=lang,
                t=lambda msg, **kw: _(msg, lang, **kw),
                show=lambda v, unit: show(v, unit, lang, currency),
                here=here,
                link=link,
                quote=quote,
                user=session[0] if session else None,
                csrf=session[1] if session else "",
                login_required=dash.login_required,
                json_script=_json_script,
            )
        )
        return HTMLResponse(html, status_code=status)

    @app.middleware("http")
    async def safety_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        resp = await call_next(request)
        # The server's own time for the page (W3C Server-Timing): what `make bench` reads for the overview.
        resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of the login or logout forms
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages hold money figures: no shared or browser cache keeps them after logout.
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.exception_handler(NotAuthenticated)
    def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)

    @app.exception_handler(NotFound)
    def _not_found(request: Request, exc: NotFound) -> Response:
        return JSONResponse({"error": "not found"}, status_code=404)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return JSONResponse({"error": "forbidden"}, status_code=403)

    @app.exception_handler(KassaError)
    def _kassa_error(request: Request, exc: KassaError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    # -- login ---------------------------------------------------------------------------------------------
    def safe_next(target: str | None) -> str:
        # Only a path of this site: "//evil.example" or "https://…" would make the login an open redirect.
        return target if target and target.startswith("/") and not target.startswith("//") else "/overview"

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None, error: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        lang = lang_of(request)
        data = {"lang": lang, "next": safe_next(next), "error": error or ""}
        html = (
            _env()
            .get_template("login.html.j2")
            .render(
                d=data,
                lang=lang,
                t=lambda msg, **kw: _(msg, lang, **kw),
                csrf=token,
                user=None,
                login_required=True,
                here=lambda **kw: "/login",
                link=lambda p: p,
            )
        )
        resp = HTMLResponse(html)
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", max_age=3600)
        return resp

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        csrf: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/overview",
    ) -> Response:
        lang = lang_of(request)
        if not same_token(csrf, request.cookies.get(LOGIN_CSRF_COOKIE)):
            return JSONResponse(
                {"error": _("The form expired; open the login page again.", lang)}, status_code=403
            )
        key = (request.client.host if request.client else "?", username)
        if dash.limiter.blocked(key):
            return JSONResponse(
                {"error": _("Too many failed logins; try again in 15 minutes.", lang)}, status_code=429
            )
        user = dash.users.authenticate(username, password)
        if user is None:
            dash.limiter.failed(key)
            return RedirectResponse(
                "/login?" + urlencode({"next": safe_next(next), "error": "1", "lang": lang}), status_code=303
            )
        dash.limiter.succeeded(key)
        cookie, _csrf = dash.sessions.issue(user.name)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", max_age=SESSION_SECONDS)
        resp.delete_cookie(LOGIN_CSRF_COOKIE)
        return resp

    @app.post("/logout")
    def logout(session: Session, csrf: Annotated[str, Form()]) -> Response:
        if not same_token(csrf, session[1]):
            raise Forbidden()
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    @app.get("/static/vega.js")
    def vega_js() -> Response:
        # Vega, Vega-Lite and vega-embed from vl-convert: charts draw with no internet connection.
        return Response(
            vega_bundle(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # -- pages ---------------------------------------------------------------------------------------------
    @app.get("/")
    def home(session: Session, request: Request) -> Response:
        q = request.url.query
        return RedirectResponse("/overview" + ("?" + q if q else ""), status_code=303)

    @app.get("/overview")
    @app.get("/overview.json")
    def overview(session: Session, request: Request) -> Response:
        data = dash.overview(session[0], period_of(request), lang_of(request))
        return render(request, "overview.html.j2", data, session)

    @app.get("/funnel")
    @app.get("/funnel.json")
    def funnel(session: Session, request: Request) -> Response:
        data = dash.funnel(session[0], period_of(request), lang_of(request))
        return render(request, "funnel.html.j2", data, session)

    @app.get("/data")
    @app.get("/data.json")
    def data(session: Session, request: Request) -> Response:
        return render(request, "data.html.j2", dash.data(session[0], lang_of(request)), session)

    @app.get("/channels")
    @app.get("/channels.json")
    def channels(session: Session, request: Request) -> Response:
        data = dash.channels(session[0], period_of(request), lang_of(request))
        return render(request, "channels.html.j2", data, session)

    @app.get("/channels/{channel}")
    def channel(session: Session, request: Request, channel: str) -> Response:
        channel = channel.removesuffix(".json")
        data = dash.channels(session[0], period_of(request), lang_of(request), channel)
        return render(request, "channels.html.j2", data, session)

    return app
