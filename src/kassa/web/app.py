"""The dashboard: FastAPI routes and server-rendered Jinja2 pages, each with a JSON twin at the same URL.

``create_app(db_path)`` opens the warehouse once, as its single writer (so a CLI import while the server
runs gets the warehouse's "open for writing by another process" message). What each page shows is built
by :class:`kassa.web.dashboard.Dashboard`; this module handles sessions, forms, uploads and rendering.

A page answers JSON when its URL ends in ``.json`` or the request prefers ``application/json``.
Every route but ``/login`` and the static JavaScript needs a session when users exist; an ``agency``
user's numbers are computed with ``where={"channel": scope}``, so totals never include other channels.
Every POST carries the session's CSRF token; uploading data and editing contracts need the ``owner`` or
``marketer`` role.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from kassa.errors import ConfigError, KassaError
from kassa.i18n import LANGS, Translator, fmt_change
from kassa.period import Period
from kassa.report.html import render_html, show, templates, vega_bundle
from kassa.report.xlsx import render_xlsx
from kassa.settings import Settings
from kassa.web.dashboard import Dashboard, Forbidden, NotFound
from kassa.web.security import (
    LOCAL_CSRF_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    same_token,
)
from kassa.web.uploads import (
    FORM_SLACK,
    MAPPING_MAX_BYTES,
    MAPPING_SUFFIXES,
    BodyLimit,
    UploadOutcome,
    UploadRefused,
    receive,
    uploads_dir,
)
from kassa.web.users import User

_ = Translator("web")
log = logging.getLogger("kassa.web")

PUBLIC_PATHS = ("/login", "/static/vega.js", "/static/htmx.js")
HTMX_FILE = "htmx-2.0.11.min.js"  # htmx 2.0.11 (0BSD, static/htmx-LICENSE.txt), served locally like Vega


class NotAuthenticated(Exception):
    pass


def _env() -> jinja2.Environment:
    return templates("kassa.web")


@cache
def _htmx() -> bytes:
    return (resources.files("kassa.web") / "static" / HTMX_FILE).read_bytes()


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


def require_user(request: Request) -> tuple[User, str]:
    """(user, CSRF token) of the request's session; :class:`NotAuthenticated` (401 or login page) if none."""
    dash: Dashboard = request.app.state.dashboard
    got = dash.session_of(request)
    if got is None:
        raise NotAuthenticated()
    return got


Session = Annotated[tuple[User, str], Depends(require_user)]
Action = Literal["upload", "edit_contracts"]


def allowed(session: tuple[User, str], csrf: str, action: Action | None = None) -> User:
    """The session's user if the form's token is the session's and the user may do ``action``; else 403."""
    user, token = session
    if not same_token(csrf, token) or (action is not None and not user.can(action)):
        raise Forbidden()
    return user


