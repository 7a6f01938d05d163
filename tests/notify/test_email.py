"""The digest by e-mail into a real SMTP server in this process (aiosmtpd), plain and with STARTTLS + login."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from kassa.errors import ServiceError
from kassa.notify.email import Mailer, build_message
from kassa.report.digest import Seg, build_digest
from kassa.settings import SmtpSettings
from kassa.store import Warehouse

PASSWORD = "s3cret-smtp-pass"
CAMPAIGN = "<b>&x"


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=default) for _, _, raw in self.envelopes]  # type: ignore[misc]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_login(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"kassa" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(tls: ssl.SSLContext | None = None) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    extra = {"tls_context": tls, "require_starttls": True, "authenticator": check_login} if tls else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it through ``ca_file``)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test server's certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def digest(golden_file: Path):
    wh = Warehouse.open(golden_file, read_only=True)
    try:
        d = build_digest(
            wh,
            "2026-10",
            "en",
            public_url="https://k.example.ru",
            attach=("html", "xlsx"),
            today=dt.date(2026, 11, 2),
        )
    finally:
        wh.close()
    # A campaign name that is HTML: it must arrive as text, never as markup.
    d.blocks.append([[Seg("• Yandex Direct / " + CAMPAIGN)]])
    return d


def parts(msg: EmailMessage) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for p in msg.walk():
        out.setdefault(p.get_content_type(), []).append(p)  # type: ignore[arg-type]
    return out


def test_the_digest_arrives_with_text_html_inline_chart_and_report(digest):
    with (
        smtp_server() as (inbox, port),
        Mailer(SmtpSettings(host="127.0.0.1", port=port, security="none"), None) as m,
    ):
        m.send(build_message(digest, "kassa@shop.ru", ["owner@shop.ru"]))
        m.send(build_message(digest, "kassa@shop.ru", ["cfo@shop.ru"]))
    assert [(f, to) for f, to, _ in inbox.envelopes] == [
        ("kassa@shop.ru", ["owner@shop.ru"]),
        ("kassa@shop.ru", ["cfo@shop.ru"]),
    ]
    msg = inbox.messages()[0]
    assert msg["Subject"] == "Where is the money? 2026-10"
    got = parts(msg)
    assert msg.get_content_type() == "multipart/mixed"
    assert "multipart/alternative" in got and "multipart/related" in got
    text = got["text/plain"][0].get_content()
    html = got["text/html"][0].get_content()
    # Both parts hold the money block and the link.
    for body in (text, html):
        assert "Revenue:" in body and "Marketing cost:" in body and "ROMI:" in body
        assert "https://k.example.ru/report.html?period=2026-10&" in body
    # The campaign name: raw in the text part, escaped in the HTML part.
    assert "Yandex Direct / <b>&x" in text
    assert "Yandex Direct / &lt;b&gt;&amp;x" in html and "<b>&x" not in html
    # The chart is inline: a PNG whose Content-ID the HTML shows.
    (png,) = got["image/png"]
    assert png.get_content().startswith(b"\x89PNG\r\n\x1a\n") and len(png.get_content()) > 10_000
    cid = png["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    # The report, attached as HTML and as a spreadsheet.
    attached = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}  # type: ignore[attr-defined]
    assert set(attached) == {"kassa-2026-10.en.html", "kassa-2026-10.en.xlsx"}
    assert "Where is the money?" in attached["kassa-2026-10.en.html"]
    assert attached["kassa-2026-10.en.xlsx"][:2] == b"PK"  # a zip: the workbook


def test_starttls_with_login(digest, certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(server_tls) as (inbox, port):
        settings = SmtpSettings(host="127.0.0.1", port=port, security="starttls", user="kassa", ca_file=cert)
        with Mailer(settings, PASSWORD) as m:
            m.send(build_message(digest, "kassa@shop.ru", ["owner@shop.ru"]))
        assert len(inbox.envelopes) == 1
        with pytest.raises(ServiceError) as refused, Mailer(settings, "wrong-password"):
            pass
        assert "login as 'kassa' refused" in str(refused.value) and "wrong-password" not in str(refused.value)
        # Without the CA the server's certificate is not trusted: the password is never sent.
        untrusted = SmtpSettings(host="127.0.0.1", port=port, security="starttls", user="kassa")
        with pytest.raises(ServiceError) as bad_cert, Mailer(untrusted, PASSWORD):
            pass
        assert "SSLCertVerificationError" in str(bad_cert.value) and PASSWORD not in str(bad_cert.value)


def test_no_server_is_a_clear_error():
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=5)
    with pytest.raises(ServiceError) as exc, Mailer(settings, None):
        pass
    assert str(exc.value).startswith("SMTP 127.0.0.1:")
