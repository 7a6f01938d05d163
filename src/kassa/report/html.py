"""The report as one self-contained HTML file: opens from disk or an e-mail attachment, no network.

Charts are the Vega-Lite specs of :mod:`kassa.report.charts`, drawn either

* ``charts="js"`` (default): interactive (tooltips) by the Vega, Vega-Lite and vega-embed JavaScript that
  ``vl-convert`` bundles, inlined once in the page (about 0.9 MB); or
* ``charts="svg"``: pre-rendered to inline SVG by ``vl-convert`` — no JavaScript at all, smaller, and the
  form that survives mail clients and printing.

Either way the page has no ``src``/``href`` pointing outside itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

import jinja2
import vl_convert as vlc
from markupsafe import Markup

from kassa.i18n import NO_VALUE, fmt_percent, fmt_value
from kassa.metrics.incomplete import Incomplete
from kassa.names import NAMERS, campaign_name, channel_name, key_name
from kassa.report.blocks import estimated_note, incomplete_note, not_yet_text
from kassa.report.model import Block, Cards, Chart, Column, Lines, ReportData, Table
from kassa.report.terminal import ESTIMATE, fmt_incomplete

ChartMode = Literal["js", "svg"]

# Vega-Lite version the specs are compiled with; Altair 6 writes v6 specs.
VL_VERSION = "6.4"


@cache
def templates(package: str) -> jinja2.Environment:
    """The Jinja2 templates of ``package`` (``kassa.report``, ``kassa.web``): autoescaped, strict about
    missing values, so a template asking for a value nobody gave fails instead of printing nothing."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    # Ids stay in the data (links, data-key attributes, CSV); pages show names: channel_name(id, lang).
    env.globals.update(channel_name=channel_name, campaign_name=campaign_name)
    env.filters["channel_name"] = channel_name  # names|map("channel_name", lang)|join(", ")
    return env


def _env() -> jinja2.Environment:
    return templates("kassa.report")


@cache
def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (built once per process: it takes about two seconds)."""
    # The default snippet puts vegaEmbed on window; vl-convert's stub wrongly marks the snippet as required.
    bundle: str = vlc.javascript_bundle(vl_version=VL_VERSION)  # type: ignore[call-arg]
    return bundle


def _script_safe(text: str) -> str:
    """JavaScript that cannot close the ``<script>`` element it sits in (for code, not data: data goes
    through :func:`script_json`). The Vega bundle holds no ``<!--`` or ``<script`` (tests check it)."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def inline_vega() -> str:
    """The Vega bundle exactly as the report inlines it (the dashboard's Content-Security-Policy hashes it)."""
    return _script_safe(vega_bundle())


