"""The digest: the month-end report's headline as a message (what it says; :mod:`kassa.notify` delivers it).

A digest holds, for one period against the one before it (a month against the previous month; a week so
far against the same weekdays of the week before):

* money in, revenue, marketing cost and ROMI, each next to its previous value;
* the report's headline sentences (who earns, who leaks, the activity illusion);
* the diagnosis' findings that stand out from noise, each with its funnel step and whose move it is
  (marketing, the sales team, price or product);
* every KPI contract's score and bonus;
* the money-vs-activity chart (the report's spec, drawn to PNG offline by vl-convert), a link to the full
  report when the dashboard has a public address, and the report itself attached (HTML and/or XLSX).

An agency's digest covers its channels only, as the dashboard shows them to it: every number is computed
with ``where={"channel": scope}``, findings outside the scope are left out, a contract is scored only when
all of its channels are the agency's, and the company's report is neither attached nor linked.

The text is kept as :class:`Seg` runs (plain text with an optional bold, italic or link), so the same
digest renders as plain text (:meth:`Digest.text`, the e-mail's text part and ``--dry-run``) and as the
small HTML that Telegram and mail clients both read (:meth:`Digest.paragraphs`), every value escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kassa.diagnose import Diagnosis, Finding
from kassa.diagnose import run as run_diagnosis
from kassa.diagnose.text import responsible_label, stage_label
from kassa.errors import BadPeriod
from kassa.i18n import Translator, check_lang, fmt_change, fmt_value
from kassa.kpi import Contract
from kassa.kpi import score as score_contract
from kassa.metrics import relative_change
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import MetricTable, compute, months_between
from kassa.names import channel_name
from kassa.period import Period, add_months
from kassa.report import charts
from kassa.report.headline import HEADLINE_ACTIVITY, HEADLINE_MONEY, headline_lines
from kassa.report.sections import scorecard_card
from kassa.report.terminal import estimated_lines, fmt_metric

if TYPE_CHECKING:
    from kassa.store import Warehouse

_ = Translator("report")

# The money block, in this order: what came in, what was sold, what marketing cost, what it returned.
FIGURES = ("payments", "revenue", "marketing_cost", "romi")
# Every measure the digest reads for a period: the figures and what the headline compares.
MEASURES = tuple(dict.fromkeys((*FIGURES, *HEADLINE_ACTIVITY, *HEADLINE_MONEY)))
# Period words for a schedule (cron) that cannot name the month it runs in.
PREVIOUS_MONTH = ("previous-month", "last-month")
PREVIOUS_WEEK = ("previous-week", "last-week")
PNG_SCALE = 2  # a phone's screen has two or three pixels per CSS pixel

Style = Literal["", "b", "i", "a"]


@dataclass(frozen=True)
class Seg:
    """A run of text: plain, bold, italic, or a link to ``href``."""

    text: str
    style: Style = ""
    href: str = ""

    def html(self) -> str:
        t = html.escape(self.text, quote=False)
        if self.style == "a":
            return f'<a href="{html.escape(self.href, quote=True)}">{t}</a>'
        return f"<{self.style}>{t}</{self.style}>" if self.style else t


Line = list[Seg]


@dataclass(frozen=True)
class Attachment:
    """A file sent with the digest; ``data`` is ``None`` in a dry run (the name is what it prints)."""

    filename: str
    mime: str
    data: bytes | None


@dataclass
class Digest:
    """One digest, in one language, for one view of the business (the whole of it, or an agency's part)."""

    title: str
    lang: str
    period: Period
    vs: Period
    weekly: bool
    scope: list[str] | None
    blocks: list[list[Line]]  # paragraphs of lines
    chart: dict[str, Any]  # the Vega-Lite spec of the money-vs-activity chart
    chart_title: str
    attachments: list[Attachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _png: bytes | None = field(default=None, repr=False)

    def paragraphs(self) -> list[str]:
        """The digest as paragraphs of Telegram's HTML (``<b>``, ``<i>``, ``<a>``; lines joined by ``\\n``)."""
        return ["\n".join("".join(s.html() for s in line) for line in block) for block in self.blocks]

    def html(self) -> str:
        return "\n\n".join(self.paragraphs())

    def text(self) -> str:
        """The digest as plain text; links written out after their words."""

        def plain(s: Seg) -> str:
            return f"{s.text} <{s.href}>" if s.style == "a" and s.href != s.text else s.text

        return "\n\n".join("\n".join("".join(plain(s) for s in line) for line in b) for b in self.blocks)

    def chart_png(self) -> bytes:
        """The chart as PNG, drawn offline by vl-convert (once per digest)."""
        if self._png is None:
            import vl_convert as vlc

            from kassa.report.html import VL_VERSION

            self._png = bytes(
                vlc.vegalite_to_png(self.chart, vl_version=VL_VERSION, scale=PNG_SCALE, allowed_base_urls=[])
            )
        return self._png

    @property
    def label(self) -> str:
        """``2026-10``, or ``2026-W43`` for a week (also a part of one): what file names say."""
        return f"{self.period.start:%G}-W{self.period.start:%V}" if self.weekly else self.period.label

    @property
    def chart_filename(self) -> str:
        return f"kassa-{self.label}-money-vs-activity.png"


def digest_period(text: str, today: dt.date) -> tuple[Period, Period, bool]:
    """(the period, the one it is compared with, whether it is a week) for ``--period``.

    ``YYYY-MM``: the month against the month before. ``YYYY-Www``: the week so far — its days before
    ``today`` (today's data are not complete) — against the same weekdays of the week before.
    ``previous-month`` / ``last-month`` and ``previous-week`` / ``last-week``: the last complete month or
    week before ``today``, for a schedule that cannot name it. Anything else :class:`Period` reads is
    compared with the period of the same length just before it.
    """
    t = text.strip().lower()
    if t in PREVIOUS_MONTH:
        p = Period.month_of(add_months(dt.date(today.year, today.month, 1), -1))
        return p, p.previous(), False
    if t in PREVIOUS_WEEK:
        monday = today - dt.timedelta(days=today.weekday() + 7)
        p = Period(monday, monday + dt.timedelta(days=7))
        return p, p.previous(), True
    p = Period.parse(text)
    weekly = "w" in t and ".." not in t
    if weekly:
        end = min(p.end, today)
        if end <= p.start:
            raise BadPeriod(f"{text!r}: the week has no complete day yet (today is {today:%Y-%m-%d})")
        p = Period(p.start, end)
        week = dt.timedelta(days=7)
        return p, Period(p.start - week, p.end - week), True
    return p, p.previous(), False


def _figures(current: MetricTable, before: MetricTable, vs: Period, lang: str, currency: str) -> list[Line]:
    """``Revenue: 5 392 800 ₽ (−10 % vs 2026-09: 5 970 000 ₽)``; ROMI with its previous value only (a
    percentage change of a ratio that can be negative says nothing). Figures are marked as the tables
    mark them ("≈ 1 000 ₽", "≥ 451 000 ₽ + 22.88 USD")."""
    cur = current.total
    row = before.frame.to_dicts()[0] if before.frame.height else None
    prev = row or {}
    out: list[Line] = []
    for name in FIGURES:
        m = CATALOG[name]
        now, before_value = cur.get(name), prev.get(name)
        was = (
            fmt_metric(before, name, lang, currency, row)
            if row is not None
            else fmt_value(None, m.unit, lang, currency)
        )
        change = relative_change(before_value, now) if name != "romi" and (before_value or 0) > 0 else None
        if change is not None:
            rest = _(
                "{change} vs {period}: {value}",
                lang,
                change=fmt_change(change, lang),
                period=vs.label,
                value=was,
            )
        else:
            rest = _("{period}: {value}", lang, period=vs.label, value=was)
        out.append(
            [
                Seg(f"{m.label(lang)}: "),
                Seg(fmt_metric(current, name, lang, currency), "b"),
                Seg(f" ({rest})"),
            ]
        )
    # What "≈" means, once, under the figures (the table it came from says the same under its grid).
    if any(n in current.estimated() or (row is not None and n in before.estimated(row)) for n in FIGURES):
        note = estimated_lines(current, lang=lang) or estimated_lines(before, lang=lang)
        out += [[Seg(text, "i")] for text in note]
    return out


def _finding_lines(diag: Diagnosis, scope: list[str] | None, lang: str) -> tuple[list[list[Line]], int]:
    """Each finding that stands out from noise as a paragraph (what, then its step and whose move it is),
    and how many more could be noise; for an agency only those in its channels (as the dashboard)."""

    def seen(f: Finding) -> bool:
        # A campaign's finding carries its channel; a channel's finding is its value. A company-wide or a
        # manager's finding describes every channel: not an agency's.
        channel = f.value if f.dimension == "channel" else f.channel if f.dimension == "campaign" else None
        return scope is None or channel in scope

    shown = [f for f in diag.significant if seen(f)]
    noise = sum(1 for f in diag.noise if seen(f))
    out: list[list[Line]] = []
    for f in shown:
        head = [Seg("• "), Seg(f.title, "b"), Seg(": ")] if f.title else [Seg("• ")]
        who = _(
            "step: {stage} · whose side: {who}",
            lang,
            stage=stage_label(f.stage, lang),
            who=responsible_label(f.responsible, lang),
        )
        out.append([[*head, Seg(f.message)], [Seg("  "), Seg(who, "i")]])
    return out, noise


def _visible(contract: Contract, scope: list[str] | None) -> bool:
    """As the dashboard's KPI page: an agency sees a contract only when every channel it covers is its own."""
    if scope is None:
        return True
    return bool(contract.scope.channels) and set(contract.scope.channels or ()) <= set(scope)


def _bonus_lines(
    wh: Warehouse, contracts: Sequence[Contract], p: Period, scope: list[str] | None, lang: str
) -> list[Line]:
    out: list[Line] = []
    for c in contracts:
        if not _visible(c, scope):
            continue
        card = scorecard_card(score_contract(wh, c, p, visible=scope), lang)
        verdict = card.verdict.text if card.verdict else ""
        out.append([Seg("• "), Seg(card.title, "b"), Seg(f": {verdict}. "), Seg(card.subtitle, "i")])
    return out


def _trend_months(wh: Warehouse, p: Period, where: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """The report's trend window, month by month (the dashboard's rows for a scope): zeros where nothing
    happened, months before the first with any value dropped."""
    from kassa.report.model import trend_period

    window = trend_period(p)
    names = charts.TREND_METRICS
    table = compute(wh, list(names), "month", window, where=where, with_total=False)
    found = {str(r["month"]): r for r in table.frame.to_dicts()}
    months = months_between(window.start, add_months(window.end, -1))
    active = [m for m in months if any(found.get(m, {}).get(n) for n in names)]
    shown = months[months.index(active[0]) :] if active else []
    return [{"month": m, **{n: found.get(m, {}).get(n) or 0 for n in names}} for m in shown]


def _report_files(
    wh: Warehouse, p: Period, lang: str, contracts: Sequence[Contract], attach: Sequence[str], render: bool
) -> list[Attachment]:
    """The month-end report as ``kassa report`` writes it: HTML with charts drawn as SVG (mail clients run
    no JavaScript) and/or the spreadsheet."""
    from kassa.report.html import render_html
    from kassa.report.model import build_report
    from kassa.report.xlsx import render_xlsx

    names = {k: f"kassa-{p.label}.{lang}.{k}" for k in ("html", "xlsx")}
    mimes = {"html": "text/html", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    if not render:
        return [Attachment(names[k], mimes[k], None) for k in attach]
    data = build_report(wh, p, lang, contracts=contracts)
    out: list[Attachment] = []
    for kind in attach:
        if kind == "html":
            body = render_html(data, charts="svg").encode("utf-8")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                body = render_xlsx(data, Path(tmp) / "report.xlsx").read_bytes()
        out.append(Attachment(names[kind], mimes[kind], body))
    return out


def _link(public_url: str | None, p: Period, lang: str, scope: list[str] | None, weekly: bool) -> Line:
    if public_url is None:
        return []
    # An agency may not open the company's report: its link is the overview of its channels.
    page = "overview" if scope is not None or weekly else "report.html"
    url = f"{public_url}/{page}?period={p.label}&lang={lang}"
    words = _("Full report", lang) if page == "report.html" else _("On the dashboard", lang)
    return [Seg(f"{words}: "), Seg(url, "a", url)]


def build_digest(
    wh: Warehouse,
    period: str,
    lang: str = "en",
    *,
    scope: Sequence[str] | None = None,
    contracts: Sequence[Contract] = (),
    public_url: str | None = None,
    attach: Sequence[str] = ("html",),
    render: bool = True,
    today: dt.date | None = None,
) -> Digest:
    """The digest of ``period`` (see :func:`digest_period`) from an open warehouse.

    Parameters
    ----------
    scope : an agency's channels (``None``: the whole business)
    contracts : KPI contracts to score (an agency's digest scores only those within its scope)
    public_url : the dashboard's public address; the digest links the full report there
    attach : ``html`` and/or ``xlsx``: the month-end report attached (not to an agency, not to a week)
    render : build the attachments' bytes (a dry run needs their names only)
    today : the business's today (default: in its time zone)
    """
    check_lang(lang)
    if today is None:
        from zoneinfo import ZoneInfo

        today = dt.datetime.now(ZoneInfo(wh.settings.timezone)).date()
    p, vs, weekly = digest_period(period, today)
    chosen = list(scope) if scope is not None else None
    where = {"channel": chosen} if chosen is not None else None
    currency = wh.settings.currency
    current = compute(wh, list(MEASURES), "channel", p, where=where)
    before = compute(wh, list(MEASURES), None, vs, where=where, with_total=False)
    prev = before.frame.to_dicts()[0] if before.frame.height else {}
    diag = run_diagnosis(wh, p, vs, lang=lang)

    if weekly:
        week = f"{p.start:%G}-W{p.start:%V}"
        title = _(
            "Week {week} ({period}) against the same days of the week before", lang, week=week, period=p.label
        )
    else:
        title = _("Where is the money? {period}", lang, period=p.label)
    head: list[Line] = [[Seg(title, "b")]]
    if chosen is not None:
        head.append(
            [Seg(_("Channels: {names}", lang, names=", ".join(channel_name(c, lang) for c in chosen)))]
        )
    blocks: list[list[Line]] = [
        head,
        [[Seg(_("Money", lang), "b")]] + _figures(current, before, vs, lang, currency),
    ]

    said = headline_lines(current, prev, vs, lang, currency)[1:]  # line 1 is the money block above
    if chosen is not None:
        # Shares of an agency's own total would read as shares of the company's: keep the illusion only.
        said = [line for line in said if line.tone == "warning"]
    if said:
        blocks.append([[Seg(_("What stands out", lang), "b")]] + [[Seg("• " + s.text)] for s in said])

    found, noise = _finding_lines(diag, chosen, lang)
    summary = _(
        "{significant} stand out from noise, {noise} more could be noise",
        lang,
        significant=len(found),
        noise=noise,
    )
    blocks.append([[Seg(_("Where the chain breaks", lang), "b"), Seg(f" ({summary})")]])
    for paragraph in found:
        blocks.append(paragraph)

    if weekly:
        bonuses: list[Line] = (
            [[Seg(_("KPI contracts are scored on whole months.", lang), "i")]] if contracts else []
        )
    else:
        bonuses = _bonus_lines(wh, contracts, p, chosen, lang)
    if bonuses:
        blocks.append([[Seg(_("KPI contracts: score and bonus", lang), "b")]] + bonuses)

    months = _trend_months(wh, p, where)
    present = [n for n in charts.TREND_METRICS if any(r.get(n) for r in months)]
    spec = charts.money_vs_activity_chart(months, present, lang=lang, currency=currency)
    files = [] if chosen is not None or weekly else _report_files(wh, p, lang, contracts, attach, render)
    tail: list[Line] = [line for line in [_link(public_url, p, lang, chosen, weekly)] if line]
    if files:
        tail.append([Seg(_("Attached: {files}", lang, files=", ".join(f.filename for f in files)))])
    if tail:
        blocks.append(tail)
    warnings = list(dict.fromkeys(current.warnings + before.warnings + diag.warnings))
    return Digest(
        title, lang, p, vs, weekly, chosen, blocks, spec, _("Money vs activity", lang), files, warnings
    )
