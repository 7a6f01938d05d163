"""Logging in and out: the login page (``/login``), its form (``POST /login``, slowed down per client
address and user name by :class:`kassa.web.security.LoginLimiter`) and ``POST /logout``, which ends the
session on the server. The only pages open without a session."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kassa.i18n import Translator
from kassa.web.dependencies import DashboardState, Lang, Visitor, lang_of
from kassa.web.render import fill
from kassa.web.security import (
    LOGIN_CSRF_COOKIE,
    MAX_NAME,
    MAX_PASSWORD,
    SESSION_COOKIE,
    SESSION_SECONDS,
    retry_after,
    same_token,
)

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
    if len(username) > MAX_NAME or len(password) > MAX_PASSWORD:
        # Refused before the limiter and the password hash: a huge name costs neither memory nor time.
        field, n = ("username", MAX_NAME) if len(username) > MAX_NAME else ("password", MAX_PASSWORD)
        return JSONResponse(
            {"error": _("{field}: at most {n} characters", lang, field=field, n=n)}, status_code=400
        )
    # The client's address as the server saw it: a forwarded one only from a proxy given with
    # --trusted-proxy (create_app), never from a header anyone can send.
    ip = request.client.host if request.client else "?"
    wait = dash.limiter.wait(ip, username)
    if wait > 0:
        return JSONResponse(
            {"error": _("Too many failed logins; try again in {n} s.", lang, n=retry_after(wait))},
            status_code=429,
            headers={"Retry-After": retry_after(wait)},
        )
    user = dash.users.authenticate(username, password)
    if user is None:
        dash.limiter.failed(ip, username)
        return RedirectResponse(
            "/login?" + urlencode({"next": safe_next(next), "error": "1", "lang": lang}), status_code=303
        )
    dash.limiter.succeeded(ip, username)
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
    # The cookie is deleted, and its session id revoked: a copy of the cookie replayed later is refused.
    visit.dash.sessions.revoke(visit.request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp
