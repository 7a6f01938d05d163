"""Google Ads click conversions: the file for a manual upload (api-protocols.md §6).

Google Ads' click-conversion import template: a first line ``Parameters:TimeZone=<zone>``, then the
columns ``Google Click ID``, ``Conversion Name``, ``Conversion Time`` (``yyyy-MM-dd HH:mm:ss`` in that
zone), ``Conversion Value``, ``Conversion Currency``, ``Order ID`` (Google's dedup key: the same order
id is not counted twice).

The API upload: ``POST customers/{id}:uploadClickConversions`` (through
:meth:`kassa.connectors.google_ads.Client.upload_click_conversions`, which keeps the connection's OAuth
refresh) with ``partialFailure: true``; each ``ClickConversion`` carries ``gclid``,
``conversionAction`` (``customers/{id}/conversionActions/{action id}``), ``conversionDateTime``
(``yyyy-mm-dd hh:mm:ss+hh:mm``, the zone written out), ``conversionValue``, ``currencyCode`` and
``orderId`` = kassa's key. Only rows with a non-empty result are accepted; the refused ones are named
by ``partialFailureError`` and not logged as sent, so the next run tries them again.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from kassa.connectors import google_ads

HEADER = (
    "Google Click ID",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Conversion Currency",
    "Order ID",
)


def csv_text(rows: list[dict[str, Any]], time_zone: str) -> str:
    out = io.StringIO()
    out.write(f"Parameters:TimeZone={time_zone}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        value = "" if r["value"] is None else f"{float(r['value']):.2f}"
        w.writerow(
            (
                r["id_value"],
                r["target"],
                r["at"].strftime("%Y-%m-%d %H:%M:%S"),
                value,
                r["currency"] if value else "",
                r["key"],
            )
        )
    return out.getvalue()


def click_conversion(r: dict[str, Any], customer_id: str, action: str) -> dict[str, Any]:
    at = r["at"].isoformat(sep=" ", timespec="seconds")  # 2026-10-01 10:41:58+03:00
    out: dict[str, Any] = {
        "gclid": r["id_value"],
        "conversionAction": f"customers/{customer_id}/conversionActions/{action}",
        "conversionDateTime": at,
        "orderId": r["key"],
    }
    if r["value"] is not None:
        out["conversionValue"] = float(r["value"])
        out["currencyCode"] = r["currency"]
    return out


def upload(client: google_ads.Client, rows: list[dict[str, Any]], action: str) -> tuple[list[str], list[str]]:
    """(keys accepted, the refusals in words) of one ``uploadClickConversions``."""
    cid = client.account.customer_id
    answer = client.upload_click_conversions([click_conversion(r, cid, action) for r in rows])
    results = answer.get("results") or []
    accepted = [r["key"] for r, res in zip(rows, results, strict=False) if isinstance(res, dict) and res]
    refused: list[str] = []
    err = answer.get("partialFailureError")
    if isinstance(err, dict):
        for d in err.get("details") or []:
            for e in (d.get("errors") or []) if isinstance(d, dict) else []:
                where = [
                    p.get("index")
                    for p in (e.get("location") or {}).get("fieldPathElements") or []
                    if "index" in p
                ]
                row = (
                    rows[where[0]]["key"]
                    if where and isinstance(where[0], int) and where[0] < len(rows)
                    else "?"
                )
                refused.append(f"{row}: {e.get('message') or 'refused'}")
        if not refused:
            refused.append(str(err.get("message") or "partial failure"))
    return accepted, refused
