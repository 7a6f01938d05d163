"""Telegram's Bot API: messages in its HTML, the chart as a photo, the report as a document.

A message is at most :data:`LIMIT` characters. :func:`split_html` cuts a longer one at paragraph, then
line, then word boundaries, never inside a tag or an entity, closing the tags open at a cut and opening
them again in the next message, so every message is valid HTML on its own. The length is counted on the
HTML as sent, in UTF-16 code units (Telegram counts the text after parsing its tags, which is never
longer), so a message that fits here fits there; should Telegram still answer 400 "message is too
long", that message is split again at half the size.

Retries (the connectors' one loop, :class:`kassa.connectors.http.Retry`): 429 waits the ``retry_after``
Telegram gives; a 5xx or a connection that could not be made is tried again with back-off. A timeout waiting for the answer is not retried (the message may have
arrived: a retry could send it twice); the error says so. The bot token is part of every URL, so no
error names a URL: errors name the method and the chat, and the URLs ``httpx2`` logs have the token
replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from kassa.connectors.http import Retry, Verdict, done, excerpt, fail, retry, wait
from kassa.errors import ServiceError

LIMIT = 4096
CAPTION_LIMIT = 1024
SMALLEST = 256  # splitting "too long" messages stops here: a 256-character message is never too long
DEFAULT_API = "https://api.telegram.org"
SERVICE = "Telegram"
_WORD = 200  # a run of text without spaces is cut into pieces this long

_TOKEN_IN_URL = re.compile(r"/bot[^/\s]+/")


class _RedactToken(logging.Filter):
    """httpx2 logs every request's URL at INFO; the URL holds the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _TOKEN_IN_URL.sub("/bot***/", str(a)) if "/bot" in str(a) else a for a in record.args
            )
        record.msg = _TOKEN_IN_URL.sub("/bot***/", str(record.msg))
        return True


_httpx_log = logging.getLogger("httpx2")
if not any(isinstance(f, _RedactToken) for f in _httpx_log.filters):
    _httpx_log.addFilter(_RedactToken())


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


# A tag, an entity, a separator (a blank line, a line break, a space) or a run of other text.
_PIECE = re.compile(r"<[^<>]*>|&#?\w+;|\n\n+|\n| |[^<&\n ]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")
_PRIORITY = {"\n\n": 3, "\n": 2, " ": 1}


def _pieces(html: str) -> Iterator[str]:
    for m in _PIECE.finditer(html):
        p = m[0]
        if p.startswith("\n\n"):
            yield "\n\n"
        elif not p.startswith(("<", "&")) and len(p) > _WORD:
            yield from (p[i : i + _WORD] for i in range(0, len(p), _WORD))
        else:
            yield p


