"""Telegram against a real HTTP server on 127.0.0.1 that answers as the Bot API does (tests/notify/fake_telegram.py)."""

from __future__ import annotations

import html
import logging
from html.parser import HTMLParser

import pytest
from tests.notify.fake_telegram import TOKEN, fake_telegram

from kassa.errors import ServiceError
from kassa.notify.telegram import LIMIT, Telegram, split_html, utf16_len

ALLOWED = {"b", "i", "a", "code", "pre"}


class Balance(HTMLParser):
    """Fails on any tag that does not close in order, and collects the text as Telegram would show it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shown(message: str) -> str:
    """The message's text as Telegram shows it; fails unless every tag is balanced and no entity is cut."""
    p = Balance()
    p.feed(message)
    p.close()
    assert not p.stack, f"unclosed {p.stack}"
    # A cut entity would leave a bare "&" followed by letters and no ";"; html.parser would keep it as text.
    assert "&" not in message.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "").replace(
        "&quot;", ""
    )
    return "".join(p.text)


def findings(total: int) -> str:
    """A findings list of about ``total`` characters, with bold titles, italic owners, links and campaign
    names that need escaping."""
    lines, i = ["<b>Where the chain breaks</b>"], 0
    while sum(len(x) + 1 for x in lines) < total:
        i += 1
        name = html.escape(f"camp<{i}>&co", quote=False)
        lines.append(
            f"• <b>Funnel break {i}</b>: Yandex Direct / {name}: lead → qualified −42% (71 → 41), "
            f'<i>whose side: marketing</i> <a href="https://k.example.ru/funnel?period=2026-10&amp;c={i}">open</a>'
        )
        if i % 7 == 0:
            lines.append("")  # a blank line: a paragraph ends
    return "\n".join(lines)


def words(text: str) -> list[str]:
    return text.split()


def test_a_10000_character_findings_list_is_sent_as_valid_html_messages():
    text = findings(10_000)
    assert len(text) >= 10_000
    with fake_telegram() as bot:
        n = Telegram(TOKEN, bot.base_url).send_message("42", text)
    sent = bot.texts()
    assert n == len(sent) >= 3
    # Cut at a blank line only when that leaves a message at least a quarter full.
    assert all(len(m) >= LIMIT // 4 for m in sent[:-1]), [len(m) for m in sent]
    assert all(utf16_len(m) <= LIMIT for m in sent)
    # Every message is balanced HTML, and together they show exactly the original text.
    assert words(" ".join(shown(m) for m in sent)) == words(shown(text))
    assert all(
        c.fields["parse_mode"] == "HTML" and c.fields["chat_id"] == "42" for c in bot.sent("sendMessage")
    )
    # Cut at line breaks: each message (but the first) starts with a finding's bullet or a blank line's next.
    assert all(m.startswith(("•", "<b>")) for m in sent)


def test_a_tag_open_at_a_cut_is_closed_and_opened_again():
    long = "<b>" + " ".join(f"word{i}" for i in range(1200)) + "</b> &amp; after"
    parts = split_html(long, 1000)
    assert len(parts) > 5
    assert all(p.startswith("<b>") for p in parts)
    assert words(" ".join(shown(p) for p in parts)) == words(shown(long))
    link = '<a href="https://x.ru/?a=1&amp;b=2">' + "x" * 3000 + "</a>"
    parts = split_html(link, 1000)
    assert all(p.startswith('<a href="https://x.ru/?a=1&amp;b=2">') and p.endswith("</a>") for p in parts)
    assert "".join(shown(p) for p in parts) == "x" * 3000


def test_length_counts_utf16_units():
    emoji = "😀" * 3000  # 2 UTF-16 units each: 6000, over the limit though only 3000 characters
    parts = split_html(emoji)
    assert len(parts) == 2 and all(utf16_len(p) <= LIMIT for p in parts)


def test_429_waits_retry_after_then_sends():
    waits: list[float] = []
    with fake_telegram() as bot:
        bot.fail("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3, times=2)
        Telegram(TOKEN, bot.base_url, sleep=waits.append).send_message("42", "<b>hello</b>")
    assert waits == [3.0, 3.0]
    assert bot.texts() == ["<b>hello</b>"] * 3  # two refused, the third delivered


def test_too_long_is_split_further():
    text = findings(5000)
    with fake_telegram() as bot:
        bot.too_long_above = 1500  # stricter than kassa's own count
        n = Telegram(TOKEN, bot.base_url).send_message("42", text)
    accepted = [t for t in bot.texts() if len(t) <= 1500]
    assert n == len(accepted) >= 4
    assert words(" ".join(shown(m) for m in accepted)) == words(shown(text))


def test_errors_and_logs_name_the_method_never_the_token(caplog):
    caplog.set_level(logging.INFO, logger="httpx2")
    with fake_telegram() as bot:
        bot.fail("sendMessage", 400, "Bad Request: chat not found")
        with pytest.raises(ServiceError) as exc:
            Telegram(TOKEN, bot.base_url).send_message("-100", "hi")
        assert "sendMessage to chat -100" in str(exc.value) and "chat not found" in str(exc.value)
        with pytest.raises(ServiceError) as wrong:
            Telegram("999:wrong-token", bot.base_url).send_photo("1", b"\x89PNG", "c.png")
        assert "sendPhoto" in str(wrong.value) and "Unauthorized" in str(wrong.value)
    for text in (str(exc.value), str(wrong.value), caplog.text):
        assert TOKEN not in text and "wrong-token" not in text and "/bot" + TOKEN not in text
    assert "/bot***/sendMessage" in caplog.text  # the request was logged, its token replaced


def test_a_dead_server_is_retried_then_named():
    waits: list[float] = []
    with fake_telegram() as bot:
        url = bot.base_url
    with pytest.raises(ServiceError) as exc:  # the server is gone: nothing listens on the port
        Telegram(TOKEN, url, attempts=3, sleep=waits.append).send_message("1", "hi")
    assert waits == [1.0, 2.0]
    assert "sendMessage to chat 1" in str(exc.value) and "tried 3 times" in str(exc.value)
    assert TOKEN not in str(exc.value)


def test_photo_and_document_are_multipart_files():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with fake_telegram() as bot:
        tg = Telegram(TOKEN, bot.base_url)
        tg.send_photo("42", png, "chart.png", "Money vs activity")
        tg.send_document("42", "<html>отчёт</html>".encode(), "kassa-2026-10.ru.html", "text/html")
    photo, doc = bot.sent("sendPhoto")[0], bot.sent("sendDocument")[0]
    assert photo.files["photo"] == ("chart.png", "image/png", png)
    assert photo.fields == {"chat_id": "42", "caption": "Money vs activity"}
    assert doc.files["document"] == ("kassa-2026-10.ru.html", "text/html", "<html>отчёт</html>".encode())
