"""Alerts to the digest's recipients: once per episode when found, once more when recovered.

:func:`check_and_tell` is the scheduled ``alerts`` job: it runs every check of
:mod:`kassa.diagnose.alerts` as of yesterday, compares the findings with the open episodes of the
warehouse (:mod:`kassa.store.journal`), sends what is new and what recovered, and only then records the
episodes — so an alert whose sending failed is sent again by the retry, and one that was sent is never
sent again while its episode lasts. (A run that reached Telegram but failed at the mail server sends the
Telegram message again on retry: a repeat beats a silence.) An agency recipient gets only the alerts of
the channels in its scope, as on the dashboard; alerts about the whole business are not theirs.

:func:`tell_owners` says that a scheduled job failed its last try.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kassa.diagnose.alerts import TITLES, Alert, Check, check
from kassa.i18n import Translator
from kassa.notify.email import Mailer
from kassa.notify.secrets import read_secret, require_secret
from kassa.notify.telegram import Telegram
from kassa.settings import DigestRecipient, ScheduledJob, Settings
from kassa.store import journal

if TYPE_CHECKING:
    from kassa.notify.schedule import Access
    from kassa.store.journal import Episode, Run
    from kassa.store.warehouse import Warehouse

_ = Translator("alerts")


@dataclass
class Found:
    """One alerts pass: the check, the alerts new since the last pass, the episodes that ended."""

    result: Check
    new: list[Alert]
    recovered: list[Episode]
    settings: Settings


def last_complete_day(now: dt.datetime, zone: str) -> dt.date:
    return now.astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)


def find(wh: Warehouse, db: Path, now: dt.datetime) -> Found:
    """Check as of yesterday; which alerts are new and which episodes ended (nothing recorded yet)."""
    from kassa.store.connections import Connections

    result = check(
        wh, last_complete_day(now, wh.settings.timezone), connections=Connections(db).all(), now=now
    )
    opened = {e.key: e for e in journal.episodes(wh, open_only=True)}
    found = {a.key for a in result.alerts}
    new = [a for a in result.alerts if a.key not in opened]
    recovered = [e for k, e in opened.items() if k not in found]
    return Found(result, new, recovered, wh.settings)


def record(wh: Warehouse, found: Found, now: dt.datetime) -> None:
    """The episodes after a pass whose news was delivered."""
    fresh = {a.key for a in found.new}
    for a in found.result.alerts:
        if a.key in fresh:
            journal.open_episode(wh, a.key, a.kind, a.subject, a.since, now, a.money, a.channel)
        else:
            journal.still_open(wh, a.key, now, a.money)
    for e in found.recovered:
        journal.close_episode(wh, e.key, now)


def recovered_line(e: Episode, day: dt.date, lang: str) -> str:
    return _(
        "Recovered by {day}: {kind} — {subject} (open since {since}).",
        lang,
        day=day.isoformat(),
        kind=e.kind,
        subject=e.subject or "—",
        since=e.since.isoformat(),
    )


def lines_for(r: DigestRecipient, found: Found) -> tuple[list[str], list[str]]:
    """(new alerts, recoveries) as ``r`` may see them, in ``r``'s language."""
    cur = found.settings.currency
    scope = set(r.scope) if r.role == "agency" else None
    new = [
        f"{_(TITLES[a.family], r.language)}: {a.message(r.language, cur)}"
        for a in found.new
        if scope is None or (a.channel in scope)
    ]
    back = [
        recovered_line(e, found.result.day, r.language)
        for e in found.recovered
        if scope is None or (e.channel in scope)
    ]
    return new, back


def send_lines(
    db: Path,
    settings: Settings,
    messages: Sequence[tuple[DigestRecipient, str, list[str]]],
    telegram: Telegram | None,
) -> int:
    """Send each (recipient, title, lines) as one Telegram message (split if long) or one e-mail."""
    st = settings.digest
    tg = telegram
    if tg is None and any(r.channel == "telegram" for r, _t, _l in messages):
        tg = Telegram(require_secret(db, "telegram_token", "sending alerts to Telegram"), st.telegram_api)
    for r, title, lines in messages:
        if r.channel == "telegram":
            assert tg is not None and r.chat_id is not None
            body = "\n\n".join(f"• {html.escape(line, quote=False)}" for line in lines)
            tg.send_message(r.chat_id, f"<b>{html.escape(title, quote=False)}</b>\n\n{body}")
    mails = [(r, t, lines) for r, t, lines in messages if r.channel == "email"]
    if mails:
        with Mailer(st.smtp, read_secret(db, "smtp_password")) as mailer:
            for r, title, lines in mails:
                assert r.address is not None
                msg = EmailMessage()
                msg["Subject"], msg["From"], msg["To"] = title, st.smtp.sender, r.address
                msg["Date"] = formatdate(localtime=True)
                msg["Message-ID"] = make_msgid(domain=st.smtp.sender.rpartition("@")[2] or None)
                msg.set_content("\n\n".join(f"- {line}" for line in lines) + "\n")
                mailer.send(msg)
    return len(messages)


