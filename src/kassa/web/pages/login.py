"""Logging in and out: the login page (``/login``), its form (``POST /login``, rate-limited per client
address and user name) and ``POST /logout``. The only pages open without a session."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kassa.i18n import Translator
from kassa.web.dependencies import DashboardState, Lang, Visitor, lang_of
from kassa.web.render import fill
from kassa.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_SECONDS, same_token

_ = Translator("web")
router = APIRouter()


def safe_next(target: str | None) -> str:
    # Only a path of this site: "//evil.example" or "https://…" would make the login an open redirect.
    return target if target and target.startswith("/") and not target.startswith("//") else "/overview"


@router.get("/login", response_class=HTMLResponse)
def login_page(lang: Lang, next: str | None = None, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    data = {"lang": lang, "next": safe_next(next), "error": error or ""}
    html = fill(
        "login.html.j2",
        data,
        lang,
        csrf=token,
        user=None,
        login_required=True,
        here=lambda **kw: "/login",
        link=lambda p: p,
    )
    resp = HTMLResponse(html)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", max_age=3600)
    return resp


@router.post("/login")
def login(
    request: Request,
    dash: DashboardState,
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


@router.post("/logout")
def logout(visit: Visitor, csrf: Annotated[str, Form()]) -> Response:
    visit.allowed(csrf)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp
