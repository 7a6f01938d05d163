"""VK Ads (ads.vk.com) statistics -> ``spend`` (channel ``vk_ads``).

**API JSON** (https://ads.vk.com/doc/api/info/Statistics; response shape as in the partner statistics
API, https://ads.vk.com/en/help/partner/partner_api/partner_statistics_api): the body of
``GET /api/v2/statistics/ad_plans/day.json?id=…&date_from=…&date_to=…&metrics=base[,uniques]`` saved to
a file::

    {"items": [{"id": 123, "rows": [{"date": "2026-11-01",
                                     "base": {"shows": 1000, "clicks": 12, "spent": "350.50", …},
                                     "uniques": {"reach": 800, …}}, …],
                "total": {…}}],
     "total": {…}}

One row per campaign (``items[].id``, an ``ad_plan``; ``statistics/campaigns`` of the older myTarget
API gives the same shape) and day. ``spent`` is a decimal string in the account currency (not micros).
The statistics carry no campaign name, so ``campaign`` is the id: use ``{{campaign_id}}`` in
``utm_campaign``. ``items[].total`` and the top-level ``total`` are summaries and are not read.

**Interface export** (Статистика → Выгрузить, CSV/XLSX; no public column spec, names as commonly
seen, unverified): ``Дата``, ``ID кампании``, ``Кампания``, ``Показы``, ``Клики``, ``Списания`` /
``Потрачено``, ``Охват`` (English: ``Date``, ``Campaign ID``, ``Campaign``, ``Shows``/``Impressions``,
``Clicks``, ``Spent``, ``Reach``). Detection needs a VK-specific cost header (``Списания``,
``Списано``, ``Потрачено``, ``Spent``); with ``--format vk_ads`` a ``Расход`` column is accepted too.

VAT: VK Ads shows and bills amounts for Russian advertisers **with VAT** (unverified, not in the
statistics response); ``include_vat: false`` in the ``--mapping`` options overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

CHANNEL = "vk_ads"
VK_COSTS = ("Списания", "Списано", "Потрачено", "Spent")
EXPORT = SpendLayout(
    title="VK Ads",
    columns={
        "date": ("Дата", "День", "Date", "Day"),
        "campaign_id": ("ID кампании", "Id кампании", "Campaign ID", "ID"),
        "campaign_name": ("Кампания", "Название кампании", "Campaign", "Campaign name"),
        "impressions": ("Показы", "Shows", "Impressions"),
        "clicks": ("Клики", "Clicks"),
        "reach": ("Охват", "Reach"),
        "currency": ("Валюта", "Currency"),
    },
    cost_prefixes=(*VK_COSTS, "Расход", "Cost"),
    include_vat=True,
)
JSON = SpendLayout(title="VK Ads API", columns={}, decimal=".", include_vat=True)


def _is_export_header(cells: list[str]) -> bool:
    names = set(cells)
    has_cost = any(c.startswith(p.lower()) for c in cells for p in VK_COSTS)
    has_campaign = bool(
        names & {"id кампании", "кампания", "название кампании", "campaign id", "campaign", "campaign name"}
    )
    # A VK-specific column besides the cost one, so a hand-made sheet with "Потрачено" is not claimed.
    marked = bool(names & {"id кампании", "campaign id", "охват", "reach", "ecpm", "cpm", "ctr"})
    return has_cost and has_campaign and marked and bool(names & {"показы", "shows", "impressions"})


def _group(row: dict[str, Any], name: str) -> dict[str, Any]:
    """A metric group of a statistics row (``base``, ``uniques``); empty when absent or malformed."""
    group = row.get(name)
    return group if isinstance(group, dict) else {}


@SOURCES.register
class VkAds:
    name = "vk_ads"
    detect_priority = 50
    title = "VK Ads statistics: API JSON (statistics/ad_plans/day), interface CSV/XLSX → spend"
    spec_url = "https://ads.vk.com/doc/api/info/Statistics"

    def detect(self, path: Path, head: bytes) -> bool:
        text = head_text(head).lstrip()
        if text.startswith("{"):
            return '"items"' in text and '"rows"' in text and '"spent"' in text
        cells = header_of(path, head, [*EXPORT.known(), *VK_COSTS], 2)
        return cells is not None and _is_export_header(cells)

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        with open(path, "rb") as f:
            head = f.read(65536)
        if head_text(head).lstrip().startswith(("{", "[")):
            return [self._read_json(path, ctx)]
        return [read_spend_table(path, ctx, EXPORT, CHANNEL)]

    def _read_json(self, path: Path, ctx: ReadContext) -> ReadResult:
        doc, text = load_json(path)
        file = str(path)
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ImportFailed(_('{file}: not a VK Ads statistics response: no "items" list', file=file))
        records: list[dict[str, str | None]] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("rows", []), list):
                raise ImportFailed(
                    _('{file}: items[{i}] is not a statistics item with "rows"', file=file, i=i)
                )
            for row in item.get("rows", []):
                row = row if isinstance(row, dict) else {}
                base = _group(row, "base")
                uniques = _group(row, "uniques")
                records.append(
                    {
                        "date": json_text(row.get("date")),
                        "campaign_id": json_text(item.get("id")),
                        "impressions": json_text(base.get("shows")),
                        "clicks": json_text(base.get("clicks")),
                        "cost": json_text(base.get("spent")),
                        "reach": json_text(uniques.get("reach")),
                    }
                )
        lines = json_row_lines(text, "date", len(records))
        frame = frame_of_records(
            records, lines, ["date", "campaign_id", "impressions", "clicks", "cost", "reach"]
        )
        return spend_from_api_frame(
            frame, path=path, ctx=ctx, layout=JSON, channel=CHANNEL, rows_read=len(records)
        )