def create_app(
    db_path: Path | str,
    settings: Settings | None = None,
    *,
    users_required: bool = True,
    max_upload_bytes: int | None = None,
    warm: bool = True,
) -> FastAPI:
    """The dashboard of the warehouse at ``db_path``.

    ``users_required=False`` lets requests in without a session while the users file is empty (``kassa serve``
    then listens on loopback only); as soon as a user exists, every data route needs a session.
    ``max_upload_bytes`` caps a Data page upload (default 50 MiB). With ``warm``, the server builds the latest
    month's overview in the background as it starts, so the first visitor does not wait for it.
    """
    dash = Dashboard(Path(db_path), settings, users_required)
    if max_upload_bytes is not None:
        dash.max_upload_bytes = max_upload_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm:
            dash.warm_in_background()
        yield
        dash.close()  # releases the warehouse's write lock when the server stops

    # The schema is built (tests fuzz it with schemathesis) but not served: it would list every route to anyone.
    app = FastAPI(title="kassa", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.dashboard = dash
    # Uploads may be as large as the limit (plus the form around them); every other form is small.
    app.add_middleware(
        BodyLimit,
        limit_of=lambda path: dash.max_upload_bytes + FORM_SLACK if path == "/data/upload" else FORM_SLACK,
    )

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
            return link_of(request, path)

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
                path=request.url.path,
                fmt_change=lambda v: fmt_change(v, lang),
            )
        )
        return HTMLResponse(html, status_code=status)

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
            return JSONResponse({"error": str(exc)}, status_code=400)
        kept = {k: v for k, v in q.items() if k not in ("pick", "month", "week", "from", "to", "period")}
        return RedirectResponse(
            request.url.path + "?" + urlencode({"period": period.label, **kept}), status_code=303
        )

    @app.middleware("http")
    async def safety_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        picked = picked_period(request)
        resp = picked if picked is not None else await call_next(request)
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
        cookie, _csrf = dash.sessions.issue(user.name, dash.stamp(user))
        resp = RedirectResponse(safe_next(next), status_code=303)
        # Secure when the page came over HTTPS (behind a TLS proxy, run uvicorn with --proxy-headers).
        resp.set_cookie(
            SESSION_COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            max_age=SESSION_SECONDS,
            secure=request.url.scheme == "https",
        )
        resp.delete_cookie(LOGIN_CSRF_COOKIE)
        return resp

    @app.post("/logout")
    def logout(session: Session, csrf: Annotated[str, Form()]) -> Response:
        if not same_token(csrf, session[1]):
            raise Forbidden()
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    @app.get("/static/htmx.js")
    def htmx_js() -> Response:
        return Response(
            _htmx(), media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

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

    @app.get("/channels")
    @app.get("/channels.json")
    def channels(session: Session, request: Request, model: str | None = None) -> Response:
        data = dash.channels(session[0], period_of(request), lang_of(request), model=model or None)
        return render(request, "channels.html.j2", data, session)

    @app.get("/channels/{channel}")
    def channel(session: Session, request: Request, channel: str, model: str | None = None) -> Response:
        if channel.endswith(".csv"):  # the campaigns of one channel as a download
            name, period = channel.removesuffix(".csv"), period_of(request)
            body = dash.channels_csv(session[0], period, lang_of(request), name)
            headers = attachment(f"{name}-{period.label}.csv")
            return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
        channel = channel.removesuffix(".json")
        data = dash.channels(session[0], period_of(request), lang_of(request), channel, model=model or None)
        return render(request, "channels.html.j2", data, session)

    # -- exports: the report and the channel table ---------------------------------------------------------
    @app.get("/report.html")
    def report_html(session: Session, request: Request) -> Response:
        """The month-end report (as ``kassa report``), charts drawn by the served Vega: works offline."""
        data = dash.report(session[0], period_of(request), lang_of(request))
        return HTMLResponse(render_html(data))

    @app.get("/report.xlsx")
    def report_xlsx(session: Session, request: Request) -> Response:
        period = period_of(request)
        data = dash.report(session[0], period, lang_of(request))
        with tempfile.TemporaryDirectory() as tmp:
            body = render_xlsx(data, Path(tmp) / "report.xlsx").read_bytes()
        return Response(body, media_type=XLSX_TYPE, headers=attachment(f"kassa-{period.label}.xlsx"))

    @app.get("/channels.csv")
    def channels_csv(session: Session, request: Request) -> Response:
        period = period_of(request)
        body = dash.channels_csv(session[0], period, lang_of(request))
        return Response(
            body, media_type="text/csv; charset=utf-8", headers=attachment(f"channels-{period.label}.csv")
        )

    # -- data: imports, uploads, undo ----------------------------------------------------------------------
    @app.get("/data")
    @app.get("/data.json")
    def data(session: Session, request: Request) -> Response:
        page = dash.data(session[0], period_of(request), lang_of(request))
        return render(request, "data.html.j2", page | {"outcome": None}, session)

    @app.post("/data/upload")
    async def upload(
        session: Session,
        request: Request,
        csrf: Annotated[str, Form()],
        file: Annotated[UploadFile, File()],
        format: Annotated[str, Form()] = "",
        kind: Annotated[str, Form()] = "",
        skip_refused: Annotated[bool, Form()] = False,
        mapping: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        """Import one file with the same importers as ``kassa import`` (strict unless ``skip_refused``);
        ``mapping`` is the YAML ``kassa import --mapping`` takes (generic files, CRM stages, bank columns)."""
        user = allowed(session, csrf, "upload")
        lang = lang_of(request)
        folder = uploads_dir(dash.db_path)
        mapping_path = None
        try:
            if mapping is not None and mapping.filename:
                mapping_path = await receive(mapping, folder, MAPPING_MAX_BYTES, lang, MAPPING_SUFFIXES)
            path = await receive(file, folder, dash.max_upload_bytes, lang)
        except UploadRefused as exc:
            if mapping_path is not None:
                mapping_path.unlink(missing_ok=True)
            outcome = UploadOutcome(file.filename or "", False, str(exc), status=exc.status)
        else:
            outcome = dash.import_upload(path, format or None, kind or None, skip_refused, lang, mapping_path)
            if outcome.ok and warm:
                dash.warm_in_background()
        if wants_json(request):
            return JSONResponse(outcome.to_json(), status_code=outcome.status)
        page = dash.data(user, period_of(request), lang) | {"outcome": outcome.to_json()}
        return render(request, "data.html.j2", page, session, status=outcome.status)

    @app.post("/data/undo")
    def undo(
        session: Session, request: Request, csrf: Annotated[str, Form()], batch_id: Annotated[int, Form()]
    ) -> Response:
        allowed(session, csrf, "upload")
        result = dash.undo(batch_id)
        if warm:
            dash.warm_in_background()
        if wants_json(request):
            return JSONResponse({"batch_id": batch_id, **result})
        return RedirectResponse(link_of(request, "/data"), status_code=303)

    # -- KPI contracts -------------------------------------------------------------------------------------
    @app.get("/kpi")
    @app.get("/kpi.json")
    def kpi(session: Session, request: Request) -> Response:
        data = dash.kpi(session[0], period_of(request), lang_of(request))
        return render(request, "kpi.html.j2", data, session)

    def editor(
        request: Request,
        session: tuple[User, str],
        text: str,
        slug: str | None,
        problems: list[dict[str, Any]] | None = None,
        lint_lines: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        lang = lang_of(request)
        data = {
            "page": "kpi_edit",
            "lang": lang,
            "period": request.query_params.get("period", ""),
            "slug": slug,
            "text": text,
            "problems": problems or [],
            "lint": lint_lines or [],
            "examples": dash.kpi_examples(),
        }
        return render(request, "kpi_edit.html.j2", data, session, status=status)

    @app.get("/kpi/edit")
    def kpi_edit(
        session: Session, request: Request, slug: str | None = None, example: str | None = None
    ) -> Response:
        if not session[0].can("edit_contracts"):
            raise Forbidden()
        text, found = dash.contract_text(session[0], slug, example)
        return editor(request, session, text, found)

    def contract_problems(text: str, lang: str) -> tuple[list[dict[str, Any]], list[str]]:
        """(validation problems, lint warnings) of contract YAML, without saving it."""
        try:
            contract = dash.parse_contract(text)
        except ConfigError as exc:
            return [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems], []
        return [], dash.lint_messages(contract, lang)

    @app.post("/kpi/check")
    def kpi_check(
        session: Session, request: Request, csrf: Annotated[str, Form()], text: Annotated[str, Form()]
    ) -> Response:
        """Validate and lint a contract as it is typed (htmx swaps the answer in); nothing is saved."""
        allowed(session, csrf, "edit_contracts")
        lang = lang_of(request)
        problems, warnings = contract_problems(text, lang)
        data = {"lang": lang, "problems": problems, "lint": warnings, "ok": not problems}
        if wants_json(request):
            return JSONResponse(data)
        return render(request, "kpi_problems.html.j2", data, session)

    @app.post("/kpi/save")
    async def kpi_save(
        session: Session,
        request: Request,
        csrf: Annotated[str, Form()],
        text: Annotated[str, Form()] = "",
        replaces: Annotated[str, Form()] = "",
        file: Annotated[UploadFile | None, File()] = None,
    ) -> Response:
        """Save a contract typed in the editor or uploaded as a YAML file, once it validates."""
        allowed(session, csrf, "edit_contracts")
        if file is not None and file.filename:
            raw = await file.read(CONTRACT_MAX_BYTES + 1)
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = ""
                problems: list[dict[str, Any]] = [
                    {"line": None, "field": None, "message": "the file is not UTF-8 text"}
                ]
                return kpi_refused(request, session, text, replaces, problems)
        try:
            slug = dash.save_contract(text, replaces or None)
        except ConfigError as exc:
            problems = [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems] or [
                {"line": None, "field": None, "message": str(exc)}
            ]
            return kpi_refused(request, session, text, replaces, problems)
        if wants_json(request):
            return JSONResponse({"saved": slug}, status_code=201)
        return RedirectResponse(link_of(request, "/kpi") + f"#contract-{quote(slug)}", status_code=303)

    def kpi_refused(
        request: Request,
        session: tuple[User, str],
        text: str,
        replaces: str,
        problems: list[dict[str, Any]],
    ) -> Response:
        if wants_json(request):
            return JSONResponse({"saved": None, "problems": problems}, status_code=422)
        return editor(request, session, text, replaces or None, problems, status=422)

    @app.post("/kpi/delete")
    def kpi_delete(
        session: Session, request: Request, csrf: Annotated[str, Form()], slug: Annotated[str, Form()]
    ) -> Response:
        allowed(session, csrf, "edit_contracts")
        if not dash.delete_contract(slug):
            raise NotFound(slug)
        if wants_json(request):
            return JSONResponse({"deleted": slug})
        return RedirectResponse(link_of(request, "/kpi"), status_code=303)

    return app


def attachment(name: str) -> dict[str, str]:
    """A download named ``name`` (RFC 6266 with a UTF-8 name: channel names may be Cyrillic)."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


def link_of(request: Request, path: str) -> str:
    """``path`` with the request's period and language kept."""
    q = {k: v for k, v in request.query_params.items() if k in ("period", "lang")}
    return path + ("?" + urlencode(q) if q else "")


CONTRACT_MAX_BYTES = 64 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
