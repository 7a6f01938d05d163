"""Meta Conversions API events: the file for a manual upload (api-protocols.md §6).

Each event: ``event_name`` (``Lead`` for a qualified lead, ``Purchase`` for a sale or payment),
``event_time`` (Unix seconds), ``action_source`` = ``system_generated`` (a CRM's conversion),
``event_id`` (Meta's dedup key: the same id within 48 hours is counted once), ``fbc``
(``fb.1.<click ms>.<fbclid>``), ``em`` / ``ph`` (SHA-256 of the normalised e-mail / phone, only with
``store_personal_data``: kassa's keyed hashes cannot be turned into Meta's), ``value``, ``currency``.
The API upload (``POST /{pixel_id}/events`` with a ``data`` array) is not built yet.
"""

from __future__ import annotations

import csv
import io
from typing import Any

HEADER = ("event_id", "event_name", "event_time", "action_source", "fbc", "em", "ph", "value", "currency")
EVENT_NAMES = {"qualified_lead": "Lead", "sale": "Purchase", "paid": "Purchase"}


def csv_text(rows: list[dict[str, Any]], goal: str) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        value = "" if r["value"] is None else f"{float(r['value']):.2f}"
        fbc = r["id_value"] if r["id_type"] == "FBC" else ""
        w.writerow(
            (r["key"], EVENT_NAMES[goal], r["unix"], "system_generated", fbc, r["hashed_email"] or "", r["hashed_phone"] or "", value, r["currency"] if value else "")
        )
    return out.getvalue()