def recipients_of(settings: Settings, names: Sequence[str]) -> list[DigestRecipient]:
    from kassa.notify.send import chosen

    st = settings.digest
    return [r for n in names for r in chosen(st, n)] if names else list(st.recipients)


def check_and_tell(
    db: Path, access: Access, to: Sequence[str], now: dt.datetime, *, telegram: Telegram | None = None
) -> str:
    """The ``alerts`` job: check, send the news, record the episodes; a line for the run's record."""
    found: Found = access(lambda wh: find(wh, db, now))
    settings = found.settings
    messages = []
    for r in recipients_of(settings, to):
        new, back = lines_for(r, found)
        if new or back:
            title = _("kassa alerts, {day}", r.language, day=found.result.day.isoformat())
            messages.append((r, title, new + back))
    sent = send_lines(db, settings, messages, telegram) if messages else 0
    access(lambda wh: record(wh, found, now))
    notes = f"; not checked: {'; '.join(found.result.notes)}" if found.result.notes else ""
    return (
        f"{len(found.result.alerts)} alert(s), {len(found.new)} new, {len(found.recovered)} recovered, "
        f"{sent} message(s){notes}"
    )


def tell_owners(
    db: Path, settings: Settings, job: ScheduledJob, last: Run, *, telegram: Telegram | None = None
) -> int:
    """The job failed its last try: every owner recipient is told, in their language."""
    owners = [r for r in settings.digest.recipients if r.role == "owner"]
    messages = []
    for r in owners:
        line = _(
            "Scheduled job {job} ({kind}) failed {tries} time(s) for {due}: {error}. It runs again at its next "
            "time (kassa schedule shows when).",
            r.language,
            job=job.name,
            kind=job.kind,
            tries=last.attempt,
            due=last.due_at.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M"),
            error=last.error or "—",
        )
        messages.append((r, _("kassa: a scheduled job failed", r.language), [line]))
    return send_lines(db, settings, messages, telegram) if messages else 0


def listed(
    wh: Warehouse, db: Path, now: dt.datetime, lang: str, scope: Sequence[str] | None
) -> dict[str, Any]:
    """The dashboard's list: the alerts found now (since when each episode was first seen) and the
    episodes that recovered in the last 30 days; an agency's ``scope`` keeps only its channels'."""
    found = find(wh, db, now)
    opened = {e.key: e for e in journal.episodes(wh, open_only=True)}
    cur = wh.settings.currency

    def mine(channel: str | None) -> bool:
        return scope is None or channel in scope

    alerts = []
    for a in found.result.alerts:
        if mine(a.channel):
            item = a.to_json(lang, cur)
            e = opened.get(a.key)
            item["first_seen"] = e.first_seen.isoformat() if e else None
            alerts.append(item)
    month_ago = now - dt.timedelta(days=30)
    recovered = [
        {
            "kind": e.kind,
            "subject": e.subject,
            "since": e.since.isoformat(),
            "recovered_at": e.recovered_at.isoformat() if e.recovered_at else None,
        }
        for e in journal.episodes(wh)
        if e.recovered_at is not None and e.recovered_at >= month_ago and mine(e.channel)
    ]
    # A scheduled job that failed its last try is an alert too (the owners were told); not an agency's.
    failed = []
    for job in wh.settings.schedule.jobs if scope is None else []:
        last = journal.last_run(wh, job.name)
        if last is not None and last.outcome in ("failed", "crashed") and last.attempt >= job.tries:
            failed.append({"job": job.name, "kind": job.kind, **last.to_json()})
    return {
        "day": found.result.day.isoformat(),
        "alerts": alerts,
        "recovered": recovered,
        "failed_jobs": failed,
        "notes": [_(n, lang) for n in found.result.notes] if scope is None else [],
    }
