"""The one retry loop (kassa.connectors.http.Retry) against a real HTTP server on 127.0.0.1.

The per-service behaviours it carries: a POST whose answer timed out is not sent again (it may have
taken effect), an idempotent request is; a server-given wait is honoured, and one longer than
``max_wait`` fails; polls and busy waits stop at the deadline; a fault answer is retried ``attempts``
times and then handed to ``exhausted``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2 as httpx
import pytest

from kassa.connectors.http import Retry, Verdict, done, fail, poll, retry, wait
from kassa.errors import ServiceError


class Server:
    def __init__(self) -> None:
        self.answers: list[tuple[float, int]] = []  # (delay, status), the last one repeated
        self.posts = 0
        self.url = ""


@contextmanager
def server() -> Iterator[Server]:
    s = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            s.posts += 1
            delay, status = s.answers.pop(0) if len(s.answers) > 1 else s.answers[0]
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    s.url = f"http://127.0.0.1:{httpd.server_address[1]}/send"
    try:
        yield s
    finally:
        httpd.shutdown()
        httpd.server_close()


def judge(r: httpx.Response) -> Verdict:
    if r.status_code == 200:
        return done("ok")
    if r.status_code == 202:
        return poll(10.0, "still being built")
    if r.status_code == 429:
        return wait("HTTP 429", 5.0)
    if r.status_code >= 500:
        return retry(f"HTTP {r.status_code}")
    return fail(ServiceError(f"HTTP {r.status_code}"))


def error(problem: str) -> ServiceError:
    return ServiceError(f"svc: POST /send: {problem}")


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def send(s: Server, policy: Retry, timeout: float = 5.0) -> object:
    with httpx.Client(timeout=timeout) as c:
        return policy.send(lambda: c.post(s.url, content=b"x"), judge, error, timeout=timeout)


def test_a_post_whose_answer_timed_out_is_not_sent_again_an_idempotent_one_is():
    with server() as s:
        s.answers = [(0.6, 200)]
        with pytest.raises(
            ServiceError, match=r"no answer within 0.2 s \(it may have been delivered; not retried\)"
        ):
            send(s, Retry(idempotent=False, backoff=0), timeout=0.2)
        assert s.posts == 1
        s.posts = 0
        with pytest.raises(ServiceError, match=r"no answer within 0.2 s \(tried 3 times\)"):
            send(s, Retry(attempts=3, backoff=0), timeout=0.2)
        assert s.posts == 3


def test_faults_back_off_doubling_then_exhausted_decides_what_is_raised():
    class Split(Exception):
        pass

    def judge_split(r: httpx.Response) -> Verdict:
        return retry(f"HTTP {r.status_code}", exhausted=lambda e: Split(str(e)))

    vt = VirtualTime()
    with server() as s:
        s.answers = [(0, 502)]
        policy = Retry(attempts=4, backoff=1.0, jitter=False, clock=vt.clock, sleep=vt.sleep)
        with httpx.Client() as c, pytest.raises(Split, match=r"HTTP 502 \(tried 4 times\)"):
            policy.send(lambda: c.post(s.url), judge_split, error, timeout=5)
    assert vt.waits == [1.0, 2.0, 4.0] and policy.counts.requests == 4 and policy.counts.retries == 3


def test_a_server_given_wait_is_honoured_and_one_too_long_fails():
    vt = VirtualTime()
    with server() as s:
        s.answers = [(0, 429), (0, 429), (0, 200)]
        policy = Retry(clock=vt.clock, sleep=vt.sleep)
        assert send(s, policy) == "ok"
        assert vt.waits == [5.0, 5.0]
        s.answers = [(0, 429)]
        with pytest.raises(ServiceError, match="asked to wait 5 s, longer than 2 s"):
            send(s, Retry(max_wait=2.0, clock=vt.clock, sleep=vt.sleep))


def test_polls_and_busy_waits_stop_at_the_deadline_not_after_attempts():
    vt = VirtualTime()
    with server() as s:
        s.answers = [(0, 202)]
        policy = Retry(attempts=2, deadline=35.0, deadline_hint="try later", clock=vt.clock, sleep=vt.sleep)
        with pytest.raises(ServiceError) as exc:
            send(s, policy)
        assert "still being built, and waiting 10 s more would pass the deadline of 35 s; try later" in str(
            exc.value
        )
        assert policy.counts.polls == 4 and vt.now == 30.0
        vt2 = VirtualTime()
        s.answers = [(0, 429)]
        busy = Retry(attempts=2, waits_use_attempts=False, deadline=12.0, clock=vt2.clock, sleep=vt2.sleep)
        with pytest.raises(ServiceError, match="HTTP 429, and waiting 5 s more would pass"):
            send(s, busy)
        assert busy.counts.requests == 3  # more than attempts: only the deadline bounds busy answers
