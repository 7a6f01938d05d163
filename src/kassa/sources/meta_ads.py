"""Meta (Facebook, Instagram) Ads Insights -> ``spend`` (channel ``meta_ads``).

**Insights API JSON** (https://developers.facebook.com/docs/marketing-api/insights): the body of
``GET /act_<id>/insights?level=campaign&time_increment=1&fields=campaign_id,campaign_name,impressions,
reach,clicks,inline_link_clicks,spend,account_currency`` saved to a file — ``{"data": [...],
"paging": {...}}``, a list of such pages, or the ``data`` list alone. Every number is a JSON string;
``spend`` is in the account currency (not cents, not micros); ``date_start``/``date_stop`` are the
row's days.

**Ads Manager export** (Reports → Export table data, CSV/XLSX; layout as seen in exports):
``Reporting starts``, ``Reporting ends``, ``Campaign name``, ``Campaign ID``, ``Impressions``,
``Reach``, ``Link clicks``, ``Clicks (all)``, ``Amount spent (USD)`` (currency in the header); Russian
interface: ``Начало отчетности``, ``Конец отчетности``, ``Название кампании``, ``ID кампании``,
``Показы``, ``Охват``, ``Клики по ссылке``, ``Потраченная сумма (RUB)``.

Rows must be daily (``time_increment=1`` / breakdown by day): a row whose start and end days differ is
refused with that hint. Clicks are **link clicks** (``inline_link_clicks``) when the file has them —
those are the clicks that can bring a visit with UTM tags — else all clicks. VAT: Meta's amounts are
net of VAT (charged on top where it applies), so ``vat_included`` is false. Campaign: ``campaign_id``
when present (``utm_campaign={{campaign.id}}``), else ``campaign_name``.
"""

from __future__ import annotations

from pathlib import Path

from kassa.errors import ImportFailed
from kassa.i18n import Translator
from kassa.sources.adspend import (
    SpendLayout,
    read_spend_table,
    spend_from_api_frame,
)
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.json_files import frame_of_records, json_row_lines, json_text, load_json
from kassa.sources.helpers.text import head_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import header_of

_ = Translator("sources")

CHANNEL = "meta_ads"
EXPORT = SpendLayout(
    title="Meta Ads Manager",
    columns={
        "date": ("Reporting starts", "Начало отчетности", "Начало отчётности", "Day", "День"),
        "date_stop": ("Reporting ends", "Конец отчетности", "Конец отчётности"),
        "campaign_id": ("Campaign ID", "ID кампании"),
        "campaign_name": ("Campaign name", "Название кампании"),
        "impressions": ("Impressions", "Показы"),
        "reach": ("Reach", "Охват"),
        "clicks": ("Link clicks", "Клики по ссылке", "Clicks (all)", "Клики (все)", "Clicks"),
        "currency": ("Currency", "Валюта"),
    },
    cost_prefixes=("Amount spent", "Потраченная сумма", "Сумма затрат"),
    include_vat=False,
)
JSON = SpendLayout(title="Meta Ads Insights API", columns={}, decimal=".", include_vat=False)


def _is_export_header(cells: list[str]) -> bool:
    names = set(cells)
    starts = bool(names & {"reporting starts", "начало отчетности", "начало отчётности"})
    spent = any(c.startswith(p) for c in cells for p in ("amount spent", "потраченная сумма", "сумма затрат"))
    return starts and spent


def _pages(doc: object) -> list[object] | None:
    """The insight rows of a saved response: one page, a list of pages, or the bare ``data`` list."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        return list(doc["data"])
    if isinstance(doc, list):
        if all(isinstance(p, dict) and isinstance(p.get("data"), list) for p in doc) and doc:
            return [row for p in doc for row in p["data"]]
        return list(doc)
    return None


@SOURCES.register
class MetaAds:
    name = "meta_ads"
    detect_priority = 70
    title = "Meta Ads Insights: API JSON (time_increment=1), Ads Manager CSV/XLSX export → spend"
    spec_url = "https://developers.facebook.com/docs/marketing-api/insights"

    def detect(self, path: Path, head: bytes) -> bool:
        text = head_text(head).lstrip()
        if text.startswith(("{", "[")):
            return '"date_start"' in text and '"spend"' in text
        cells = header_of(
            path, head, [*EXPORT.known(), "Amount spent (USD)", "Amount spent (RUB)", "Amount spent (EUR)"], 2
        )
        return cells is not None and _is_export_header(cells)

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        with open(path, "rb") as f:
            head = f.read(65536)
        if head_text(head).lstrip().startswith(("{", "[")):
            return [self._read_json(path, ctx)]
        return [read_spend_table(path, ctx, EXPORT, CHANNEL)]

    def _read_json(self, path: Path, ctx: ReadContext) -> ReadResult:
        doc, text = load_json(path)
        rows = _pages(doc)
        if rows is None:
            raise ImportFailed(_('{file}: not a Meta Insights response: no "data" list', file=str(path)))
        records = []
        for r in rows:
            row = r if isinstance(r, dict) else {}
            link = row.get("inline_link_clicks")
            records.append(
                {
                    "date": json_text(row.get("date_start")),
                    "date_stop": json_text(row.get("date_stop")),
                    "campaign_id": json_text(row.get("campaign_id")),
                    "campaign_name": json_text(row.get("campaign_name")),
                    "impressions": json_text(row.get("impressions", "0")),
                    "reach": json_text(row.get("reach")),
                    "clicks": json_text(link if link is not None else row.get("clicks", "0")),
                    "cost": json_text(row.get("spend", "0")),
                    "currency": json_text(row.get("account_currency")),
                }
            )
        lines = json_row_lines(text, "date_start", len(records))
        cols = [
            "date",
            "date_stop",
            "campaign_id",
            "campaign_name",
            "impressions",
            "reach",
            "clicks",
            "cost",
            "currency",
        ]
        frame = frame_of_records(records, lines, cols)
        return spend_from_api_frame(
            frame, path=path, ctx=ctx, layout=JSON, channel=CHANNEL, rows_read=len(records)
        )
