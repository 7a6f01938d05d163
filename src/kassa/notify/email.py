"""The digest by e-mail: a plain-text part and an HTML part with the chart inline, the report attached.

The message is ``multipart/mixed``: ``multipart/alternative`` (``text/plain``, then ``multipart/related``
holding the HTML and the chart's PNG, which the HTML shows as ``cid:``), then the report's files. A
client that shows no HTML, or no images, still has every number in the text part.

Sent with :mod:`smtplib` over SSL (port 465) or plain SMTP upgraded with STARTTLS (587), the server's
certificate checked against the system's CAs or ``smtp.ca_file``; ``security: none`` (a relay on this
machine) never logs in, so a password is never sent in the clear.
"""

from __future__ import annotations

import contextlib
import html
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from kassa.errors import ServiceError
from kassa.report.digest import Digest
from kassa.settings import SmtpSettings

PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def _html_body(d: Digest, cid: str) -> str:
    paragraphs = "\n".join(f"<p>{p.replace(chr(10), '<br>' + chr(10))}</p>" for p in d.paragraphs())
    return (
        f'<!DOCTYPE html>\n<html lang="{d.lang}"><head><meta charset="utf-8"></head>\n'
        '<body style="font-family: system-ui, Arial, sans-serif; line-height: 1.45; max-width: 720px">\n'
        f"{paragraphs}\n"
        f'<p><img src="cid:{cid[1:-1]}" alt="{html.escape(d.chart_title)}" style="max-width: 100%"></p>\n'
        "</body></html>\n"
    )


def build_message(d: Digest, sender: str, to: Sequence[str]) -> EmailMessage:
    """The digest as one e-mail to ``to`` (every attachment's bytes must be there: not a dry run)."""
    msg = EmailMessage()
    msg["Subject"] = d.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(d.text() + "\n")
    cid = make_msgid(domain="kassa.digest")
    msg.add_alternative(_html_body(d, cid), subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)  # the alternative just added
    html_part.add_related(d.chart_png(), "image", "png", cid=cid, filename=d.chart_filename)
    for a in d.attachments:
        if a.data is None:
            raise ValueError(f"{a.filename}: a dry run's digest has no attachment to send")
        maintype, _, subtype = a.mime.partition("/")
        msg.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


class Mailer:
    """One SMTP session for every e-mail of a run (``with Mailer(settings, password) as m: m.send(msg)``)."""

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"SMTP {s.host}:{s.port or PORTS[s.security]}"

    def _context(self) -> ssl.SSLContext:
        ca = self.settings.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def __enter__(self) -> Mailer:
        s = self.settings
        port = s.port or PORTS[s.security]
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, port, timeout=s.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(s.host, port, timeout=s.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise ServiceError(f"{self.where}: {type(exc).__name__}: {exc}") from None
        try:
            if s.security == "starttls":
                smtp.starttls(context=self._context())
            if s.user and s.security != "none":
                if self.password is None:
                    raise ServiceError(f"{self.where}: user {s.user!r} needs the SMTP password")
                smtp.login(s.user, self.password)
        except BaseException as exc:
            smtp.close()
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise ServiceError(f"{self.where}: login as {s.user!r} refused ({exc.smtp_code})") from None
            if isinstance(exc, smtplib.SMTPException | OSError):
                # The exception's text only (smtplib never puts the password there).
                raise ServiceError(f"{self.where}: {type(exc).__name__}: {exc}") from None
            raise
        self._smtp = smtp
        return self

    def send(self, msg: EmailMessage) -> None:
        assert self._smtp is not None, "use Mailer as a context manager"
        try:
            refused = self._smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ServiceError(
                f"{self.where}: refused every recipient: {', '.join(exc.recipients)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ServiceError(f"{self.where}: sending to {msg['To']}: {type(exc).__name__}: {exc}") from None
        if refused:
            raise ServiceError(f"{self.where}: refused {', '.join(refused)}")

    def __exit__(self, *exc: object) -> None:
        if self._smtp is not None:
            # The messages were accepted; a lost goodbye changes nothing.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None
