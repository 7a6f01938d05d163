"""Everything an agency sees comes from its channels: the repro of issue 14 (item 3) and a sweep."""

from __future__ import annotations

import io
import math
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web.helpers import USERS

from kassa.attribution import model_names
from kassa.attribution.money import MONEY_METRICS, attributed_money
from kassa.i18n import fmt_number
from kassa.kpi import EXAMPLES
from kassa.metrics.catalog import derived
from kassa.metrics.compute import compute
from kassa.metrics.formula import NUMBERS
from kassa.names import channel_name
from kassa.period import Period
from kassa.store import Warehouse

MISSPELT = (
    "name: VK retargeting\nscope:\n  channels: [vk_ads]\n  campaigns: [vk_retarget_sitee]\n"
    "kpis:\n  - metric: leads\n    target: 10\n    weight: 1\n"
)


def test_an_agency_is_not_told_how_many_tests_the_company_ran(as_user: Callable[[str], TestClient]) -> None:
    assert isinstance(as_user("olga").get("/funnel.json?period=2026-10").json()["tests"], int)
    vika = as_user("vika")
    assert vika.get("/funnel.json?period=2026-10").json()["tests"] is None
    assert "tests)" not in vika.get("/funnel?period=2026-10").text


def save_contract(client: TestClient, app: FastAPI, text: str) -> None:
    token = app.state.dashboard.sessions.read(client.cookies.get("kassa_session"))["csrf"]
    r = client.post("/kpi/save", data={"csrf": token, "text": text}, headers={"Accept": "application/json"})
    assert r.status_code == 201, r.text


