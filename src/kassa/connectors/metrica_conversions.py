"""Yandex Metrica offline conversions: the CSV file and its upload (api-protocols.md §2).

``POST /management/v1/counter/{id}/offline_conversions/upload?client_id_type=CLIENT_ID|YCLID`` with the
CSV as the multipart field ``file`` (UTF-8, at most 1 GB), ``Authorization: OAuth <token>``; the answer
``{"uploading": {"id", "status", "line_quantity", …}}``. The CSV (https://yandex.ru/dev/metrika/en/management/offline-conv):
the column names on the first line — ``ClientId`` (or ``Yclid``), ``Target`` (the JavaScript-event
goal's identifier), ``DateTime`` (Unix time in **seconds**; only the past), ``Price``, ``Currency``
(ISO 4217). One file holds one kind of identifier, so ClientIDs and yclids go as two uploads.

Metrica keys a conversion by identifier + Target + DateTime: the same row uploaded again is not counted
twice; kassa also logs what it sent and sends only what is new (:mod:`kassa.store.conversions_log`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx

from kassa.connectors.offline_upload import Target, post
from kassa.connectors.pacing import Sleep
from kassa.errors import ServiceError

NAME = "Yandex Metrica"
BASE_URL = "https://api-metrika.yandex.net"
COLUMN = {"CLIENT_ID": "ClientId", "YCLID": "Yclid"}
HEADER = ("Target", "DateTime", "Price", "Currency")


def _price(v: Any) -> str:
    return "" if v is None else f"{float(v):.2f}".rstrip("0").rstrip(".")


def csv_text(rows: list[dict[str, Any]], id_type: str) -> str:
    """The upload file of the rows whose identifier is ``id_type`` (CLIENT_ID or YCLID)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow((COLUMN[id_type], *HEADER))
    for r in rows:
        if r["id_type"] == id_type:
            w.writerow(
                (
                    r["id_value"],
                    r["target"],
                    r["unix"],
                    _price(r["value"]),
                    r["currency"] if r["value"] is not None else "",
                )
            )
    return out.getvalue()


def upload(
    target: Target,
    rows: list[dict[str, Any]],
    accepted: Callable[[list[str], str], None],
    *,
    sleep: Sleep = time.sleep,
) -> list[dict[str, Any]]:
    """Upload the rows, one file per kind of identifier; ``accepted(keys, upload id)`` after each file
    Metrica took (so a second file's failure does not lose the first's log); the ``uploading`` answers."""
    answers = []
    for id_type in COLUMN:
        if not any(r["id_type"] == id_type for r in rows):
            continue
        body = csv_text(rows, id_type).encode()
        url = (
            f"{target.base_url.rstrip('/')}/management/v1/counter/{target.account}/offline_conversions/upload"
        )
        request = f"POST {url}?client_id_type={id_type}"

        def send(
            client: httpx.Client, url: str = url, id_type: str = id_type, body: bytes = body
        ) -> httpx.Response:
            return client.post(
                url,
                params={"client_id_type": id_type},
                files={"file": ("conversions.csv", body, "text/csv")},
                headers={"Authorization": f"OAuth {target.token}"},
            )

        def read(resp: httpx.Response, request: str = request) -> Any:
            try:
                found = json.loads(resp.content)["uploading"]
            except (ValueError, KeyError, TypeError):
                raise ServiceError(
                    f"{NAME} (connection {target.connection!r}): {request}: no 'uploading' in the answer"
                ) from None
            return found

        answer = post(NAME, target, url, request, send, read, sleep=sleep)
        accepted([r["key"] for r in rows if r["id_type"] == id_type], str(answer.get("id", "")))
        answers.append(answer)
    return answers
