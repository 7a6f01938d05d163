"""Issue 14 items 8 and 11: a channel's name cannot take the page apart, and every name can be opened.

A channel named ``<!--<script>`` used to remove every chart of the report: the report's JSON rewrote only
``</script``, and ``<!--<script>`` puts the HTML parser in a state where the JSON element's own
``</script>`` no longer ends it. Python's ``html.parser`` does not model that state, so
:func:`browser_scripts` splits a page into script elements as the HTML standard's tokenizer does (script
data, escaped and double-escaped states), and the tests read the charts back from what a browser sees.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from tests.web.helpers import LOCAL

from kassa.report.html import vega_bundle
from kassa.store import Warehouse
from kassa.web import create_app

HOSTILE = "<!--<script>"
SLASHED = "partners/offline"
_END = "\t\n\f />"


def browser_scripts(html: str) -> list[tuple[str, str]]:
    """``(attributes, text)`` of every script element, split where a browser splits them (WHATWG HTML
    13.2.5.4–13.2.5.31: ``<!--`` enters the escaped state, ``<script`` there the double-escaped one, in
    which ``</script>`` does not end the element)."""
    out = []
    opening = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
    at = 0
    while (m := opening.search(html, at)) is not None:
        start = k = m.end()
        state, end = "data", len(html)
        low = html.lower()
        while k < len(html):
            closes = low.startswith("</script", k) and html[k + 8 : k + 9] in _END
            if low.startswith("-->", k) and state != "data":
                state, k = "data", k + 3
            elif closes and state != "double":
                end = k
                break
            elif closes:
                state, k = "escaped", k + 8
            elif state == "data" and low.startswith("<!--", k):
                state, k = "escaped", k + 4
            elif state == "escaped" and low.startswith("<script", k) and html[k + 7 : k + 8] in _END:
                state, k = "double", k + 7
            else:
                k += 1
        out.append((m.group(1), html[start:end]))
        at = end + 1
    return out


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def check_scripts(resp) -> list[object]:
    """Every JSON element parses; every inline script a browser would run is allowed by the page's CSP
    (and nothing else is); returns the parsed JSON elements."""
    policy = resp.headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    parsed = []
    for attrs, text in browser_scripts(resp.text):
        if 'type="application/json"' in attrs:
            parsed.append(json.loads(text))
        elif "src=" not in attrs:
            assert _sha(text) in script_src, text[:200]
    return parsed


@pytest.fixture
def hostile_db(golden_file: Path, tmp_path: Path) -> Path:
    """The golden warehouse with spend and leads of a channel named ``<!--<script>`` and one with a ``/``."""
    db = tmp_path / "w.duckdb"
    shutil.copy(golden_file, db)
    spend = tmp_path / "more_spend.csv"
    with spend.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["date", "channel", "campaign", "impressions", "clicks", "cost"])
        w.writerow(["2026-10-05", HOSTILE, HOSTILE, 1000, 50, 4000])
        w.writerow(["2026-10-06", SLASHED, "flyers/october", 10, 1, 700])
    with Warehouse.open(db) as wh:
        wh.import_files([spend], strict=True)
    return db


@pytest.fixture
def client(hostile_db: Path) -> Iterator[TestClient]:
    app = create_app(hostile_db, users_required=False, warm=False)
    try:
        yield TestClient(app, base_url=LOCAL)
    finally:
        app.state.dashboard.close()


def test_a_hostile_channel_name_leaves_every_report_chart_drawn(client: TestClient) -> None:
    resp = client.get("/report.html?period=2026-10")
    assert resp.status_code == 200
    specs = check_scripts(resp)
    assert len(specs) == 1 and isinstance(specs[0], dict) and len(specs[0]) >= 4
    assert HOSTILE in json.dumps(specs[0], ensure_ascii=False)  # the name is there, as data
    # After the specs a browser still sees the script that draws them, one vegaEmbed per chart.
    scripts = browser_scripts(resp.text)
    assert "vegaEmbed" in scripts[-1][1] and 'type="application/json"' in scripts[-2][0]
    assert "ast: true" in scripts[-1][1]  # Vega's expression interpreter: no eval under the CSP
    for div in specs[0]:
        assert f'id="{div}"' in resp.text


@pytest.mark.parametrize("path", ["/overview", "/funnel", "/channels", "/kpi", "/data", "/login"])
def test_pages_send_a_policy_that_allows_their_own_scripts_only(client: TestClient, path: str) -> None:
    resp = client.get(path + "?period=2026-10")
    assert resp.status_code == 200, resp.text
    check_scripts(resp)
    policy = resp.headers["content-security-policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in policy


def test_no_page_uses_inline_event_handlers(client: TestClient) -> None:
    for path in ("/overview", "/funnel", "/channels", "/kpi", "/data", "/kpi/edit"):
        html = re.sub(r"<script\b.*?</script>", "", client.get(path + "?period=2026-10").text, flags=re.S)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path


def test_json_twins_and_downloads_carry_the_policy_too(client: TestClient) -> None:
    for path in ("/overview.json", "/channels.csv", "/static/htmx.js"):
        assert "script-src" in client.get(path + "?period=2026-10").headers["content-security-policy"]


def test_vega_bundle_cannot_open_a_comment_or_a_script() -> None:
    # The bundle is inlined as code with only "</script" rewritten (report/html.py _script_safe).
    low = vega_bundle().lower()
    assert "<!--" not in low and "<script" not in low


def test_a_channel_with_a_slash_can_be_drilled_into(client: TestClient) -> None:
    listed = client.get("/channels?period=2026-10").text
    href = "/channels/" + quote(SLASHED, safe="")
    assert href in listed
    page = client.get(href + ".json?period=2026-10")
    assert page.status_code == 200, page.text
    assert page.json()["channel"] == SLASHED
    assert [r["campaign"] for r in page.json()["rows"]] == ["flyers/october"]
    assert client.get(href + "?period=2026-10").status_code == 200
    got = client.get(href + ".csv?period=2026-10")
    assert got.status_code == 200 and "flyers/october" in got.text
    assert "filename*=UTF-8''partners_offline-2026-10.csv" in got.headers["content-disposition"]