def test_a_misspelt_campaign_names_only_the_agencys_campaigns(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    save_contract(as_user("olga"), app, MISSPELT)
    vika = as_user("vika")  # agency, scope vk_ads
    for url in ("/kpi.json?period=2026-10", "/kpi?period=2026-10"):
        text = vika.get(url).text
        assert "vk_retarget_sitee" in text  # the contract is the agency's: it is shown, with its hint
        # The hint names what its own channel has (vk_retarget), never the other channels' campaigns.
        assert "vk_retarget," in text or "vk_retarget." in text, text
        for other in ("ya_search", "tg_channel", "(not set)"):
            assert other not in text, (url, other)


# -- the sweep: every route, method, format and main query parameter, as each agency ----------------------
# Contracts the owner saves first: the repro's misspelt campaign, one of the agency's channels alone (no data
# in September: the "nothing in scope" hint lists channels), another channel's, and the whole company's.
SWEEP_CONTRACTS = {
    "vk-retargeting": MISSPELT,
    "vk-alone": "name: VK alone\nscope:\n  channels: [vk_ads]\nkpis:\n  - metric: leads\n    target: 10\n    weight: 1\n",
    "telegram-posts": (
        "name: Telegram posts\nscope:\n  channels: [telegram]\n"
        "kpis:\n  - metric: leads\n    target: 5\n    weight: 1\n"
    ),
    "direct-search": (
        "name: Direct search\nscope:\n  channels: [yandex_direct]\n  campaigns: [ya_serch]\n"
        "kpis:\n  - metric: revenue\n    target: 1000\n    weight: 1\n"
    ),
}
# Every kind of period once (none, a month with data and one without, months, a week, days): a second
# month of the same kind found nothing the first did not and cost the two sweeps ~20 s.
PERIODS = (None, "2026-10", "2026-11", "2026-07..2026-10", "2026-W41", "2026-10-01..2026-10-15")
STATIC = ("/static/vega.js", "/static/htmx.js")  # the same bytes for everyone (Vega's own source text)


def sweep_queries(path: str) -> list[dict[str, str]]:
    """The main query parameters of a route: every kind of period in both languages, and what the route
    itself takes (the attribution model of a channel table, the contract or example of the editor)."""
    out: list[dict[str, str]] = [{"period": p} if p else {} for p in PERIODS]
    out += [{"lang": "ru"} | ({"period": p} if p else {}) for p in PERIODS[:2]]  # Russian numbers and words
    out.append({"pick": "month", "month": "2026-09"})
    if path.startswith("/channels"):
        out += [{"period": "2026-10", "model": m} for m in model_names()] + [{"model": "nonsense"}]
    if path == "/kpi/edit":
        out += [{"slug": s} for s in SWEEP_CONTRACTS] + [{"example": e} for e in EXAMPLES]
    if path.startswith("/plan"):  # a typed target, the whole business, a wrong input, another window
        out += [
            {"period": "2026-11", "revenue": "250000"},
            {"period": "2026-11", "revenue": "250000", "by": "business", "lang": "ru"},
            {"period": "2026-10", "months": "1", "revenue": "1e6"},
            {"period": "2026-11", "revenue": "junk"},
        ]
    return out


def sweep_urls(app: FastAPI, scope: list[str], outside: list[str]) -> list[tuple[str, str]]:
    """(method, path) of every route of the app; a channel in the path is one inside the scope and one
    outside it, each as a page, its JSON twin and its CSV download."""
    out = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in STATIC:
            continue
        paths = [route.path]
        if "{channel}" in route.path:
            paths = [
                route.path.replace("{channel}", ch + suffix)
                for ch in (scope[0], outside[0])
                for suffix in ("", ".json", ".csv")
            ]
        out += [(m, p) for p in paths for m in sorted(route.methods or ())]
    return out


def forms_of(path: str, token: str) -> list[dict[str, str]]:
    """Forms a POST route takes: valid ones (the agency's own token) with each contract or batch."""
    if path in ("/kpi/check", "/kpi/save"):
        return [{"csrf": token, "text": t} for t in SWEEP_CONTRACTS.values()]
    if path == "/kpi/delete":
        return [{"csrf": token, "slug": s} for s in SWEEP_CONTRACTS]
    if path in ("/data/schedule/check", "/data/schedule/save"):  # an owner's form: 403 before it is read
        return [{"csrf": token, "text": "schedule:\n  jobs: []\n"}]
    if path == "/data/undo":
        return [{"csrf": token, "batch_id": "1"}]
    return [{"csrf": token}]


@dataclass
class Forbidden:
    """What an agency must never read, derived from the warehouse: the other channels' ids and names, their
    campaigns, every manager, and company totals that are not also one of the agency's own figures."""

    words: set[str]
    numbers: set[float]

    def __post_init__(self) -> None:
        # One pattern for all words and one for every written form of every number, built once: the sweep
        # reads ~450 answers, and a search per word and per form of each number was half its time.
        # Longest first, so that where one form is the start of another both are tried.
        forms = sorted({f for v in self.numbers for f in number_forms(v)}, key=lambda f: (-len(f), f))
        words = sorted(self.words, key=lambda w: (-len(w), w))
        self._words = (
            re.compile(rf"(?<![\w])(?:{'|'.join(map(re.escape, words))})(?![\w])") if words else None
        )
        self._numbers = (
            re.compile(rf"(?<![\d.,\xa0])(?:{'|'.join(map(re.escape, forms))})(?!\d|[.,]\d)")
            if forms
            else None
        )

    def found_in(self, text: str, asked: str = "") -> list[str]:
        """What of it ``text`` holds; a word the request itself carries (``asked``: its path, query and
        form, e.g. the out-of-scope channel it asked for) is an echo, not a leak."""
        hits = sorted({w for w in self._words.findall(text) if w not in asked}) if self._words else []
        if self._numbers:
            hits += [f"{form} (company total)" for form in sorted(set(self._numbers.findall(text)))]
        return hits


def number_forms(v: float) -> set[str]:
    """How a number may be written: JSON or CSV, and formatted in English and Russian."""
    forms = {fmt_number(v, lang, d) for lang in ("en", "ru") for d in (0, 1, 2)}
    if v == int(v):
        forms |= {str(int(v)), f"{v:.1f}"}
    else:
        forms |= {repr(v), f"{v:.2f}"}
    # Smaller numbers (a count of 6, an index of 100.0, a share) occur by chance on any page.
    return forms if abs(v) >= 1000 else set()


def all_periods() -> list[Period]:
    named = [Period.parse(p) for p in PERIODS if p]
    return named + [p.previous() for p in named]


def forbidden_for(wh: Warehouse, scope: list[str]) -> Forbidden:
    everything = Period.parse("2020-01..2030-12")
    rows = compute(wh, ["visits", "leads", "marketing_cost", "posts"], ["channel", "campaign"], everything)
    seen = rows.frame.select("channel", "campaign").to_dicts()
    mine = {str(r["campaign"]) for r in seen if r["channel"] in scope}
    words = {str(r["campaign"]) for r in seen if r["channel"] not in scope} - mine
    allowed = set(scope) | mine | {channel_name(ch, lang) for ch in scope for lang in ("en", "ru")}
    for ch in {str(r["channel"]) for r in seen} - set(scope):
        words |= {ch, channel_name(ch, "en"), channel_name(ch, "ru")}
    words |= {str(m) for m in wh.table("leads")["manager"].to_pyarrow().to_pylist() if m}
    words = {w for w in words if not any(w in a for a in allowed)}
    company: set[float] = set()
    own: set[float] = set()
    for p in all_periods():
        company |= values(compute(wh, None, [], p).frame)
        table = compute(wh, None, ["channel", "campaign"], p, where={"channel": scope})
        own |= values(table.frame) | values_of(table.total)
    own |= credited(wh, scope, Period.parse("2026-10"))
    return Forbidden(words, {v for v in company if round(v, 2) not in {round(o, 2) for o in own}})


def credited(wh: Warehouse, scope: list[str], period: Period) -> set[float]:
    """The agency's own figures under each attribution model (the attribution layer's, per channel and
    per campaign, and its channels' sums priced by the catalog's formulas): its own, however they fall."""
    out: set[float] = set()
    for model in model_names():
        for by in ("channel", "campaign"):
            rows = attributed_money(wh, period, model, by=by).filter(pl.col("channel").is_in(scope))
            out |= values(rows)
            sums = {
                k: float(rows[k].fill_null(0).sum()) for k in ("leads", "sales", "revenue", "marketing_cost")
            }
            totals = {**sums, "gross_profit": None, "margin_missing": sums["sales"]}
            out |= values_of(sums) | values_of(derived(MONEY_METRICS, totals, NUMBERS))
    return out


def values(frame: pl.DataFrame) -> set[float]:
    return {float(v) for r in frame.to_dicts() for v in r.values() if number(v)}


def values_of(row: dict[str, Any]) -> set[float]:
    return {float(v) for v in row.values() if number(v)}


def number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def readable(r: httpx.Response) -> str:
    """What a reader of the answer sees: its headers (a download's file name) and its body, an XLSX
    unpacked into the XML of its sheets."""
    # Not content-length: a page that happens to be 6 000 bytes long tells nothing of any channel's money.
    head = " ".join(f"{k}: {v}" for k, v in r.headers.items() if k.lower() != "content-length")
    if r.content.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return head + " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return head + " " + r.text


def outside_name(scope: list[str]) -> str:
    """The display name of a channel outside ``scope`` (the sweep must forbid it)."""
    return channel_name(next(ch for ch in ("vk_ads", "yandex_direct") if ch not in scope), "en")


AGENCIES = [name for name, (role, _) in USERS.items() if role == "agency"]


@pytest.mark.slow  # about 450 requests
def test_an_agency_of_one_channel_reads_nothing_outside_its_scope_anywhere(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    assert USERS["vika"][1] == ["vk_ads"]
    sweep(as_user, app, "vika")


# The agency of two channels (tanya) is swept in test_agency_scope_two_channels.py: a file of its own, so
# the two ~50 s sweeps run on two workers at once.


def sweep(as_user: Callable[[str], TestClient], app: FastAPI, name: str) -> None:
    """Every route, method, format and main parameter as agency ``name``: no out-of-scope string."""
    assert name in AGENCIES
    olga = as_user("olga")
    for text in SWEEP_CONTRACTS.values():
        save_contract(olga, app, text)
    scope = list(USERS[name][1] or [])
    dash = app.state.dashboard
    forbidden = dash.locked(lambda wh: forbidden_for(wh, scope))
    assert {"Anna", "Boris", outside_name(scope)} <= forbidden.words and forbidden.numbers
    # The matcher finds what it must: a manager's name, and a company total written as a page writes it.
    a_total = max(forbidden.numbers)
    assert forbidden.found_in("by Boris.") and forbidden.found_in(f"total {fmt_number(a_total, 'ru', 0)} ₽")
    outside = sorted({"vk_ads", "yandex_direct", "telegram"} - set(scope))
    agency = as_user(name)
    token = dash.sessions.read(agency.cookies.get("kassa_session"))["csrf"]
    leaks: list[str] = []
    requests = 0
    took: dict[str, float] = {}
    for method, path in sweep_urls(app, scope, outside):
        if path == "/logout":
            continue  # last: it ends the session the sweep runs in
        # A bare path answers HTML or, asked for it, JSON; a path ending in .json, .csv… is its own format.
        accepts = ("text/html",) if "." in path.rsplit("/", 1)[-1] else ("text/html", "application/json")
        for accept in accepts:
            if method == "GET":
                calls = [{"params": q} for q in sweep_queries(path)]
            else:
                calls = [{"data": f, "params": {"period": "2026-10"}} for f in forms_of(path, token)]
            for call in calls:
                t0 = time.perf_counter()
                r = agency.request(method, path, headers={"Accept": accept}, follow_redirects=False, **call)
                requests += 1
                took[path] = took.get(path, 0) + time.perf_counter() - t0
                assert r.status_code < 500, (method, path, call, r.text[:300])
                asked = f"{path} {call}"
                for hit in forbidden.found_in(readable(r), asked):
                    leaks.append(f"{method} {path} {call} ({accept}): {hit}")
    print(sorted(took.items(), key=lambda kv: -kv[1])[:10], requests)
    assert requests > 300
    assert not leaks, "\n".join(leaks[:40])