def script_json(data: Any, *, sort_keys: bool = False) -> Markup:
    """JSON for a ``<script type="application/json">`` element that no value can break out of.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026`` (the same string once
    parsed): rewriting only ``</script`` is not enough, because a value holding ``<!--<script>`` switches
    the HTML parser into a state where the element's own ``</script>`` no longer ends it, and the scripts
    after it (every chart) are swallowed. Used for every JSON in a script element, report and dashboard.
    """
    text = json.dumps(data, ensure_ascii=False, sort_keys=sort_keys, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def chart_svg(spec: dict[str, Any], scope: str = "") -> str:
    """One chart as SVG markup (vl-convert, offline), its element ids prefixed with ``scope``.

    Ids in inline SVG are global to the page; Vega names clip paths ``clip1``, ``clip2``… per renderer, so two
    charts could point at each other's clips without the prefix.
    """
    svg: str = vlc.vegalite_to_svg(spec, vl_version=VL_VERSION)
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)  # the XML prolog is not allowed inside HTML
    if scope:
        svg = re.sub(r'\bid="([^"]+)"', rf'id="{scope}-\1"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{scope}-\1)", svg)
        svg = re.sub(r'href="#([^"]+)"', rf'href="#{scope}-\1"', svg)
    return svg


def show(value: Any, unit: str, lang: str, currency: str) -> str:
    """A value as the page shows it: by unit and language; percents under 1 % keep two decimals (CTR 0.55 %)."""
    if unit == "text":
        return NO_VALUE if value is None or value == "" else str(value)
    if unit == "percent" and isinstance(value, int | float) and value == value and 0 < abs(value) < 0.01:
        return fmt_percent(value, lang, 2)
    return fmt_value(value, unit, lang, currency)


def show_marked(
    value: Any,
    unit: str,
    lang: str,
    currency: str,
    *,
    estimated: bool = False,
    incomplete: Mapping[str, Any] | Incomplete | None = None,
) -> Markup | str:
    """A metric's value on a page (the report and the dashboard): as :func:`show`, and for a figure
    that is not exact a ``<span>`` whose title says why — ``≈ 1 000 ₽`` for a day-prorated share of a
    whole-period report the period cuts, ``≥ 451 000 ₽ + 22.88 USD`` (or ``?``) for one lacking amounts
    without an exchange rate. ``incomplete`` is the metric's entry of a JSON row's ``incomplete``."""
    if isinstance(incomplete, Mapping):
        incomplete = Incomplete.from_json(incomplete)
    text = show(value, unit, lang, currency)
    classes, titles = [], []
    if incomplete is not None:
        text = fmt_incomplete(incomplete, unit, lang, currency)
        classes.append("incomplete")
        titles.append(incomplete_note(lang))
    if estimated and text not in ("?", NO_VALUE):
        text = f"{ESTIMATE} {text}"
        classes.append("estimated")
        titles.append(estimated_note(lang))
    if not classes:
        return text
    return Markup('<span class="{}" title="{}">{}</span>').format(" ".join(classes), " ".join(titles), text)


def show_in_row(row: Mapping[str, Any], key: str, unit: str, lang: str, currency: str) -> Markup | str:
    """``row[key]`` through :func:`show_marked`, with the marks of a JSON metric row (its ``estimated``
    list and ``incomplete`` map, as :meth:`kassa.metrics.compute.MetricTable.json_row` writes them);
    ``≥`` before a value that is so far (its ``partial`` list: LTV whose horizon has not ended); "not
    yet" for a payback its ``not_yet`` list names (no value: the cohort has not covered its cost yet)."""
    if key in (row.get("not_yet") or ()):
        return not_yet_text(lang)
    shown = show_marked(
        row.get(key),
        unit,
        lang,
        currency,
        estimated=key in (row.get("estimated") or ()),
        incomplete=(row.get("incomplete") or {}).get(key),
    )
    return Markup("≥ ") + shown if key in (row.get("partial") or ()) else shown


def cell(row: dict[str, Any], column: Column, data: ReportData) -> Markup | str:
    """A table cell as the page shows it: channels and sources by their display name, numbers by unit
    (marked where a metric is an estimate or incomplete)."""
    value = row.get(column.key)
    if column.key in NAMERS and value is not None and value != "":
        return key_name(column.key, value, data.lang)
    return show_in_row(row, column.key, column.unit_in(row), data.lang, data.currency)


def _block_kind(block: Block) -> str:
    return {Lines: "lines", Table: "table", Chart: "chart", Cards: "cards"}[type(block)]


def render_html(data: ReportData, *, charts: ChartMode = "js") -> str:
    """Render :class:`ReportData` to a standalone HTML document (a ``str``)."""
    if charts not in ("js", "svg"):
        raise ValueError(f"charts must be 'js' or 'svg', not {charts!r}")
    chart_ids: dict[int, str] = {}
    specs: dict[str, Any] = {}
    svgs: dict[str, Markup] = {}
    for i, chart in enumerate(data.charts()):
        cid = f"chart-{chart.key}-{i}"
        chart_ids[id(chart)] = cid
        if charts == "js":
            specs[cid] = chart.spec
        else:
            svgs[cid] = Markup(chart_svg(chart.spec, cid))
    template = _env().get_template("report.html.j2")
    return template.render(
        data=data,
        labels=data.labels,
        generated=data.labels["generated"].format(date=f"{data.generated_at:%Y-%m-%d %H:%M}"),
        block_kind=_block_kind,
        cell=lambda r, c: cell(r, c, data),
        chart_id=lambda c: chart_ids[id(c)],
        chart_mode=charts,
        svgs=svgs,
        specs_json=script_json(specs, sort_keys=True),
        vega_js=Markup(inline_vega()) if charts == "js" and specs else "",
    )
