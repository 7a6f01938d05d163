"""Yandex Direct statistics -> ``spend`` (channel ``yandex_direct``).

Two layouts are read, both needing a campaign and the cost per row, and a day or the period the
report names:

**Reports API v5 TSV** (https://yandex.ru/dev/direct/doc/ru/reports/spec, report-format, money): UTF-8,
tab-separated, no quoting; line 1 the report name and period (absent with ``skipReportHeader``), then
the header = ``FieldNames`` (``Date``, ``CampaignId``, ``CampaignName``, ``Impressions``, ``Clicks``,
``Cost``, optional finer fields such as ``AdGroupId``/``Device``), data rows, and a last line
``Total rows: N`` (absent with ``skipReportSummary``). ``--`` means "no value". kassa checks ``N``
against the rows it read, so a cut-off download is refused instead of silently losing money.
``FieldNames`` are the user's: without ``Impressions``/``Clicks`` the count loads as 0 (with a warning);
without ``Date`` the rows cover the period of line 1 (``Name (2026-11-01 - 2026-11-30)``) and are
spread over it, and with no line 1 either the report is refused.

* Money: micro-units (×1,000,000, rounded to 10,000) unless the request sent
  ``returnMoneyInMicros: false``. The file does not say which, so kassa reads ``Cost`` as micros when
  every value is a whole number divisible by 10,000, else as currency units; ``money_in_micros`` in
  the ``--mapping`` options decides explicitly.
* VAT: the request's required ``IncludeVAT`` decides, and the file does not say. kassa assumes
  ``IncludeVAT=NO`` (as in Yandex's request examples; costs net of VAT, what an accountant compares with
  revenue); set ``include_vat: true`` in the options if you requested ``YES``.

**Web interface export** (Мастер отчётов / Статистика → CSV or XLSX; no public column spec): Russian
headers ``Дата``, ``№ Кампании`` (or ``ID кампании``), ``Кампания``, ``Показы``, ``Клики``,
``Расход (руб.)``; ``;``-separated, decimal comma, ``dd.mm.yyyy``, title lines above the header,
``Итого`` row; UTF-8 or cp1251. Recognised by what every Direct export has — a campaign and the
cost (``Показы`` and ``Клики`` may be absent: loaded as 0 with a warning) — plus one of Direct's own
columns (``№ Кампании``, ``CTR (%)``, ``Ср. цена клика (руб.)``…), so a hand-made sheet is never taken
for it. A report without ``Дата`` covers the period its ``Период:`` title line names: its rows are spread over those days (:mod:`kassa.sources.helpers.periods`); without that line it is refused with how to export it by day. The currency is read from the cost header (``руб.`` -> RUB) or a
``Валюта`` column. VAT: the report's "с НДС" checkbox; kassa looks for "с НДС" / "без НДС" in the
title lines and headers and otherwise assumes **with VAT** (the interface's default display of
amounts); ``include_vat`` in the options overrides.

Campaign: ``CampaignId`` / ``№ Кампании`` when present, else the name (see :mod:`kassa.sources.adspend`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed, MissingColumn
from kassa.i18n import Translator
from kassa.sources.adspend import SpendLayout, ad_options, spend_from_table
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.periods import report_period
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import TextTable, header_of, norm_name, read_table

_ = Translator("sources")

CHANNEL = "yandex_direct"
API = SpendLayout(
    title="Yandex Direct Reports API",
    columns={
        "date": ("Date",),
        "campaign_id": ("CampaignId",),
        "campaign_name": ("CampaignName",),
        "impressions": ("Impressions",),
        "clicks": ("Clicks",),
        "cost": ("Cost",),
    },
    decimal=".",
    delimiter="\t",
    quote=None,  # the API's TSV has no quoting: a quote is part of a campaign name
    include_vat=False,  # IncludeVAT=NO, as in Yandex's request examples
    # FieldNames are the user's choice: Yandex's own example asks for Date, CampaignId, Clicks, Cost
    # (no Impressions), ryandexdirect's default for CampaignName, Impressions, Clicks, Cost (no Date).
    required=("date", "cost"),
)
UI = SpendLayout(
    title="Yandex Direct",
    columns={
        "date": ("Дата", "День"),
        "campaign_id": ("№ Кампании", "ID кампании", "Номер кампании"),
        "campaign_name": ("Кампания", "Название кампании"),
        "impressions": ("Показы",),
        "clicks": ("Клики",),
        "currency": ("Валюта",),
    },
    cost_prefixes=("Расход",),
    include_vat=True,  # the interface shows amounts with VAT unless the report's checkbox says otherwise
    # What every Direct statistics export has: a day (see _whole_period), a campaign and the cost.
    # Показы and Клики are left out of some reports (BD_RSY_… by placement × sex × age has no Показы).
    required=("date", "cost"),
)
_TOTAL_ROWS = re.compile(r"^\s*total rows:\s*(\d+)\s*$", re.IGNORECASE)
# The report header line: the ReportName, then the period (report-format.md), e.g.
# "Actual Data (2026-11-14 - 2026-11-16)".
_API_PERIOD = re.compile(r"\((\d{4}-\d{2}-\d{2}\s*-\s*\d{4}-\d{2}-\d{2})\)\W*$")


def _is_api_header(cells: list[str]) -> bool:
    names = set(cells)
    return bool(names & {"campaignid", "campaignname"}) and bool(names & {"cost", "clicks", "impressions"})


# Columns only Direct's report builder writes; a hand-made sheet with "Кампания; Показы; Расход" (read
# with --format generic) must not be taken for a Direct export.
UI_MARKERS = frozenset(
    {
        "№ кампании",
        "ctr (%)",
        "отказы (%)",
        "глубина (стр.)",
        "тип площадки",
        "условие показа",
        "№ группы",
        "№ объявления",
        "№ условия показа",
        "конверсия (%)",
        "взвешенные показы",
        "wctr (%)",
        # the 2024+ report builder's spellings
        "отказы, %",
        "глубина просмотра",
        "место клика",
        "тип условия показа",
        "название площадки",
    }
)


def _is_ui_header(cells: list[str]) -> bool:
    names = set(cells)
    campaign = {norm_name(n) for k in ("campaign_id", "campaign_name") for n in UI.columns[k]}
    cost = UI.cost_column(cells)
    marked = bool(names & UI_MARKERS) or any(c.startswith("ср. цена клика") for c in cells)
    return bool(names & campaign) and cost is not None and marked


_PERIOD = re.compile(r"^\s*период\s*:\s*(.+?)\s*$", re.IGNORECASE)


def _period_of(table: TextTable) -> tuple[dt.date, dt.date] | None:
    """The ``Период: 01.03.2026 - 31.03.2026`` line Мастер отчётов writes above the header."""
    return next((report_period(m[1]) for t in table.title_lines for m in [_PERIOD.match(t)] if m), None)


def _no_period(table: TextTable) -> MissingColumn:
    """The refusal of a report with neither a day column nor the period it covers."""
    return MissingColumn(
        _(
            "{file}: a Yandex Direct report of {rows} rows without a day column (Дата) and without the "
            "«Период: …» line above its header, so the days it covers are unknown. Export it again from "
            "Мастер отчётов with the time grouping «по дням» (the Дата column), keeping № Кампании and "
            "Расход, or keep the report's title lines",
            file=table.file,
            rows=table.rows_read,
        )
    )


def looks_like_micros(cost: pl.Series) -> bool:
    """Reports API money in micros: every value a whole number divisible by 10,000 (docs: money.md)."""
    values = cost.str.strip_chars().replace(["", "--"], [None, None]).drop_nulls()
    if values.len() == 0:
        return True
    if not bool(values.str.contains(r"^\d+$").all()):
        return False
    return bool((values.cast(pl.Int64, strict=False).fill_null(1) % 10_000 == 0).all())


@SOURCES.register
class YandexDirect:
    name = "yandex_direct"
    detect_priority = 40
    title = "Yandex Direct statistics: Reports API TSV, web interface CSV/XLSX → spend"
    spec_url = "https://yandex.ru/dev/direct/doc/ru/reports/spec"

    def detect(self, path: Path, head: bytes) -> bool:
        api = header_of(path, head, API.known(), 2)
        if api is not None and _is_api_header(api):
            return True
        ui = header_of(path, head, [*UI.known(), "Расход (руб.)", "Расход"], 2)
        return ui is not None and _is_ui_header(ui)

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        with open(path, "rb") as f:
            head = f.read(65536)
        api = header_of(path, head, API.known(), 2)
        if api is not None and _is_api_header(api):
            return [self._read_api(path, ctx)]
        table = read_table(
            path,
            [*UI.known(), "Расход (руб.)", "Расход"],
            format_title=UI.title,
            limits=ctx.settings.import_limits,
        )
        if not _is_ui_header(table.frame.columns):
            raise MissingColumn(
                _(
                    "{file}: not a Yandex Direct statistics export: expected columns such as {columns}",
                    file=str(path),
                    columns="Дата, № Кампании, Кампания, Показы, Клики, Расход (руб.) / Date, CampaignId, Impressions, Clicks, Cost",
                )
            )
        if not any(norm_name(n) in table.frame.columns for n in UI.columns["date"]):
            # A whole-period report (Мастер отчётов' default): its rows cover the period it names.
            period = _period_of(table)
            if period is None:
                raise _no_period(table)
            return [spend_from_table(table, ctx, UI, CHANNEL, period=period)]
        return [spend_from_table(table, ctx, UI, CHANNEL)]

    def _read_api(self, path: Path, ctx: ReadContext) -> ReadResult:
        table = read_table(
            path,
            API.known(),
            delimiter=API.delimiter,
            quote=API.quote,
            format_title=API.title,
            limits=ctx.settings.import_limits,
        )
        declared = [
            int(m.group(1)) for _line, cells in table.totals for m in [_TOTAL_ROWS.match(cells[0])] if m
        ]
        if declared and declared[-1] != table.rows_read:
            raise ImportFailed(
                _(
                    "{file}: the report says Total rows: {declared} but {seen} rows were found; the download looks cut off",
                    file=str(path),
                    declared=declared[-1],
                    seen=table.rows_read,
                )
            )
        options = ad_options(ctx)
        micros = options.money_in_micros
        if micros is None:
            micros = "cost" in table.frame.columns and looks_like_micros(table.frame["cost"])
        layout = dataclasses.replace(API, micros=micros)
        if "date" in table.frame.columns:
            return spend_from_table(table, ctx, layout, CHANNEL)
        # No Date in FieldNames: each row covers the report's whole period, which only the report
        # header line states (absent when requested with skipReportHeader).
        period = next(
            (report_period(m[1]) for t in table.title_lines for m in [_API_PERIOD.search(t)] if m), None
        )
        if period is None:
            raise MissingColumn(
                _(
                    "{file}: a Yandex Direct Reports API report of {rows} rows without a Date field and "
                    "without the report header line that names its period, so the days it covers are "
                    "unknown. Request it again with Date in FieldNames (a row per day), or without the "
                    "skipReportHeader header",
                    file=table.file,
                    rows=table.rows_read,
                )
            )
        return spend_from_table(table, ctx, layout, CHANNEL, period=period)
