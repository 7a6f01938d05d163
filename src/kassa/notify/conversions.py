"""Offline conversions delivered: the platform's upload file, and an upload that sends only what is new.

Shared by ``kassa conversions`` and the schedule's ``conversions`` job (:mod:`kassa.notify.schedule`):
the records come from :func:`kassa.link.conversions.build`, the requests from the platform's connector
(:mod:`kassa.connectors.metrica_conversions`, ``google_conversions``, ``meta_conversions``), the log
from :mod:`kassa.store.conversions_log` (docs/conversions.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kassa.errors import KassaError

if TYPE_CHECKING:
    from kassa.settings import ConversionsJob
    from kassa.store import Warehouse

SERVICE = {"metrica": "yandex-metrica", "google-ads": "google-ads", "meta": "meta-ads"}


def export_text(platform: str, rows: list[dict[str, Any]], goal: str, zone: str) -> str:
    if platform == "metrica":
        from kassa.connectors import metrica_conversions

        text = metrica_conversions.csv_text(rows, "CLIENT_ID")
        if any(r["id_type"] == "YCLID" for r in rows):
            raise KassaError(
                "some conversions have only a yclid: Metrica takes one kind of identifier per file; "
                "use --upload, which sends them as a second file"
            )
        return text
    if platform == "google-ads":
        from kassa.connectors import google_conversions

        return google_conversions.csv_text(rows, zone)
    from kassa.connectors import meta_conversions

    return meta_conversions.csv_text(rows, goal)


def upload_new(
    wh: Warehouse,
    db: Path,
    name: str,
    platform: str,
    goal: str,
    target: str,
    period: str,
    rows: list[dict[str, Any]],
    opts: dict[str, str | None],
) -> tuple[int, int, list[int], list[str]]:
    """Send what was not sent before through connection ``name``: (how many were sent before, how many
    now, batch ids, refusals).

    Each batch the platform accepted is logged at once (:mod:`kassa.store.conversions_log`); a failure
    later keeps what was logged, and the next run sends only the rest."""
    from kassa.connectors import google_ads, google_conversions, meta_conversions, metrica_conversions
    from kassa.connectors.offline_upload import Target
    from kassa.store import conversions_log
    from kassa.store.connections import Connections

    conns = Connections(db)
    conn = conns.get(name)
    if conn.service != SERVICE[platform]:
        raise KassaError(
            f"connection {name!r} is {conn.service}; --platform {platform} needs a {SERVICE[platform]} connection"
        )
    if platform == "metrica":
        account = str(conn.options.get("counter") or "")
    elif platform == "google-ads":
        account = str(conn.options.get("customer_id") or "")
        action = opts.get("action") or str(conn.options.get("conversion_action") or "")
        if not action:
            raise KassaError(
                f"connection {name!r}: give the conversion action's id with --action (Google Ads: Goals → "
                "Conversions → the action's id in its URL, ctId=…)"
            )
    else:
        account = opts.get("pixel") or str(conn.options.get("pixel") or "")
        if not account:
            raise KassaError(f"connection {name!r}: give the Meta pixel (dataset) id with --pixel")
    done = conversions_log.already_sent(wh, platform, account, target)
    fresh = [r for r in rows if r["key"] not in done]
    before = len(rows) - len(fresh)
    batches: list[int] = []
    sent = 0

    def accepted(keys: list[str], answer: str) -> None:
        nonlocal sent
        batches.append(
            conversions_log.record(
                wh, platform=platform, connection=name, account=account, goal=goal, target=target,
                period=period, keys=keys, answer=answer, now=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
        sent += len(keys)

    if not fresh:
        return before, 0, [], []
    token = conns.token(conn)
    if platform == "metrica":
        tgt = Target(name, token, conn.base_url or metrica_conversions.BASE_URL, account)
        metrica_conversions.upload(tgt, fresh, accepted)
        return before, sent, batches, []
    if platform == "meta":
        from kassa.connectors import meta_ads

        tgt = Target(name, token, conn.base_url or meta_ads.BASE_URL, account)
        meta_conversions.upload(tgt, fresh, goal, accepted)
        return before, sent, batches, []
    client = google_ads.Client(
        google_ads.Account(
            connection=conn.name,
            customer_id=account,
            client_id=str(conn.options.get("client_id") or ""),
            secret=google_ads.Secret.parse(token, conn.name),
            login_customer_id=conn.options.get("login_customer_id") or None,
            base_url=conn.base_url or google_ads.BASE_URL,
            token_url=f"{conn.base_url.rstrip('/')}/token" if conn.base_url else google_ads.TOKEN_URL,
        ),
        google_ads.Tokens.from_json(conns.oauth(conn.name)),
        lambda pair: conns.save_oauth(conn.name, pair.to_json()),
    )
    keys, refused = google_conversions.upload(client, fresh, action)
    if keys:
        accepted(keys, "")
    return before, sent, batches, refused


def send_scheduled(wh: Warehouse, db: Path, job: ConversionsJob, today: dt.date) -> str:
    """The schedule's ``conversions`` job: the last ``job.days`` days through yesterday, uploaded once."""
    from kassa.link import conversions as conv
    from kassa.link.money_trail import MoneyTrail
    from kassa.period import Period

    span = Period.parse(f"{today - dt.timedelta(days=job.days)}..{today - dt.timedelta(days=1)}")
    target = job.target or job.goal
    found = conv.build(wh, MoneyTrail(wh), job.goal, job.platform, span, wh.settings)
    rows = [conv.to_row(c, target) for c in found.items]
    before, sent, _, refused = upload_new(
        wh, db, job.upload, job.platform, job.goal, target, str(span), rows,
        {"action": job.action, "pixel": job.pixel},
    )  # fmt: skip
    skipped = sum(found.skipped.values())
    said = f"{job.platform} {job.goal} {span}: sent {sent}, already sent {before}, skipped {skipped} without an id"
    if refused:
        raise KassaError(f"{said}; refused {len(refused)}: {'; '.join(refused[:5])}")
    return said
