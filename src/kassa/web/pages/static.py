"""The JavaScript the pages load, served from the package so the dashboard works with no internet
connection: ``/static/htmx.js`` and ``/static/vega.js`` (open without a session)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.report.html import vega_bundle

router = APIRouter()
HTMX_FILE = "htmx-2.0.11.min.js"  # htmx 2.0.11 (0BSD, static/htmx-LICENSE.txt), served locally like Vega


@cache
def _htmx() -> bytes:
    return (resources.files("kassa.web") / "static" / HTMX_FILE).read_bytes()


def _script(body: bytes | str) -> Response:
    return Response(
        body, media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/static/htmx.js")
def htmx_js() -> Response:
    return _script(_htmx())


@router.get("/static/vega.js")
def vega_js() -> Response:
    # Vega, Vega-Lite and vega-embed from vl-convert: charts draw with no internet connection.
    return _script(vega_bundle())
