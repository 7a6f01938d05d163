"""``kassa demo`` ends by serving the dashboard: a real process, a real port, the printed login.

One ``kassa demo`` process is started for the module (building the company takes ~15 s); the tests log
in over HTTP with the name and password it printed, read the overview, try to rebuild the demo and to take
its port while it runs, then stop it with Ctrl+C (SIGINT) and check the warehouse was released.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from kassa.demo import LAST_MONTH
from kassa.i18n import fmt_money
from kassa.kpi import EXAMPLES, example_path, parse_contract
from kassa.kpi.saved import slug_of
from kassa.metrics.compute import compute
from kassa.store import Warehouse
from kassa.web.security import LOGIN_CSRF_COOKIE

pytestmark = pytest.mark.slow  # one `kassa demo` builds the company (~15 s) and serves it
STARTUP_SECONDS = 200  # generating and loading ~200 000 visits on a busy 2-core machine, with margin
LOGIN_LINE = re.compile(r"^Login: (?P<name>\S+)\s+Password: (?P<password>\S+)\s*$")
URL_LINE = re.compile(r"^Dashboard: (?P<url>http://127\.0\.0\.1:\d+)/")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kassa(*args: str, cwd: Path, timeout: float = STARTUP_SECONDS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class DemoProcess:
    """A running ``kassa demo``: its stdout read line by line on a thread, so the pipe never fills up."""

    def __init__(self, tmp: Path, port: int) -> None:
        self.tmp, self.port = tmp, port
        self.db, self.out = tmp / "demo.duckdb", tmp / "rep"
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kassa.cli", "demo", "--db", str(self.db), "--out", str(self.out)]
            + ["--port", str(port)],
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if m := pattern.match(line):
                    return m
            seen = len(self.lines)
            try:
                if self._new.get(timeout=max(0.0, deadline - time.monotonic())) is None:
                    raise AssertionError(f"kassa demo ended without {pattern.pattern!r}:\n{self.output()}")
            except queue.Empty:
                raise AssertionError(f"no {pattern.pattern!r} within {timeout} s:\n{self.output()}") from None

    def stop(self) -> int:
        """Ctrl+C, as a person stops it; the exit code (the process is killed if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("kassa demo did not stop within 60 s of Ctrl+C") from None
        if self.proc.stderr is not None and not self.proc.stderr.closed:
            self.stderr += self.proc.stderr.read()
            self.proc.stderr.close()
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    running = DemoProcess(tmp_path_factory.mktemp("demo-serve"), free_port())
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def served(demo: DemoProcess) -> dict[str, str]:
    """The printed URL and login, once the dashboard answers."""
    login = demo.wait_for(LOGIN_LINE, STARTUP_SECONDS)
    url = demo.wait_for(URL_LINE, 1)["url"]
    assert url == f"http://127.0.0.1:{demo.port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(url + "/login", timeout=5).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        assert demo.proc.poll() is None, f"kassa demo stopped:\n{demo.output()}"
        assert time.monotonic() < deadline, "the demo dashboard did not answer within 30 s"
        time.sleep(0.1)
    return {"url": url, "name": login["name"], "password": login["password"]}


def log_in(client: httpx2.Client, name: str, password: str) -> None:
    assert client.get("/login").status_code == 200
    csrf = client.cookies.get(LOGIN_CSRF_COOKIE)
    assert csrf
    r = client.post("/login", data={"username": name, "password": password, "csrf": csrf})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/overview"


def revenue_card(overview: dict[str, object]) -> float:
    cards = overview["cards"]
    assert isinstance(cards, list)
    (card,) = [c for c in cards if c["name"] == "revenue"]
    return float(card["value"])


def test_the_printed_login_opens_the_overview_of_the_demo(served: dict[str, str], demo: DemoProcess) -> None:
    assert served["name"] == "demo" and len(served["password"]) >= 16
    with httpx2.Client(base_url=served["url"], timeout=60) as anonymous:
        assert anonymous.get("/overview.json").status_code == 401  # logins are required
    with httpx2.Client(base_url=served["url"], timeout=60) as client:
        log_in(client, served["name"], served["password"])
        r = client.get("/overview.json")
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["period"] == LAST_MONTH
        revenue = revenue_card(data)
        # The same number the terminal printed in its headline ("Revenue RUB 5,392,800 (…)").
        assert f"Revenue {fmt_money(revenue, 'RUB', 'en')}" in demo.output()
        page = client.get("/overview")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        # Both shipped contracts are saved with the demo: its KPI page scores them.
        kpi = client.get("/kpi.json").json()
        assert sorted(c["slug"] for c in kpi["contracts"]) == sorted(
            slug_of(parse_contract(example_path(n).read_text(encoding="utf-8")).name) for n in EXAMPLES
        )


def test_a_wrong_password_is_refused(served: dict[str, str]) -> None:
    with httpx2.Client(base_url=served["url"], timeout=60) as client:
        client.get("/login")
        r = client.post(
            "/login",
            data={
                "username": "demo",
                "password": "not-the-password",
                "csrf": client.cookies[LOGIN_CSRF_COOKIE],
            },
        )
        assert r.status_code == 303 and "error=1" in r.headers["location"]
        assert client.get("/overview.json").status_code == 401


def test_it_listens_on_loopback_only(served: dict[str, str], demo: DemoProcess) -> None:
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        pytest.skip("no /proc/net/tcp on this system")
    listening = []
    for table in tables:
        if not table.exists():
            continue
        for row in table.read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == demo.port:  # 0A: LISTEN
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex; nothing on 0.0.0.0 or IPv6


def test_rebuilding_the_demo_while_it_serves_says_the_warehouse_is_in_use(
    served: dict[str, str], demo: DemoProcess
) -> None:
    started = time.monotonic()
    r = kassa("demo", "--db", str(demo.db), "--out", str(demo.out), "--no-serve", cwd=demo.tmp)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "open for writing by another process" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - started < 60  # said before generating the company again


def test_a_taken_port_is_said_before_building_anything(served: dict[str, str], demo: DemoProcess) -> None:
    other = demo.tmp / "other.duckdb"
    r = kassa("demo", "--db", str(other), "--out", str(demo.out), "--port", str(demo.port), cwd=demo.tmp)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"Port {demo.port} on 127.0.0.1 is already in use" in r.stderr and "Traceback" not in r.stderr
    assert not other.exists()


def test_ctrl_c_stops_it_cleanly_and_releases_the_warehouse(
    served: dict[str, str], demo: DemoProcess
) -> None:
    with httpx2.Client(base_url=served["url"], timeout=60) as client:
        log_in(client, served["name"], served["password"])
        revenue = revenue_card(client.get("/overview.json").json())
    assert demo.stop() == 0
    assert "Traceback" not in demo.stderr, demo.stderr
    # The server gave up DuckDB's write lock: the warehouse opens for writing, and holds what it served.
    with Warehouse.open(demo.db) as wh:
        expected = compute(wh, ["revenue"], None, LAST_MONTH, with_total=False).frame["revenue"][0]
    assert revenue == pytest.approx(expected, rel=1e-12)
    with pytest.raises(httpx2.TransportError):
        httpx2.get(served["url"] + "/login", timeout=5)


def test_no_serve_builds_and_returns_without_serving(served: dict[str, str], demo: DemoProcess) -> None:
    demo.stop()  # the warehouse is free again (a no-op after the Ctrl+C test)
    users_file = demo.db.with_name(demo.db.name + ".users.json")
    before = users_file.read_bytes()
    r = kassa(
        "demo",
        "--db",
        str(demo.db),
        "--out",
        str(demo.out),
        "--no-serve",
        "--port",
        str(demo.port),
        cwd=demo.tmp,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Where is the money" in r.stdout and "Dashboard:" not in r.stdout and "Password" not in r.stdout
    assert users_file.read_bytes() == before  # no demo user was reset: nothing was served
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # connections of the stopped server may linger
        s.bind(("127.0.0.1", demo.port))  # nothing listens there: it was not taken
