"""Who gets which digest, and sending it: one digest per language and view, then every recipient's copy.

Recipients come from ``digest.recipients`` in kassa.yaml (:class:`kassa.settings.DigestRecipient`). Those
who share a language and a view of the business (the whole, or one agency's channels) share one digest,
built once. Building reads the warehouse; sending does not, so the command closes the warehouse before it
sends (a slow network does not hold DuckDB's lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kassa.errors import ConfigError
from kassa.kpi import Contract
from kassa.notify.email import Mailer, build_message
from kassa.notify.secrets import read_secret, require_secret
from kassa.notify.telegram import Telegram, split_html
from kassa.report.digest import Digest, build_digest
from kassa.settings import DigestRecipient, DigestSettings

if TYPE_CHECKING:
    from kassa.store import Warehouse


@dataclass(frozen=True)
class Outgoing:
    recipient: DigestRecipient
    digest: Digest

    @property
    def where(self) -> str:
        r = self.recipient
        return f"telegram chat {r.chat_id}" if r.channel == "telegram" else f"e-mail {r.address}"

    def files(self) -> list[str]:
        """What goes with the text: the chart, then the report's files."""
        return [self.digest.chart_filename, *(a.filename for a in self.digest.attachments)]

    def messages(self) -> list[str]:
        """Telegram: the messages the text is split into (e-mail: the one text)."""
        if self.recipient.channel == "telegram":
            return split_html(self.digest.html())
        return [self.digest.text()]


def chosen(settings: DigestSettings, to: str | None) -> list[DigestRecipient]:
    """Every recipient, or the one named ``to`` (an unknown name lists the known ones)."""
    if to is None:
        return list(settings.recipients)
    found = [r for r in settings.recipients if r.name == to]
    if not found:
        names = ", ".join(r.name for r in settings.recipients) or "none declared in kassa.yaml"
        raise ConfigError(f"--to: no recipient {to!r} (recipients: {names})")
    return found


def plan(
    wh: Warehouse,
    recipients: Sequence[DigestRecipient],
    period: str,
    *,
    contracts: Sequence[Contract] = (),
    render: bool = True,
    today: dt.date | None = None,
) -> list[Outgoing]:
    """Each recipient's digest (built once per language and view)."""
    st = wh.settings.digest
    built: dict[tuple[str, tuple[str, ...] | None], Digest] = {}
    out: list[Outgoing] = []
    for r in recipients:
        scope = tuple(r.scope) if r.role == "agency" else None
        key = (r.language, scope)
        if key not in built:
            built[key] = build_digest(
                wh,
                period,
                r.language,
                scope=scope,
                contracts=contracts,
                public_url=st.public_url,
                attach=st.attach,
                render=render,
                today=today,
            )
        out.append(Outgoing(r, built[key]))
    return out


def check_secrets(db: Path, recipients: Sequence[DigestRecipient], settings: DigestSettings) -> None:
    """Fail before any digest is built when a channel's secret is missing."""
    if any(r.channel == "telegram" for r in recipients):
        require_secret(db, "telegram_token", "sending to Telegram")
    if any(r.channel == "email" for r in recipients) and settings.smtp.user:
        require_secret(db, "smtp_password", f"logging in to SMTP as {settings.smtp.user!r}")


def deliver(
    db: Path,
    outgoing: Sequence[Outgoing],
    settings: DigestSettings,
    *,
    done: Callable[[Outgoing, str], None] = lambda o, what: None,
    telegram: Telegram | None = None,
) -> None:
    """Send every digest; ``done(item, what)`` after each recipient (the command prints it).

    Telegram gets the text (split to fit), the chart as a photo and each report file as a document; e-mail
    one message with all of them. The first failure stops the run with an error naming the recipient.
    """
    tg = telegram
    if tg is None and any(o.recipient.channel == "telegram" for o in outgoing):
        tg = Telegram(require_secret(db, "telegram_token", "sending to Telegram"), settings.telegram_api)
    mails = [o for o in outgoing if o.recipient.channel == "email"]
    for o in outgoing:
        if o.recipient.channel != "telegram":
            continue
        assert tg is not None and o.recipient.chat_id is not None
        chat, d = o.recipient.chat_id, o.digest
        n = tg.send_message(chat, d.html())
        tg.send_photo(chat, d.chart_png(), d.chart_filename, d.chart_title)
        for a in d.attachments:
            assert a.data is not None
            tg.send_document(chat, a.data, a.filename, a.mime)
        done(o, f"{n} message(s), {1 + len(d.attachments)} file(s)")
    if not mails:
        return
    with Mailer(settings.smtp, read_secret(db, "smtp_password")) as mailer:
        for o in mails:
            assert o.recipient.address is not None
            mailer.send(build_message(o.digest, settings.smtp.sender, [o.recipient.address]))
            done(o, f"1 e-mail, {1 + len(o.digest.attachments)} file(s)")
