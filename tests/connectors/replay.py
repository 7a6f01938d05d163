"""A real HTTP server on 127.0.0.1 that replays recorded answers of the rate services, and logs requests.

``answers[(path, query)]`` is a list of ``(status, body, content_type)`` played in order (the last one
again for every later request); a ``float`` status is a delay in seconds before a 200 (a slow server).
Query keys compare as parsed (order-free), so a test states the request the docs describe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[float, bytes, str]


@dataclass
class Replay:
    answers: dict[tuple[str, frozenset[tuple[str, str]]], list[Answer]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    def add(self, path: str, query: dict[str, str], *answers: Answer) -> None:
        self.answers[(path, frozenset(query.items()))] = list(answers)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if urlsplit(r).path == path)


@contextmanager
def replay_server() -> Iterator[Replay]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            replay.requests.append(self.path)
            url = urlsplit(self.path)
            key = (url.path, frozenset(parse_qsl(url.query)))
            queue = replay.answers.get(key)
            if not queue:
                status, body, ctype = 404, b"no such recorded request: " + self.path.encode(), "text/plain"
            else:
                status, body, ctype = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(status, float):
                time.sleep(status)
                status = 200
            try:
                self.send_response(int(status))
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield replay
    finally:
        server.shutdown()
        server.server_close()
