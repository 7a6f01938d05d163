"""Google Ads click conversions: the file for a manual upload (api-protocols.md §6).

Google Ads' click-conversion import template: a first line ``Parameters:TimeZone=<zone>``, then the
columns ``Google Click ID``, ``Conversion Name``, ``Conversion Time`` (``yyyy-MM-dd HH:mm:ss`` in that
zone), ``Conversion Value``, ``Conversion Currency``, ``Order ID`` (Google's dedup key: the same order
id is not counted twice). The API upload (``customers/{id}:uploadClickConversions`` with
``partialFailure``) is not built yet: the Google connection's OAuth pair is for reading reports.
"""

from __future__ import annotations

import csv
import io
from typing import Any

HEADER = ("Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency", "Order ID")


def csv_text(rows: list[dict[str, Any]], time_zone: str) -> str:
    out = io.StringIO()
    out.write(f"Parameters:TimeZone={time_zone}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        value = "" if r["value"] is None else f"{float(r['value']):.2f}"
        w.writerow((r["id_value"], r["target"], r["at"].strftime("%Y-%m-%d %H:%M:%S"), value, r["currency"] if value else "", r["key"]))
    return out.getvalue()
