"""The dashboard in real headless Chromium (issue 7): log in, switch period and language, read the cards.

One demo company (a year of data) is loaded once per module and served by the real app under uvicorn on
127.0.0.1; every test gets a fresh browser context, so sessions never leak between tests. Expected numbers
come from ``kassa metrics --json`` run as a separate process on a copy of the warehouse made before the
server starts (the running server holds the warehouse's single write lock).

Every context blocks any request that does not go to 127.0.0.1 (the dashboard must work offline) and
records console errors, uncaught page errors and pages answered with an error status; any of them fails
the test at teardown. A full-page screenshot of the last page of each test lands in tests/artifacts/.

The upload tests at the end of the module change the warehouse; they work in a month no other test reads
(:data:`UPLOAD_MONTH`), so the order of the tests does not matter.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    Route,
    expect,
    sync_playwright,
)
from tests.conftest import DemoCompany
from tests.web.browser_server import serve

from kassa import demo
from kassa.metrics.catalog import CATALOG
from kassa.names import channel_name
from kassa.period import Period
from kassa.report.html import show
from kassa.web import create_app
from kassa.web.users import UserStore

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/apt-packages); never a downloaded browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
KASSA = [sys.executable, "-m", "kassa.cli"]

PERIOD = demo.LAST_MONTH  # the overview's default: the month of the latest spend, lead or deal
EARLIER = Period.parse(PERIOD).previous().label
UPLOAD_MONTH = "2026-05"  # uploads land here; no other test reads this month or the month after it
CARDS = ("payments", "revenue", "marketing_cost", "romi", "cost_per_sale")
CURRENCY = "RUB"
AGENCY_SCOPE = "vk_ads"
PASSWORD = "correct horse battery"
SLOW_PAGE_MS = 90_000
USERS = {"olga": ("owner", None), "mark": ("marketer", None), "vika": ("agency", [AGENCY_SCOPE])}


@dataclass
class Site:
    url: str
    csv_folder: Path
    runs: dict[str, subprocess.Popen[str]]  # period -> `kassa metrics --json`, still running at first
    _expected: dict[str, dict[str, Any]] = field(default_factory=dict)

    def expected(self, period: str) -> dict[str, Any]:
        """What the CLI printed for ``period`` (per channel, with the total); waits for it the first time."""
        if period not in self._expected:
            run = self.runs[period]
            out, err = run.communicate(timeout=240)
            assert run.returncode == 0, err
            self._expected[period] = json.loads(out)
        return self._expected[period]

    def total(self, period: str) -> dict[str, Any]:
        return dict(self.expected(period)["total"])

    def channel(self, period: str, name: str) -> dict[str, Any]:
        (row,) = [r for r in self.expected(period)["rows"] if r["channel"] == name]
        return dict(row)

    def channels(self, period: str) -> list[str]:
        return [str(r["channel"]) for r in self.expected(period)["rows"]]


def _kassa_metrics(db: Path, period: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    args = ["metrics", "--db", str(db), "--period", period, "--metrics", ",".join(CARDS), "--json"]
    return subprocess.Popen(
        [*KASSA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, demo_company: Callable[[bool], DemoCompany]
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser")
    company = demo_company(True)  # built once per session (tests/conftest.py): the dashboard writes a copy
    db = company.copy(root / "demo.duckdb")
    # The CLI reads a copy, made before the server takes the original's write lock; it runs while the
    # first tests do, and a test waits for it only when it needs the numbers.
    copy = root / "expected.duckdb"
    shutil.copy(db, copy)
    with contextlib.ExitStack() as stack:
        runs = {p: _kassa_metrics(copy, p) for p in (PERIOD, EARLIER)}
        for run in runs.values():
            stack.enter_context(run)  # at the end: closes its pipes and waits for it
            stack.callback(lambda r=run: r.poll() is None and r.kill())  # no test asked (-k): stop it first
        store = UserStore.for_db(db)
        for name, (role, scope) in USERS.items():
            store.add(name, PASSWORD, role, scope)
        # warm=False: otherwise the server builds 26 overviews in a background thread as it starts, and every
        # page asked for meanwhile waits for the one being built (5-28 s each here); the tests visit 3 months.
        with serve(create_app(db, users_required=True, warm=False)) as url:
            yield Site(url, company.csv, runs)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        # CI (.ci/run installs it) must run these tests; a developer's machine without it skips them.
        if os.environ.get("KASSA_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (listed in .ci/apt-packages)")
        pytest.skip(f"{CHROMIUM} is missing: apt install chromium to run the browser tests")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """One browser context with its page, and what went wrong in it."""

    site: Site
    context: BrowserContext
    page: Page
    console_errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)  # requests that tried to leave 127.0.0.1
    error_pages: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    allowed: set[tuple[int, str]] = field(default_factory=set)

    def goto(self, path: str) -> None:
        self.page.goto(self.site.url + path)

    def login(self, name: str, password: str = PASSWORD) -> None:
        """Through the real form: type the name and password, press the button."""
        self.goto("/login")
        self.page.fill('input[name="username"]', name)
        self.page.fill('input[name="password"]', password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Log in").click()

    def json(self, path: str) -> dict[str, Any]:
        """A JSON twin, fetched with this context's cookies (the logged-in session)."""
        resp = self.page.request.get(self.site.url + path, timeout=SLOW_PAGE_MS)
        assert resp.ok, f"{path}: {resp.status} {resp.text()}"
        data: dict[str, Any] = resp.json()
        return data

    def cards(self) -> dict[str, str]:
        """The overview's cards as displayed: metric name -> the text of its value."""
        cards = self.page.locator("div.card[data-metric]")
        expect(cards).to_have_count(len(CARDS))
        return {
            str(c.get_attribute("data-metric")): (c.locator(".value").text_content() or "").strip()
            for c in cards.all()
        }

    def row_keys(self, table: str) -> list[str]:
        """The ``data-key`` of each row of ``table`` but its total."""
        rows = self.page.locator(f"{table} tbody tr[data-key]:not(.total)")
        return [str(k) for k in rows.evaluate_all("rows => rows.map(r => r.dataset.key)")]

    def allow_error(self, status: int, path: str) -> None:
        """A page this test expects to answer ``status`` (e.g. 422 for a refused upload)."""
        self.allowed.add((status, path))

    def expected_error(self, status: int, url: str) -> bool:
        return (status, urlparse(url).path) in self.allowed