def _open_after(pieces: list[str], before: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(name, opening tag) of the tags still open after ``pieces`` (with ``before`` open before them)."""
    stack = list(before)
    for p in pieces:
        m = _TAG.fullmatch(p)
        if m is None:
            continue
        if m[1]:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == m[2].lower():
                    del stack[i:]
                    break
        else:
            stack.append((m[2].lower(), p))
    return stack


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def split_html(html: str, limit: int = LIMIT) -> list[str]:
    """``html`` as messages of at most ``limit`` UTF-16 units each, every one valid on its own.

    A message is cut at the last blank line that leaves it at least a quarter full, else the last line
    break, else the last space, else between two pieces (a tag, an entity, up to 200 letters); tags open
    at a cut are closed there and opened again at the start of the next message.
    """
    if utf16_len(html) <= limit:
        return [html.strip()] if html.strip() else []
    out: list[str] = []
    cur: list[str] = []
    size = 0
    stack: list[tuple[str, str]] = []  # the tags open after cur
    for piece in _pieces(html):
        while True:
            after = _open_after([piece], stack) if piece.startswith("<") else stack
            if size + utf16_len(piece) + utf16_len(_closing(after)) <= limit or not cur:
                cur.append(piece)
                size, stack = size + utf16_len(piece), after
                break
            cut = _best_cut(cur, limit)
            head, rest = cur[:cut], cur[cut + 1 :] if cut < len(cur) and cur[cut] in _PRIORITY else cur[cut:]
            at_cut = _open_after(head)
            text = ("".join(head) + _closing(at_cut)).strip()
            if _visible(text):
                out.append(text)
            cur = [tag for _, tag in at_cut] + rest
            size, stack = sum(utf16_len(p) for p in cur), _open_after(cur)
    tail = ("".join(cur) + _closing(_open_after(cur))).strip()
    if _visible(tail):
        out.append(tail)
    return out


def _visible(html: str) -> bool:
    """Whether ``html`` shows anything (Telegram refuses a message of tags and spaces only)."""
    return bool(_TAG.sub("", html).strip())


def _best_cut(cur: list[str], limit: int) -> int:
    """Where to cut ``cur``: the index of the separator to cut at (dropped), or ``len(cur)``."""
    best, best_rank = len(cur), (0, 0)
    size = 0
    for i, p in enumerate(cur):
        priority = _PRIORITY.get(p, 0)
        # A blank line that leaves a message less than a quarter full is worth no more than a line break.
        if priority == 3 and size < limit // 4:
            priority = 2
        if priority and (priority, i) > best_rank:
            best, best_rank = i, (priority, i)
        size += utf16_len(p)
    return best


class MessageTooLong(ServiceError):
    """Telegram answered 400 "message is too long"."""


@dataclass
class Telegram:
    """A bot: its token (a secret), the API's base URL (settable for a local Bot API server or a test)."""

    token: str = field(repr=False)
    base_url: str = DEFAULT_API
    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 300.0  # a longer retry_after fails: a digest should not hang a scheduler for hours
    sleep: Callable[[float], None] = time.sleep

    def _error(self, what: str, problem: str) -> ServiceError:
        text = f"{SERVICE}: {what}: {problem}"
        return ServiceError(text.replace(self.token, "***") if self.token else text)

    def call(self, method: str, what: str, data: dict[str, Any], files: dict[str, Any] | None = None) -> Any:
        """POST ``method`` (JSON, or multipart with ``files``); the ``result`` of the answer.

        ``what`` names the request in errors ("sendMessage to chat 42"): never the URL, which holds the token.
        """
        url = f"{self.base_url.rstrip('/')}/bot{self.token}/{method}"

        def judge(response: httpx.Response) -> Verdict:
            answer = _json(response.content)
            description = str(answer.get("description") or excerpt(response.content))
            if response.status_code == 200 and answer.get("ok"):
                return done(answer.get("result"))
            if response.status_code == 429:
                after = (answer.get("parameters") or {}).get("retry_after")
                return wait(f"HTTP 429 {description}", float(after) if after else None)
            if response.status_code == 400 and "too long" in description.lower():
                return fail(MessageTooLong(f"{SERVICE}: {what}: {description}"))
            if response.status_code < 500:
                return fail(self._error(what, f"HTTP {response.status_code} {description}"))
            return retry(f"HTTP {response.status_code} {description}")

        # Not idempotent: a message whose answer was lost may have arrived, so it is not sent again.
        # Fixed doubling waits (no jitter): one sender, and its log reads plainly.
        policy = Retry(
            attempts=self.attempts,
            backoff=self.backoff,
            cap=self.max_wait,
            max_wait=self.max_wait,
            jitter=False,
            idempotent=False,
            sleep=self.sleep,
        )
        with httpx.Client(timeout=self.timeout, headers={"User-Agent": "kassa (digest)"}) as client:

            def do() -> httpx.Response:
                if files:
                    return client.post(url, data={k: str(v) for k, v in data.items()}, files=files)
                return client.post(url, json=data)

            return policy.send(do, judge, lambda problem: self._error(what, problem), timeout=self.timeout)

    def send_message(self, chat_id: str, html: str, limit: int = LIMIT) -> int:
        """Send ``html`` (Telegram's HTML) as one message or, split, several; the number of messages."""
        sent = 0
        for part in split_html(html, limit):
            try:
                self.call(
                    "sendMessage",
                    f"sendMessage to chat {chat_id}",
                    {
                        "chat_id": chat_id,
                        "text": part,
                        "parse_mode": "HTML",
                        "link_preview_options": {"is_disabled": True},
                    },
                )
                sent += 1
            except MessageTooLong:
                if limit <= SMALLEST:
                    raise
                sent += self.send_message(chat_id, part, limit // 2)
        return sent

    def send_photo(self, chat_id: str, png: bytes, filename: str, caption: str = "") -> None:
        data = {"chat_id": chat_id, "caption": _caption(caption)}
        self.call("sendPhoto", f"sendPhoto to chat {chat_id}", data, {"photo": (filename, png, "image/png")})

    def send_document(self, chat_id: str, body: bytes, filename: str, mime: str, caption: str = "") -> None:
        data = {"chat_id": chat_id, "caption": _caption(caption)}
        self.call(
            "sendDocument", f"sendDocument to chat {chat_id}", data, {"document": (filename, body, mime)}
        )


def _caption(text: str) -> str:
    """Plain text (no parse mode) within the caption limit."""
    return text if utf16_len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT // 2 - 1] + "…"


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
