"""Meta Conversions API events: the file for a manual upload (api-protocols.md §6).

Each event: ``event_name`` (``Lead`` for a qualified lead, ``Purchase`` for a sale or payment),
``event_time`` (Unix seconds), ``action_source`` = ``system_generated`` (a CRM's conversion),
``event_id`` (Meta's dedup key: the same id within 48 hours is counted once), ``fbc``
(``fb.1.<click ms>.<fbclid>``), ``em`` / ``ph`` (SHA-256 of the normalised e-mail / phone, only with
``store_personal_data``: kassa's keyed hashes cannot be turned into Meta's), ``value``, ``currency``.
The API upload: ``POST {base}/{version}/{pixel_id}/events`` with a JSON body ``{"data": [event, …],
"access_token": …}`` (the token in the body, never in a URL that a log may keep); the answer
``{"events_received": N, "messages": [...], "fbtrace_id": …}``. Meta accepts a batch whole or refuses it
(``error`` with ``message``, ``error_user_msg``); at most 1 000 events a request.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx

from kassa.connectors.meta_ads import API_VERSION
from kassa.connectors.offline_upload import Target, post
from kassa.connectors.pacing import Sleep
from kassa.errors import ServiceError

NAME = "Meta"
BATCH = 1000

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
            (
                r["key"],
                EVENT_NAMES[goal],
                r["unix"],
                "system_generated",
                fbc,
                r["hashed_email"] or "",
                r["hashed_phone"] or "",
                value,
                r["currency"] if value else "",
            )
        )
    return out.getvalue()


def event(r: dict[str, Any], goal: str) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if r["id_type"] == "FBC":
        user["fbc"] = r["id_value"]
    if r["hashed_email"]:
        user["em"] = [r["hashed_email"]]
    if r["hashed_phone"]:
        user["ph"] = [r["hashed_phone"]]
    out: dict[str, Any] = {
        "event_name": EVENT_NAMES[goal],
        "event_time": r["unix"],
        "event_id": r["key"],
        "action_source": "system_generated",
        "user_data": user,
    }
    if r["value"] is not None:
        out["custom_data"] = {"value": float(r["value"]), "currency": r["currency"]}
    return out


def upload(
    target: Target,
    rows: list[dict[str, Any]],
    goal: str,
    accepted: Callable[[list[str], str], None],
    *,
    sleep: Sleep = time.sleep,
) -> list[str]:
    """Send the events in batches of :data:`BATCH`, ``accepted(keys, fbtrace id)`` after each; the keys
    Meta received."""
    url = f"{target.base_url.rstrip('/')}/{API_VERSION}/{target.account}/events"
    sent: list[str] = []
    for i in range(0, len(rows), BATCH):
        part = rows[i : i + BATCH]
        request = f"POST {url} ({len(part)} events)"
        body = {"data": [event(r, goal) for r in part], "access_token": target.token}

        def send(client: httpx.Client, body: dict[str, Any] = body) -> httpx.Response:
            return client.post(url, json=body)

        def read(resp: httpx.Response, request: str = request, n: int = len(part)) -> str:
            try:
                data = json.loads(resp.content)
                got = int(data["events_received"])
            except (ValueError, KeyError, TypeError):
                raise ServiceError(
                    f"{NAME} (connection {target.connection!r}): {request}: no events_received in the answer"
                ) from None
            if got != n:
                raise ServiceError(
                    f"{NAME} (connection {target.connection!r}): {request}: received {got} of {n} events"
                )
            return str(data.get("fbtrace_id") or "")

        trace = post(NAME, target, url, request, send, read, sleep=sleep)
        accepted([r["key"] for r in part], trace)
        sent.extend(r["key"] for r in part)
    return sent