@pytest.fixture
def tab(site: Site, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    # The first overview stitches a year of data; on a busy 2-core CI machine that can take over 30 s.
    context.set_default_timeout(SLOW_PAGE_MS)
    page = context.new_page()
    tab = Tab(site, context, page)

    def only_here(route: Route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            tab.offsite.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", only_here)

    def console(m: ConsoleMessage) -> None:
        status = re.search(r"responded with a status of (\d+)", m.text)
        if m.type == "error" and not (status and tab.expected_error(int(status[1]), m.location["url"])):
            tab.console_errors.append(f"{m.text} ({m.location})")

    def response(r: Response) -> None:
        if (
            r.request.resource_type == "document"
            and r.status >= 400
            and not tab.expected_error(r.status, r.url)
        ):
            tab.error_pages.append(f"{r.status} {r.url}")  # the screenshot shows what the page said

    page.on("console", console)
    page.on("pageerror", lambda e: tab.console_errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: tab.requested.append(r.url))
    page.on("response", response)
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not tab.offsite, f"requests left 127.0.0.1 (the dashboard must work offline): {tab.offsite}"
    assert not tab.console_errors, f"errors in the browser console: {tab.console_errors}"
    assert not tab.error_pages, f"pages answered with an error: {tab.error_pages}"


# -- what the page should show ---------------------------------------------------------------------------
def number_shown(text: str, lang: str) -> float:
    """The number in a displayed value, read independently of kassa's own formatting code."""
    t = re.sub(r"[\s\u00a0\u202f]|RUB|₽", "", text).replace("−", "-")
    t = t.replace(",", ".") if lang == "ru" else t.replace(",", "")
    return float(t)


def rounding_of(unit: str) -> float:
    """Half the last shown digit: money as whole rubles (values of 100 and more), ratios to 2 decimals."""
    return {"money": 0.5, "ratio": 0.005, "count": 0.5}[unit]


def assert_cards(tab: Tab, expected: dict[str, Any], period: str, lang: str) -> None:
    """The page's cards are the CLI's numbers, as displayed text and in the JSON twin."""
    shown = tab.cards()
    twin = {c["name"]: c for c in tab.json(f"/overview.json?period={period}&lang={lang}")["cards"]}
    for name in CARDS:
        unit, want = CATALOG[name].unit, expected[name]
        assert twin[name]["value"] == pytest.approx(want, rel=1e-9, abs=1e-9), name
        assert shown[name] == show(want, unit, lang, CURRENCY), name
        if want is not None:
            assert abs(number_shown(shown[name], lang) - want) <= rounding_of(unit), (name, shown[name], want)


def overview_heading(tab: Tab) -> str:
    return (tab.page.locator("main h1").text_content() or "").strip()


# -- tests -----------------------------------------------------------------------------------------------
def test_login_form_refuses_a_wrong_password_then_lands_on_the_overview(tab: Tab) -> None:
    page = tab.page
    tab.goto("/overview")
    page.wait_for_url(re.compile(r"/login\?next=%2Foverview$"))

    page.fill('input[name="username"]', "olga")
    page.fill('input[name="password"]', "not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert "error=1" in page.url
    expect(page.locator("p.bad")).to_have_text("Wrong name or password.")
    expect(page.locator("div.card")).to_have_count(0)
    assert page.request.get(tab.site.url + "/overview.json").status == 401

    page.fill('input[name="username"]', "olga")
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert urlparse(page.url).path == "/overview"
    assert overview_heading(tab) == f"Where is the money? {PERIOD}"
    expect(page.locator("header")).to_contain_text("olga")
    expect(page.locator("div.card")).to_have_count(len(CARDS))


def test_overview_numbers_are_those_of_kassa_metrics(tab: Tab, site: Site) -> None:
    tab.login("olga")
    # No period in the URL: the month of the latest data, which the header's period field shows.
    expect(tab.page.locator('header input[name="period"]')).to_have_value(PERIOD)
    assert_cards(tab, site.total(PERIOD), PERIOD, "en")
    # Each card also shows the previous month's value: that is the CLI's EARLIER month.
    before = site.total(EARLIER)
    for name in CARDS:
        line = tab.page.locator(f'div.card[data-metric="{name}"] > div').nth(2)
        expect(line).to_contain_text(f"{show(before[name], CATALOG[name].unit, 'en', CURRENCY)} in {EARLIER}")


def test_period_form_and_language_links_switch_numbers_and_words(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.login("olga")
    october = tab.cards()

    period_form = page.locator('header form:has(input[name="period"])')
    period_form.locator('input[name="period"]').fill(EARLIER)
    with page.expect_navigation():
        period_form.get_by_role("button").click()
    assert parse_qs(urlparse(page.url).query)["period"] == [EARLIER]
    assert overview_heading(tab) == f"Where is the money? {EARLIER}"
    assert_cards(tab, site.total(EARLIER), EARLIER, "en")
    assert tab.cards() != october, "the numbers did not change with the period"

    with page.expect_navigation():
        page.get_by_role("link", name="RU", exact=True).click()
    query = parse_qs(urlparse(page.url).query)
    assert query["lang"] == ["ru"] and query["period"] == [EARLIER], (
        "the period was lost in the language switch"
    )
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("header nav")).to_contain_text("Обзор")
    expect(page.locator("header")).to_contain_text("Период")
    expect(page.locator('div.card[data-metric="revenue"]')).to_contain_text("Выручка")
    assert_cards(tab, site.total(EARLIER), EARLIER, "ru")
    revenue = tab.cards()["revenue"]
    # Russian money: digits grouped by a non-breaking (or narrow non-breaking) space, the sign after.
    assert re.fullmatch(r"\d{1,3}([\u00a0\u202f]\d{3})+\u00a0₽", revenue), repr(revenue)

    with page.expect_navigation():
        page.get_by_role("link", name="EN", exact=True).click()
    assert parse_qs(urlparse(page.url).query)["period"] == [EARLIER]
    expect(page.locator("header nav")).to_contain_text("Overview")


def test_charts_draw_with_no_internet(tab: Tab) -> None:
    tab.login("olga")
    for path in ("/overview", "/funnel"):
        tab.goto(path)
        charts = tab.page.locator("div.chart")
        assert charts.count() >= 1, f"{path} has no chart"
        for i in range(charts.count()):
            expect(charts.nth(i).locator("svg, canvas").first).to_be_visible(timeout=15_000)
    assert any(urlparse(u).path == "/static/vega.js" for u in tab.requested), "vega.js was not loaded locally"
    assert not tab.offsite, tab.offsite


def test_an_agency_sees_only_its_channel(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.login("vika")
    others = [c for c in site.channels(PERIOD) if c != AGENCY_SCOPE]
    assert others, "the demo should have channels outside the agency's scope"

    def no_other_channel(where: str) -> None:
        html = page.content()
        # `_` counts as part of a word here, so "direct" does not match inside "yandex_direct".
        shown = [
            c
            for c in others
            for name in (c, channel_name(c, "en"))  # its id (data-key, links) or the name people read
            if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", html)
        ]
        assert not shown, f"{where} shows channels outside the agency's scope: {shown}"

    # Its totals are those of its channel, as `kassa metrics` prints them for that channel's row.
    assert_cards(tab, site.channel(PERIOD, AGENCY_SCOPE), PERIOD, "en")
    expect(page.locator("header nav")).not_to_contain_text("Data")
    no_other_channel("the overview")

    page.get_by_role("link", name="Channels", exact=True).click()
    page.wait_for_url(re.compile(r"/channels(\?.*)?$"))
    assert tab.row_keys("#funnel") == [AGENCY_SCOPE]
    assert tab.row_keys("#activity") == [AGENCY_SCOPE]
    no_other_channel("/channels")

    page.get_by_role("link", name="Funnel", exact=True).click()
    page.wait_for_url(re.compile(r"/funnel(\?.*)?$"))
    assert tab.row_keys("#funnel") == [AGENCY_SCOPE]
    no_other_channel("/funnel")

    assert page.request.get(site.url + "/channels/yandex_direct.json").status == 404
    assert page.request.get(site.url + "/data.json").status == 403


def test_plan_page_turns_a_typed_target_into_a_funnel_and_a_contract(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.login("olga")
    page.get_by_role("link", name="Plan", exact=True).click()
    page.wait_for_url(re.compile(r"/plan(\?.*)?$"))
    page.fill('#plan-inputs input[name="revenue"]', "6000000")
    with page.expect_navigation():
        page.get_by_role("button", name="Plan", exact=True).click()
    assert "revenue=6000000" in page.url
    plan = tab.json("/plan.json?" + urlparse(page.url).query)
    assert plan["plan"]["target"] == 6_000_000
    # One row per channel the plan asks something of, in the order of kassa plan (largest share first).
    assert tab.row_keys("#plan-funnel") == [c["channel"] for c in plan["plan"]["channels"]]
    expect(page.locator("#plan-contract")).to_contain_text("metric: qualified_leads")
    expect(page.locator("#plan-shortfalls li").first).to_be_visible()


def test_an_agency_plans_only_its_channel(tab: Tab, site: Site) -> None:
    tab.login("vika")
    tab.goto("/plan")
    assert tab.row_keys("#plan-funnel") == [AGENCY_SCOPE]
    expect(tab.page.locator("#plan-contract")).to_contain_text(AGENCY_SCOPE)
    expect(tab.page.locator("#plan-contract-save")).to_have_count(0)


def test_drill_down_from_channels_to_campaigns(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.login("olga")
    tab.goto(f"/overview?period={PERIOD}")  # the menu's links keep the period of the page
    page.get_by_role("link", name="Channels", exact=True).click()
    page.wait_for_url(re.compile(r"/channels(\?.*)?$"))
    channel = "yandex_direct"
    want = show(site.channel(PERIOD, channel)["marketing_cost"], "money", "en", CURRENCY)
    row = page.locator(f'#funnel tr[data-key="{channel}"]')
    expect(row.locator('td[data-metric="marketing_cost"]')).to_have_text(want)

    row.get_by_role("link", name=channel_name(channel, "en")).click()
    page.wait_for_url(re.compile(rf"/channels/{channel}\?"))
    assert parse_qs(urlparse(page.url).query)["period"] == [PERIOD]
    assert overview_heading(tab) == f"Campaigns of {channel_name(channel, 'en')} — {PERIOD}"
    campaigns = tab.row_keys("#funnel")
    spend = (site.csv_folder / "spend.csv").read_text(encoding="utf-8").splitlines()
    bought = {line.split(",")[2] for line in spend[1:] if line.split(",")[1] == channel}
    assert campaigns and set(campaigns) <= bought, (campaigns, bought)
    # The campaigns add up to the channel's row of the page before.
    expect(page.locator('#funnel tr.total td[data-metric="marketing_cost"]')).to_have_text(want)
    expect(page.get_by_role("link", name="All channels")).to_be_visible()


def test_customers_page_shows_who_pays_back_and_its_heat_map(tab: Tab) -> None:
    # The demo's planted fact 4 (docs/demo.md): over the year the newsletter, cheapest per sale, never pays
    # back; VK Ads, dearest per sale, pays back in two months through its customers' repeat purchases.
    page = tab.page
    tab.login("olga")
    tab.goto(f"/overview?period={PERIOD}")
    page.get_by_role("link", name="Customers", exact=True).click()
    page.wait_for_url(re.compile(r"/customers(\?.*)?$"))
    tab.goto("/customers?period=2025-10..2026-09")
    expect(page.locator('#customers tr[data-key="vk_ads"] td[data-metric="payback"]')).to_have_text("2 mo")
    expect(page.locator('#customers tr[data-key="email"] td[data-metric="payback"]')).to_have_text("not yet")
    vk_rows = page.locator('#triangle tr[data-key="vk_ads"]')
    expect(vk_rows).to_have_count(12)  # one cohort per month of acquisition
    first = vk_rows.first.locator('td[data-month="1"]')
    assert "heat" in (first.get_attribute("class") or "")
    customers_then = first.get_attribute("data-value")
    # Switching the triangle to revenue (htmx swaps the page's main part in place).
    page.select_option('#triangle-form select[name="of"]', "revenue")
    expect(
        page.locator('#triangle tr[data-key="vk_ads"]').first.locator('td[data-month="1"]')
    ).not_to_have_attribute("data-value", customers_then or "")
    assert parse_qs(urlparse(page.url).query)["of"] == ["revenue"]


def test_an_agency_sees_only_its_channels_customers(tab: Tab) -> None:
    tab.login("vika")
    tab.goto("/customers?period=2025-10..2026-09")
    assert tab.row_keys("#customers") == [AGENCY_SCOPE]
    assert set(tab.row_keys("#triangle")) == {AGENCY_SCOPE}
    html = tab.page.content()
    assert "Yandex" not in html and "newsletter" not in html.lower()


# -- uploads on the Data page (these change the warehouse, in UPLOAD_MONTH only) --------------------------
def spend_csv(folder: Path, name: str, rows: str) -> Path:
    path = folder / name
    header = "date,channel,campaign,impressions,clicks,cost,vat_included\n"
    path.write_text(header + textwrap.dedent(rows).lstrip("\n"), encoding="utf-8")
    return path


def marketing_cost(tab: Tab) -> float:
    card = {c["name"]: c for c in tab.json(f"/overview.json?period={UPLOAD_MONTH}")["cards"]}[
        "marketing_cost"
    ]
    return float(card["value"] or 0.0)


def upload(tab: Tab, path: Path) -> None:
    """Choose the file in the upload form of the Data page (open in ``tab``) and send it."""
    form = tab.page.locator("form#upload")
    expect(form, "the Data page has no upload form (form#upload)").to_have_count(1)
    form.locator('input[type="file"][name="file"]').set_input_files(str(path))
    with tab.page.expect_navigation():
        form.locator('button, input[type="submit"]').first.click()


def test_upload_of_a_good_file_moves_the_numbers_and_undo_puts_them_back(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    page.on("dialog", lambda d: d.accept())  # the undo button asks "are you sure?"
    tab.login("mark")  # a marketer may upload
    before = marketing_cost(tab)
    tab.goto("/data")
    batches = set(tab.row_keys("#batches"))
    path = spend_csv(
        tmp_path,
        "spend_mytarget.csv",
        f"""
        {UPLOAD_MONTH}-10,mytarget,mt_heat_pumps,10000,120,7000,false
        {UPLOAD_MONTH}-11,mytarget,mt_heat_pumps,12000,150,3000,false
        """,
    )
    upload(tab, path)
    expect(page.locator("#rejected"), "a good file was refused").to_have_count(0)
    (added,) = set(tab.row_keys("#batches")) - batches
    row = page.locator(f'#batches tr[data-key="{added}"]')
    expect(row).to_contain_text(path.name)
    assert marketing_cost(tab) == pytest.approx(before + 10_000)
    tab.goto(f"/overview?period={UPLOAD_MONTH}")
    assert tab.cards()["marketing_cost"] == show(before + 10_000, "money", "en", CURRENCY)

    tab.goto("/data")
    with page.expect_navigation():
        row.locator("form.undo").locator('button, input[type="submit"]').first.click()
    assert marketing_cost(tab) == pytest.approx(before)
    expect(row.locator("form.undo"), "an undone batch still offers undo").to_have_count(0)
    tab.goto(f"/overview?period={UPLOAD_MONTH}")
    assert tab.cards()["marketing_cost"] == show(before, "money", "en", CURRENCY)


def test_upload_of_a_bad_file_lists_the_refused_rows_and_loads_nothing(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    tab.login("olga")
    before = marketing_cost(tab)
    tab.goto("/data")
    batches = tab.row_keys("#batches")
    path = spend_csv(
        tmp_path,
        "spend_broken.csv",
        f"""
        {UPLOAD_MONTH}-32,mytarget,mt_broken,100,5,1000,false
        {UPLOAD_MONTH}-12,mytarget,mt_broken,100,5,lots,false
        """,
    )
    tab.allow_error(422, "/data/upload")  # the refused file's page says why, with 422 Unprocessable Content
    upload(tab, path)
    rejected = page.locator("table#rejected")
    expect(rejected).to_be_visible()
    heads = [h.strip().lower() for h in rejected.locator("thead th").all_text_contents()]
    assert {"file", "line", "column", "value", "reason"} <= set(heads), heads
    rows = [
        dict(zip(heads, (c.strip() for c in r.locator("td").all_text_contents()), strict=True))
        for r in rejected.locator("tbody tr").all()
    ]
    assert [(r["line"], r["column"], r["value"]) for r in rows] == [
        ("2", "date", f"{UPLOAD_MONTH}-32"),
        ("3", "cost", "lots"),
    ]
    assert all(path.name in r["file"] and r["reason"] for r in rows), rows
    assert tab.row_keys("#batches") == batches, "a refused file appeared in the list of imports"
    assert marketing_cost(tab) == pytest.approx(before)
