"""Answering with a page: its template filled with the page's data, or the data itself as its JSON twin.

A page answers JSON when its URL ends in ``.json`` or the request prefers ``application/json``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from kassa.i18n import Translator, fmt_change
from kassa.report.html import script_json, show, show_in_row, show_marked, templates
from kassa.web.state import Dashboard
from kassa.web.users import User

_ = Translator("web")


def _env() -> jinja2.Environment:
    return templates("kassa.web")


def wants_json(request: Request) -> bool:
    """``.json`` at the end of the path, or an Accept header that asks for JSON rather than HTML."""
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def fill(template: str, data: dict[str, Any], lang: str, **context: Any) -> str:
    """The template filled with the page's data ``d``, its language and ``t`` (the page's translations)."""
    return (
        _env()
        .get_template(template)
        .render(d=data, lang=lang, t=lambda msg, **kw: _(msg, lang, **kw), **context)
    )


def page_response(
    request: Request,
    dash: Dashboard,
    template: str,
    data: dict[str, Any],
    session: tuple[User, str],
    status: int = 200,
) -> Response:
    """The page: ``data`` as JSON for its twin, else ``template`` filled with it."""
    if wants_json(request):
        return JSONResponse(data, status_code=status)
    lang = str(data.get("lang", "en"))
    currency = dash.currency

    def here(**changes: str) -> str:
        q = {k: v for k, v in request.query_params.items()}
        q.update(changes)
        return request.url.path + ("?" + urlencode(q) if q else "")

    html = fill(
        template,
        data,
        lang,
        show=lambda v, unit: show(v, unit, lang, currency),
        # A metric's cell with its "≈" / "≥" mark and the title saying why (kassa.report.html).
        show_in=lambda row, key, unit: show_in_row(row, key, unit, lang, currency),
        show_marked=lambda v, unit, estimated=False, incomplete=None: show_marked(
            v, unit, lang, currency, estimated=estimated, incomplete=incomplete
        ),
        here=here,
        link=lambda path: link_of(request, path),
        quote=quote,
        user=session[0],
        csrf=session[1],
        login_required=dash.login_required,
        json_script=script_json,
        path=request.url.path,
        fmt_change=lambda v: fmt_change(v, lang),
    )
    return HTMLResponse(html, status_code=status)


def link_of(request: Request, path: str) -> str:
    """``path`` with the request's period and language kept."""
    q = {k: v for k, v in request.query_params.items() if k in ("period", "lang")}
    return path + ("?" + urlencode(q) if q else "")


def attachment(name: str) -> dict[str, str]:
    """A download named ``name`` (RFC 6266 with a UTF-8 name: channel names may be Cyrillic)."""
    name = name.replace("/", "_").replace("\\", "_")  # a channel's name may hold a slash; a file's may not
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


def download(body: str | bytes, media_type: str, name: str) -> Response:
    """A file to save, named ``name``."""
    return Response(body, media_type=media_type, headers=attachment(name))


CSV_TYPE = "text/csv; charset=utf-8"
