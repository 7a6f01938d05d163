"""Google Ads campaign statistics -> ``spend`` (channel ``google_ads``).

**Interface report download** (Reports → Download → CSV, "Excel CSV" or XLSX; no public column spec,
layout as seen in exports): two title lines (report name, date range) above the header,
``Total: …`` summary rows at the bottom, ``"2,140"`` thousands separators, ``%`` suffixes, ``--`` for
"no value". "CSV" is UTF-8 with commas; "Excel CSV" is UTF-16 with tabs. Headers follow the interface
language: English ``Day``, ``Campaign ID``, ``Campaign``, ``Impr.``, ``Clicks``, ``Cost``,
``Currency code``; Russian ``День``, ``Идентификатор кампании``, ``Кампания``, ``Показы``, ``Клики``,
``Цена``/``Стоимость``, ``Код валюты``. The report must be segmented by day (Segment → Time → Day):
spend is per day, and a report without a day column is refused with that hint. Dates with slashes are
read month first under English headers (``9/1/2026``) and day first under Russian ones.

**API report** (https://developers.google.com/google-ads/api/docs/query/overview): GAQL
``SELECT segments.date, campaign.id, campaign.name, metrics.impressions, metrics.clicks,
metrics.cost_micros, customer.currency_code FROM campaign``, either the REST ``search`` /
``searchStream`` JSON saved to a file (``{"results": [{"campaign": {"id": "…", "name": "…"},
"metrics": {"costMicros": "…"}, "segments": {"date": "…"}}]}``, or a list of such batches; int64
values arrive as strings), or a flat CSV whose header names the GAQL fields (``segments.date`` …, or
``segments_date`` … as BigQuery Data Transfer writes them). ``cost_micros`` is money ×1,000,000.

VAT: Google Ads costs are net of VAT (VAT is invoiced on top), so ``vat_included`` is false.
Campaign: ``campaign.id`` / ``Campaign ID`` when present (``utm_campaign={campaignid}``), else the name.
An account-level API report (``FROM customer``: ``customer`` and ``segments.date``, no campaign
fields) is loaded as one campaign per account, named as the interface names the account (its
``descriptiveName``, else ``account <customer id>``), with a warning that adding ``campaign.id,
campaign.name`` to the query gives spend per campaign.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kassa.errors import ImportFailed, RowError
from kassa.i18n import Translator
from kassa.sources.adspend import (
    SpendLayout,
    read_spend_table,
    spend_from_api_frame,
    spend_from_table,
)
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.json_files import frame_of_records, json_row_lines, json_text, load_json
from kassa.sources.helpers.periods import report_period
from kassa.sources.helpers.text import head_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import header_of, read_table

_ = Translator("sources")

CHANNEL = "google_ads"
UI = SpendLayout(
    title="Google Ads",
    columns={
        "date": ("Day", "Date", "День", "Дата"),
        "campaign_id": ("Campaign ID", "Идентификатор кампании", "ID кампании"),
        "campaign_name": ("Campaign", "Кампания"),
        "impressions": ("Impr.", "Impressions", "Показы"),
        "clicks": ("Clicks", "Клики"),
        "cost": ("Cost", "Цена", "Стоимость", "Расходы"),
        "currency": ("Currency code", "Currency", "Код валюты", "Валюта"),
    },
    include_vat=False,
    # Video and Demand Gen reports have Interactions, not Clicks: a missing count is loaded as 0, said once.
    required=("date", "cost"),
)
API_CSV = SpendLayout(
    title="Google Ads API",
    columns={
        "date": ("segments.date", "segments_date", "date"),
        "campaign_id": ("campaign.id", "campaign_id"),
        "campaign_name": ("campaign.name", "campaign_name"),
        "impressions": ("metrics.impressions", "metrics_impressions", "impressions"),
        "clicks": ("metrics.clicks", "metrics_clicks", "clicks"),
        "cost": ("metrics.cost_micros", "metrics_cost_micros", "cost_micros"),
        "currency": ("customer.currency_code", "customer_currency_code", "currency_code"),
    },
    micros=True,
    decimal=".",
    include_vat=False,
)
JSON = SpendLayout(title="Google Ads API", columns={}, micros=True, decimal=".", include_vat=False)


# Columns only Google Ads' report download writes, so a generic sheet is never taken for one.
EN_MARKERS = frozenset(
    {
        "impr.",
        "currency code",
        "avg. cpc",
        "campaign status",
        "campaign type",
        "campaign id",
        "conv. rate",
        "cost / conv.",
    }
)
RU_MARKERS = frozenset(
    {
        "ср. цена за клик",
        "код валюты",
        "идентификатор кампании",
        "цена/конв.",
        "ценность конверсии",
        "статус кампании",
        "тип кампании",
    }
)


def _is_ui_header(cells: list[str]) -> bool:
    names = set(cells)
    english = (
        "campaign" in names
        and "cost" in names
        and bool(names & {"impr.", "impressions"})
        and bool(names & EN_MARKERS)
    )
    russian = (
        "кампания" in names
        and "показы" in names
        and bool(names & {"цена", "стоимость"})
        and bool(names & RU_MARKERS)
        and not any(c.startswith("расход") for c in cells)
    )
    return english or russian


def _is_api_header(cells: list[str]) -> bool:
    return bool(set(cells) & {"metrics.cost_micros", "metrics_cost_micros", "cost_micros"})


def account_campaign(row: dict[str, object]) -> str | None:
    """The campaign an account-level row (``FROM customer``, no campaign fields) is stored under.

    Named as Google Ads names the account: its ``descriptiveName``, else ``account <id>`` with the
    customer id from ``customer.id`` or ``resourceName`` (``customers/1234567890``), dashed as the
    interface shows it (``123-456-7890``).
    """
    name = json_text(_flat(row, "customer", "descriptiveName", "descriptive_name"))
    if name:
        return name
    cid = json_text(_flat(row, "customer", "id"))
    if not cid:
        resource = json_text(_flat(row, "customer", "resourceName", "resource_name")) or ""
        cid = resource.rpartition("/")[2] if resource.startswith("customers/") else None
    if not cid:
        return None
    shown = f"{cid[:3]}-{cid[3:6]}-{cid[6:]}" if len(cid) == 10 and cid.isdigit() else cid
    return f"account {shown}"


def _flat(row: dict[str, object], group: str, *keys: str) -> object:
    part = row.get(group)
    if not isinstance(part, dict):
        return None
    for k in keys:
        if k in part:
            return part[k]
    return None


@SOURCES.register
class GoogleAds:
    name = "google_ads"
    detect_priority = 60
    title = "Google Ads: interface report CSV/XLSX (by day), API report (cost_micros) JSON or CSV → spend"
    spec_url = "https://developers.google.com/google-ads/api/docs/query/overview"

    def detect(self, path: Path, head: bytes) -> bool:
        text = head_text(head).lstrip()
        if text.startswith(("{", "[")):
            return ('"costMicros"' in text or '"cost_micros"' in text) and '"segments"' in text
        api = header_of(path, head, API_CSV.known(), 2)
        if api is not None and _is_api_header(api):
            return True
        ui = header_of(path, head, UI.known(), 3)
        return ui is not None and _is_ui_header(ui)

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        with open(path, "rb") as f:
            head = f.read(65536)
        if head_text(head).lstrip().startswith(("{", "[")):
            return [self._read_json(path, ctx)]
        api = header_of(path, head, API_CSV.known(), 2)
        if api is not None and _is_api_header(api):
            return [read_spend_table(path, ctx, API_CSV, CHANNEL)]
        table = read_table(
            path, UI.known(), min_hits=3, format_title=UI.title, limits=ctx.settings.import_limits
        )
        english = table.has("Campaign") or table.has("Clicks")
        layout = dataclasses.replace(UI, dayfirst=False) if english else UI
        if not table.has("Day") and not table.has("Date") and not table.has("День") and not table.has("Дата"):
            # The interface's default: one row per campaign for the date range on the report's second line.
            period = next((p for t in table.title_lines for p in [report_period(t)] if p), None)
            if period is None:
                raise ImportFailed(
                    _(
                        "{file}: the Google Ads report has no day column and no date range kassa can read "
                        "({range}); download it for a date range, or segmented by day (Segment → Time → Day)",
                        file=str(path),
                        range=" / ".join(t.strip() for t in table.title_lines[1:2]) or _("none"),
                    )
                )
            return [spend_from_table(table, ctx, layout, CHANNEL, period=period)]
        return [spend_from_table(table, ctx, layout, CHANNEL)]

    def _read_json(self, path: Path, ctx: ReadContext) -> ReadResult:
        doc, text = load_json(path)
        file = str(path)
        batches = doc if isinstance(doc, list) else [doc]
        rows: list[dict[str, object]] = []
        for i, batch in enumerate(batches):
            results = batch.get("results", []) if isinstance(batch, dict) else None
            if not isinstance(results, list):
                raise ImportFailed(
                    _('{file}: batch {i} is not a Google Ads search response with "results"', file=file, i=i)
                )
            rows.extend(r if isinstance(r, dict) else {} for r in results)
        records = [
            {
                "date": json_text(_flat(r, "segments", "date")),
                "campaign_id": json_text(_flat(r, "campaign", "id")),
                "campaign_name": json_text(_flat(r, "campaign", "name")),
                "impressions": json_text(_flat(r, "metrics", "impressions")),
                "clicks": json_text(_flat(r, "metrics", "clicks")),
                "cost": json_text(_flat(r, "metrics", "costMicros", "cost_micros")),
                "currency": json_text(_flat(r, "customer", "currencyCode", "currency_code")),
            }
            for r in rows
        ]
        # A query FROM customer has no campaign fields: the account is the campaign (see account_campaign).
        accounts: list[str] = []
        for rec, r in zip(records, rows, strict=True):
            if rec["campaign_id"] is None and rec["campaign_name"] is None:
                account = account_campaign(r)
                if account is not None:
                    rec["campaign_name"] = account
                    accounts.append(account)
        # Zero-metric rows can omit "metrics" fields entirely (proto3 JSON drops zeros): read as 0.
        for rec in records:
            for k in ("impressions", "clicks", "cost"):
                if rec[k] is None:
                    rec[k] = "0"
        lines = json_row_lines(text, "segments", len(records))
        frame = frame_of_records(
            records,
            lines,
            ["date", "campaign_id", "campaign_name", "impressions", "clicks", "cost", "currency"],
        )
        result = spend_from_api_frame(
            frame, path=path, ctx=ctx, layout=JSON, channel=CHANNEL, rows_read=len(records)
        )
        if accounts:
            result.errors.insert(
                0,
                RowError(
                    file,
                    None,
                    "campaign",
                    None,
                    _(
                        "the report has no campaign fields: {rows} row(s) loaded at account level as "
                        "campaign {campaign}; add campaign.id, campaign.name to the query (FROM campaign) "
                        "for spend per campaign",
                        rows=len(accounts),
                        campaign=", ".join(sorted(set(accounts))),
                    ),
                    row_kept=True,
                ),
            )
        return result
