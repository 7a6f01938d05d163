"""The real dashboard under uvicorn in a background thread, for the browser tests.

The socket is bound here (port 0: the system picks a free port) and handed to uvicorn, so no other
process can take the port between choosing and listening. Stopping sets ``should_exit``, which runs the
app's lifespan shutdown: the dashboard closes the warehouse and gives up its write lock.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from kassa.commands.serve import dashboard_config


@contextmanager
def serve(app: FastAPI, timeout: float = 30.0, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at ``port`` (0: a free one); yield its base URL once ``/login`` answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    # As kassa serve configures uvicorn (no proxy headers believed, no websockets).
    config = dashboard_config(app, access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kassa-serve", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_it_answers(url, thread, timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the dashboard at {url} did not stop within {timeout} s")


def _wait_until_it_answers(url: str, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not thread.is_alive():
            raise RuntimeError(f"the dashboard at {url} stopped while starting (see the log above)")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard at {url} did not answer within {timeout} s")
        time.sleep(0.05)
