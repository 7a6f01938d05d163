"""Write the ad/analytics fixtures that are not plain UTF-8 text (cp1251, UTF-16, XLSX, Parquet).

Their content lives here as text so a diff shows what changed; run after editing and commit the output::

    .venv/bin/python -m tests.sources.make_fixtures
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"

# Direct's report builder, saved as CSV by a Russian Excel: cp1251, ';', decimal comma, no-break-space
# thousands, title lines, an "Итого" row.
DIRECT_UI_CSV = """Статистика по кампаниям
Период: 01.11.2026 - 02.11.2026
Дата;№ Кампании;Кампания;Показы;Клики;CTR (%);Расход (руб.);Ср. цена клика (руб.)
01.11.2026;70001;Осень_поиск;2\u00a0000;40;2,00;2\u00a0000,00;50,00
01.11.2026;70002;РСЯ Ретаргет;5 000;25;0,50;350,00;14,00
02.11.2026;70001;Осень_поиск;1 000;20;2,00;1 200,00;60,00
02.11.2026;70002;РСЯ Ретаргет;300;0;0,00;0,00;--
02.11.2026;70003;Зима;10;1;10,00;12,3,4;12,34
Итого;;8 310;86;1,03;3 550,00;41,28
"""

# Google Ads "Excel CSV": UTF-16 with a BOM, tab-separated, same layout as the UTF-8 CSV.
GOOGLE_EXCEL_CSV = (
    "Campaign report\n"
    "1 November 2026 - 2 November 2026\n"
    "Day\tCampaign ID\tCampaign\tImpr.\tClicks\tCurrency code\tCost\n"
    "2026-11-01\t90001\tSearch - Brand\t2,140\t498\tRUB\t1,189.24\n"
    "2026-11-02\t90001\tSearch - Brand\t1,900\t410\tRUB\t164.00\n"
    "Total: Account\t\t\t4,040\t908\t\t1,353.24\n"
)


def direct_ui_xlsx(path: Path) -> None:
    """Direct's report builder as XLSX, amounts without VAT, campaign names only, real date cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Статистика по кампаниям (без НДС)"])
    ws.append([])
    ws.append(["Дата", "Кампания", "Показы", "Клики", "CTR (%)", "Расход (руб.)"])
    ws.append([dt.date(2026, 11, 1), "Осень_поиск", 2000, 40, 2.0, 1639.34])
    ws.append([dt.date(2026, 11, 2), "Осень_поиск", 1000, 20, 2.0, 983.61])
    ws.append([46329, "Осень_поиск", 500, 5, 1.0, 100.5])  # 2026-11-03 typed as an Excel serial number
    ws.append(["Итого", None, 3500, 65, 1.86, 2723.45])
    wb.save(path)


def ga4_parquet(path: Path) -> None:
    """The JSON-lines GA4 fixture's valid events as Parquet (the BigQuery export's nested schema)."""
    events = []
    for line in (DATA / "ga4_bigquery" / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not str(e.get("event_timestamp", "")).isdigit():
            continue
        events.append(
            {
                "event_date": e["event_date"],
                "event_timestamp": int(e["event_timestamp"]),
                "event_name": e["event_name"],
                "user_pseudo_id": e["user_pseudo_id"],
                "event_params": [
                    {
                        "key": p["key"],
                        "value": {
                            "string_value": p["value"].get("string_value"),
                            "int_value": int(p["value"]["int_value"]) if "int_value" in p["value"] else None,
                            "double_value": None,
                        },
                    }
                    for p in e["event_params"]
                ],
                "collected_traffic_source": e.get("collected_traffic_source"),
            }
        )
    value = pa.struct(
        [("string_value", pa.string()), ("int_value", pa.int64()), ("double_value", pa.float64())]
    )
    cts = pa.struct(
        [
            (k, pa.string())
            for k in ("manual_source", "manual_medium", "manual_campaign_name", "manual_campaign_id", "gclid")
        ]
    )
    schema = pa.schema(
        [
            ("event_date", pa.string()),
            ("event_timestamp", pa.int64()),
            ("event_name", pa.string()),
            ("user_pseudo_id", pa.string()),
            ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", value)]))),
            ("collected_traffic_source", cts),
        ]
    )
    pq.write_table(pa.Table.from_pylist(events, schema=schema), path)


def main() -> None:
    (DATA / "yandex_direct" / "web_export_cp1251.csv").write_bytes(
        DIRECT_UI_CSV.replace("\n", "\r\n").encode("cp1251")
    )
    direct_ui_xlsx(DATA / "yandex_direct" / "web_export_novat.xlsx")
    (DATA / "google_ads" / "campaign_report_excel.csv").write_bytes(
        GOOGLE_EXCEL_CSV.replace("\n", "\r\n").encode("utf-16")
    )
    ga4_parquet(DATA / "ga4_bigquery" / "events.parquet")


if __name__ == "__main__":
    main()
