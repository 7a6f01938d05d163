"""A fake Telegram Bot API: a real HTTP server on 127.0.0.1 that records every request and answers as
Telegram does (``{"ok": true, "result": …}``), or with a scripted failure.

``bot.fail(method, status, description, retry_after=None, times=1)`` makes the next ``times`` calls of
``method`` fail; ``bot.too_long_above = n`` answers 400 "message is too long" to any ``sendMessage`` whose
text is longer than ``n`` characters (Telegram's own rule is 4096 after parsing the HTML).
Multipart bodies (sendPhoto, sendDocument) are parsed with the standard library's e-mail parser.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456:AAE-test-token_secret"


@dataclass
class Call:
    token: str
    method: str
    fields: dict[str, str]
    files: dict[str, tuple[str, str, bytes]]  # field -> (filename, content type, bytes)
    json_body: dict[str, Any] | None = None


@dataclass
class FakeBot:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, str, int | None]]] = field(default_factory=dict)
    too_long_above: int | None = None

    def fail(
        self, method: str, status: int, description: str, retry_after: int | None = None, times: int = 1
    ) -> None:
        self.failures.setdefault(method, []).extend([(status, description, retry_after)] * times)

    def sent(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts(self) -> list[str]:
        return [str(c.fields["text"]) for c in self.sent("sendMessage")]


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    msg = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=HTTP)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            files[name] = (part.get_filename(), part.get_content_type(), payload)
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


@contextmanager
def fake_telegram() -> Iterator[FakeBot]:
    bot = FakeBot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            _, token, method = self.path.split("/", 2)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/"):
                fields, files = _multipart(ctype, body)
                call = Call(token.removeprefix("bot"), method, fields, files)
            else:
                data = json.loads(body)
                call = Call(token.removeprefix("bot"), method, {k: v for k, v in data.items()}, {}, data)
            bot.calls.append(call)
            queue = bot.failures.get(method) or []
            if call.token != TOKEN:
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            elif queue:
                status, description, retry_after = queue.pop(0)
                answer: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
                if retry_after is not None:
                    answer["parameters"] = {"retry_after": retry_after}
                self._answer(status, answer)
            elif (
                method == "sendMessage"
                and bot.too_long_above
                and len(call.fields["text"]) > bot.too_long_above
            ):
                self._answer(
                    400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
                )
            else:
                self._answer(200, {"ok": True, "result": {"message_id": len(bot.calls)}})

        def _answer(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bot.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield bot
    finally:
        server.shutdown()
        server.server_close()
