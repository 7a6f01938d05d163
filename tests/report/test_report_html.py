"""The HTML report: the hand-computed numbers as a person reads them, in English and Russian, and a page that
needs no network."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from kassa.report.html import render_html
from kassa.report.model import Chart, Column, Line, Lines, ReportData, Section, Table

NB = "\xa0"


class _Page(HTMLParser):
    """Collects every URL-bearing attribute, the text of each table row and the page's inline JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.json_scripts: list[str] = []
        self._json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "data", "srcset", "action", "poster"):
            if a.get(name):
                self.refs.append((tag, name, str(a[name])))
        if tag == "table":
            self._table = a.get("data-key")
            self.rows[str(self._table)] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script" and a.get("type") == "application/json":
            self._json = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "script":
            self._json = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._json:
            self.json_scripts.append(data)


def _parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def pages(reports: dict[str, ReportData]) -> dict[tuple[str, str], str]:
    return {
        (lang, mode): render_html(reports[lang], charts=mode)
        for lang in ("en", "ru")
        for mode in ("js", "svg")
    }


def _row(page: _Page, table: str, first: str) -> list[str]:
    return next(r for r in page.rows[table] if r and r[0] == first)


def test_funnel_numbers_in_english(pages: dict[tuple[str, str], str]) -> None:
    page = _parse(pages[("en", "js")])
    header = page.rows["funnel"][0]
    assert header[0] == "Channel" and header[-1] == "ROMI"
    # cost, visits, leads, qualified, sales, revenue, payments, CPL 25 000/3, CAC 25 000/2, ROMI (240 000 − 25 000)/25 000
    assert _row(page, "funnel", "Yandex Direct") == [
        "Yandex Direct",
        f"RUB{NB}25,000",
        "4",
        "3",
        "2",
        "2",
        f"RUB{NB}240,000",
        f"RUB{NB}150,000",
        f"RUB{NB}8,333",
        f"RUB{NB}12,500",
        "8.60",
    ]
    # telegram: no sale, so no cost per sale (—); ROMI (0 − 5 000) / 5 000
    assert _row(page, "funnel", "Telegram")[-2:] == ["—", "-1.00"]
    # Total: CPL 55 000 / 7 = 7 857; CAC 55 000 / 3 = 18 333; ROMI 215 000 / 55 000 = 3.91
    assert _row(page, "funnel", "Total") == [
        "Total",
        f"RUB{NB}55,000",
        "10",
        "7",
        "3",
        "3",
        f"RUB{NB}270,000",
        f"RUB{NB}180,000",
        f"RUB{NB}7,857",
        f"RUB{NB}18,333",
        "3.91",
    ]


def test_funnel_numbers_in_russian(pages: dict[tuple[str, str], str]) -> None:
    page = _parse(pages[("ru", "js")])
    assert page.rows["funnel"][0][0] == "Канал"
    assert _row(page, "funnel", "Итого") == [
        "Итого",
        f"55{NB}000{NB}₽",
        "10",
        "7",
        "3",
        "3",
        f"270{NB}000{NB}₽",
        f"180{NB}000{NB}₽",
        f"7{NB}857{NB}₽",
        f"18{NB}333{NB}₽",
        "3,91",
    ]
    assert (
        _row(page, "activity", "VK Реклама")[page.rows["activity"][0].index("активностьCTR")] == "2,5%"
    )  # 1 000 / 40 000
    html = pages[("ru", "js")]
    assert '<html lang="ru">' in html
    assert "Выручка 270" + NB + "000" + NB + "₽ (+42% к 2026-09)" in html


def test_activity_is_visibly_labelled(pages: dict[tuple[str, str], str]) -> None:
    html = pages[("en", "js")]
    assert '<span class="badge">activity — not money</span>' in html
    page = _parse(html)
    # Every activity column header carries the word "activity" before its label.
    assert page.rows["activity"][0][1:] == [
        "activityAd spend",
        "activityActivity cost",
        "activityImpressions",
        "activityClicks",
        "activityCTR",
        "activityCPC",
        "activityCPM",
        "activityPublications",
    ]
    assert "активность — не деньги" in pages[("ru", "svg")]


@pytest.mark.parametrize("mode", ["js", "svg"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_needs_no_network(pages: dict[tuple[str, str], str], lang: str, mode: str) -> None:
    html = pages[(lang, mode)]
    page = _parse(html)
    external = [r for r in page.refs if re.match(r"^\s*(https?:)?//", r[2], re.I)]
    assert not external, external
    assert all(r[2].startswith("#") for r in page.refs if r[1] == "href")  # only in-page links (contents)
    # Script bodies are code (the Vega bundle builds <img src=…> strings for its PNG export); the markup is not.
    markup = re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S | re.I)
    assert not re.search(r"<(script|img|iframe|link|object|embed)\b[^>]*\b(src|href|data)\s*=", markup, re.I)
    assert not re.search(
        r"@import|url\(\s*['\"]?(?!#)", markup, re.I
    )  # nor from CSS (SVG's url(#clip) is in-page)


def test_js_page_embeds_vega_and_every_spec(
    reports: dict[str, ReportData], pages: dict[tuple[str, str], str]
) -> None:
    html = pages[("en", "js")]
    assert "window.vegaEmbed" in html and len(html) > 500_000  # the bundle is inline, not linked
    specs = json.loads("".join(_parse(html).json_scripts))

    def canon(spec: dict[str, object]) -> str:
        return json.dumps(spec, sort_keys=True)

    assert sorted(map(canon, specs.values())) == sorted(canon(c.spec) for c in reports["en"].charts())
    assert len(specs) == 4


def test_svg_page_draws_charts_without_javascript(pages: dict[tuple[str, str], str]) -> None:
    html = pages[("ru", "svg")]
    assert "<script" not in html
    assert html.count("<svg") >= 4
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # each chart's clip paths are its own
    assert set(re.findall(r"url\(#([^)]+)\)", html)) <= set(ids)
    assert f"240{NB}000{NB}₽" in html  # a bar label of the spend-vs-revenue chart, in Russian


def test_text_is_escaped_and_cannot_break_the_page(reports: dict[str, ReportData]) -> None:
    base = reports["en"]
    evil = "<script>alert(1)</script>"
    data = ReportData(
        title=evil,
        lang="en",
        currency="RUB",
        period=base.period,
        view="calendar",
        facts=[("x", evil)],
        sections=[
            Section(
                "s", "S", [Table("t", "T", [Column.text("a", "A")], [{"a": evil}]), Lines("l", [Line(evil)])]
            )
        ],
        generated_at=base.generated_at,
        labels=base.labels,
    )
    html = render_html(data)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_specs_cannot_close_the_script_they_sit_in(reports: dict[str, ReportData]) -> None:
    base = reports["en"]
    spec = {"data": {"values": [{"a": "</script><b>x"}]}, "mark": "bar", "encoding": {"x": {"field": "a"}}}
    data = ReportData(
        title="t",
        lang="en",
        currency="RUB",
        period=base.period,
        view="calendar",
        facts=[],
        sections=[Section("s", "S", [Chart("c", "C", spec)])],
        generated_at=base.generated_at,
        labels=base.labels,
    )
    html = render_html(data)
    assert "</script><b>" not in html
    assert json.loads("".join(_parse(html).json_scripts))["chart-c-0"] == spec
