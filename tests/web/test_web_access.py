"""Who gets in (issue 14, items 4-6): no DNS rebinding of a dashboard without users, sessions that end at
logout, and a login throttle that cannot be dodged with a forwarded header, filled up with long names, or
turned into a lock-out of the owner."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.browser_server import serve
from tests.web.helpers import PASSWORD, login
from typer.testing import CliRunner

from kassa.errors import KassaError
from kassa.web import create_app
from kassa.web.security import (
    ACCOUNT_MAX_DELAY,
    MAX_FAILURES,
    MAX_NAME,
    MAX_SESSIONS,
    LoginLimiter,
    SessionStore,
)
from kassa.web.users import sessions_path


def raw_get(base: str, path: str, host: str) -> http.client.HTTPResponse:
    """A real HTTP request to the server at ``base`` with a ``Host`` header of our choosing, as a page of
    another site would send after re-pointing its name to 127.0.0.1."""
    hostport = base.removeprefix("http://")
    conn = http.client.HTTPConnection(hostport, timeout=30)
    conn.request("GET", path, headers={"Host": host})
    resp = conn.getresponse()
    resp.read_body = resp.read()  # type: ignore[attr-defined]
    conn.close()
    return resp


# -- 4. DNS rebinding -----------------------------------------------------------------------------------
@pytest.fixture
def open_server(golden_db: Path) -> Iterator[tuple[str, int]]:
    """A real uvicorn serving a dashboard without users; its port is the one it is told it serves."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    web = create_app(golden_db, users_required=False, warm=False, port=port)
    with serve(web, port=port) as url:
        yield url, port


def test_a_foreign_host_gets_no_figures_from_a_dashboard_without_users(open_server: tuple[str, int]) -> None:
    url, port = open_server
    for path in ("/overview.json?period=2026-10", "/channels.json", "/data.json", "/login", "/overview/"):
        r = raw_get(url, path, f"attacker.example:{port}")
        body = r.read_body.decode()  # type: ignore[attr-defined]
        assert r.status == 400, (path, r.status)
        assert "90000" not in body and "attacker.example" not in body and "csrf" not in body.lower()
        assert r.getheader("location") is None and r.getheader("set-cookie") is None
    assert "127.0.0.1, localhost" in json.loads(raw_get(url, "/overview.json", "evil:1").read_body)["error"]  # type: ignore[attr-defined]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        r = raw_get(url, "/overview.json?period=2026-10", host)
        assert r.status == 200 and json.loads(r.read_body)["period"] == "2026-10", host  # type: ignore[attr-defined]
    # This computer's name on another port is not this server either (another local service's page).
    assert raw_get(url, "/overview.json", f"127.0.0.1:{port + 1}").status == 400


def test_the_trailing_slash_redirect_names_no_host(open_server: tuple[str, int], app: FastAPI) -> None:
    url, port = open_server
    r = raw_get(url, "/overview/?period=2026-10", f"127.0.0.1:{port}")
    assert r.status == 307 and r.getheader("location") == "/overview?period=2026-10"
    for path in ("//evil.example/", "/\\evil.example/", "/nowhere/"):  # no open redirect anywhere
        r = raw_get(url, path, f"127.0.0.1:{port}")
        assert r.status == 404 and r.getheader("location") is None, path
    # With users any name may reach the server (it may sit behind a proxy), yet the redirect is a path.
    client = TestClient(app, base_url="http://attacker.example:8734")
    r = client.get("/channels/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/channels"


# -- 5. logout ends the session ------------------------------------------------------------------------
def test_a_cookie_replayed_after_logout_is_refused(app: FastAPI, users_db: Path) -> None:
    client = login(TestClient(app), "ivan")
    cookie = client.cookies.get("kassa_session")
    other = login(TestClient(app), "ivan")  # the same user in another browser
    assert client.get("/overview.json?period=2026-10").status_code == 200
    token = app.state.dashboard.sessions.read(cookie)["csrf"]
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    replay = TestClient(app, cookies={"kassa_session": cookie})
    assert replay.get("/overview.json?period=2026-10").status_code == 401
    assert (
        replay.get("/overview?period=2026-10", follow_redirects=False)
        .headers["location"]
        .startswith("/login")
    )
    assert other.get("/overview.json?period=2026-10").status_code == 200  # only that session ended
    stored = sessions_path(users_db)
    assert stored.stat().st_mode & 0o777 == 0o600 and cookie not in stored.read_text()
    # A server started again reads the same file: the logged-out cookie stays refused.
    app.state.dashboard.close()
    again = create_app(users_db, warm=False)
    try:
        assert TestClient(again, cookies={"kassa_session": cookie}).get("/channels.json").status_code == 401
        assert TestClient(again, cookies=dict(other.cookies)).get("/channels.json").status_code == 200
    finally:
        again.state.dashboard.close()


def test_the_sessions_file_is_bounded_and_forgets_expired_ids(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SessionStore(tmp_path / "w.duckdb.sessions.json", clock=lambda: now[0])
    first = store.add("olga")
    for _ in range(MAX_SESSIONS + 50):
        store.add("ivan")
    assert len(store) == MAX_SESSIONS and not store.alive(first, "olga")  # the oldest went first
    kept = store.add("olga")
    assert store.alive(kept, "olga") and not store.alive(kept, "ivan")  # an id is its own user's only
    now[0] += 13 * 3600  # past SESSION_SECONDS: every id expired
    assert not store.alive(kept, "olga")
    store.add("mark")
    assert len(store) == 1  # the expired ones were pruned on the write


# -- 6. the login throttle ------------------------------------------------------------------------------
def form_of(client: TestClient, username: str, password: str) -> dict[str, str]:
    if not client.cookies.get("kassa_login_csrf"):
        client.get("/login")
    return {"username": username, "password": password, "csrf": client.cookies.get("kassa_login_csrf")}


def try_login(client: TestClient, username: str, password: str, **headers: str) -> int:
    r = client.post(
        "/login", data=form_of(client, username, password), headers=headers, follow_redirects=False
    )
    if r.status_code == 303:
        return 200 if r.headers["location"] == "/overview" else 401
    return r.status_code


def test_a_new_forwarded_address_per_try_does_not_dodge_the_limit(users_db: Path) -> None:
    """A real uvicorn as kassa serve runs it: X-Forwarded-For from 127.0.0.1 is not believed."""
    import urllib.parse
    import urllib.request

    web = create_app(users_db, warm=False)
    with serve(web) as url:

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None  # a failed login's redirect is its answer (303), not a page to open

        cookies = urllib.request.HTTPCookieProcessor()
        opener = urllib.request.build_opener(cookies, NoRedirect())
        opener.open(url + "/login").read()
        csrf = next(c.value for c in cookies.cookiejar if c.name == "kassa_login_csrf")
        statuses = []
        for i in range(MAX_FAILURES + 3):
            body = urllib.parse.urlencode({"username": "olga", "password": "wrong", "csrf": csrf}).encode()
            req = urllib.request.Request(url + "/login", body, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            try:
                statuses.append(opener.open(req).status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
        assert statuses[:MAX_FAILURES] == [303] * MAX_FAILURES and statuses[MAX_FAILURES:] == [429] * 3


def test_a_forwarded_address_counts_only_from_the_trusted_proxy(users_db: Path) -> None:
    # TestClient's peer is "testclient": trusted here, as `kassa serve --trusted-proxy` names the proxy.
    web = create_app(users_db, warm=False, trusted_proxies=["testclient"])
    try:
        client = TestClient(web)
        for _ in range(MAX_FAILURES):
            assert try_login(client, "olga", "wrong", **{"X-Forwarded-For": "198.51.100.7"}) == 401
        assert try_login(client, "olga", "wrong", **{"X-Forwarded-For": "198.51.100.7"}) == 429
        # Another client behind the same proxy is another address: not slowed by the first one's guesses.
        assert try_login(TestClient(web), "olga", PASSWORD, **{"X-Forwarded-For": "198.51.100.8"}) == 200
    finally:
        web.state.dashboard.close()
    untrusted = create_app(users_db, warm=False)  # the default: no proxy is trusted
    try:
        client = TestClient(untrusted)
        codes = [
            try_login(client, "olga", "wrong", **{"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(7)
        ]
        assert codes[MAX_FAILURES:] == [429, 429]
    finally:
        untrusted.state.dashboard.close()


def test_long_user_names_are_refused_and_the_limiter_stays_small(app: FastAPI) -> None:
    client = TestClient(app)
    huge = "x" * 1_000_000
    for i in range(30):
        r = client.post("/login", data=form_of(client, huge + str(i), "wrong"), follow_redirects=False)
        assert r.status_code == 400 and r.json()["error"] == f"username: at most {MAX_NAME} characters"
    assert len(app.state.dashboard.limiter) == 0  # nothing of them is kept
    r = client.post("/login?lang=ru", data=form_of(client, "x" * (MAX_NAME + 1), "w"), follow_redirects=False)
    assert r.status_code == 400 and "не длиннее 200 символов" in r.json()["error"]


def test_the_limiter_is_bounded_and_forgets() -> None:
    now = [0.0]
    limiter = LoginLimiter(clock=lambda: now[0], max_keys=1000)
    for i in range(20_000):  # distinct addresses and names: each adds two keys
        limiter.failed(f"10.0.{i // 256}.{i % 256}", f"user{i}")
    assert len(limiter) <= 1000
    now[0] += 3 * 3600  # hours later every failure is forgotten
    limiter.failed("10.9.9.9", "x")
    assert len(limiter) == 2 and limiter.wait("10.0.0.1", "user1") == 0


def test_an_attack_on_the_owner_slows_them_down_but_never_locks_them_out(users_db: Path) -> None:
    now = [0.0]
    web = create_app(users_db, warm=False, trusted_proxies=["testclient"])
    dash = web.state.dashboard
    dash.limiter = LoginLimiter(clock=lambda: now[0])
    attacker, owner = TestClient(web), TestClient(web)
    at_home = {"X-Forwarded-For": "192.0.2.10"}
    try:
        assert try_login(owner, "olga", PASSWORD, **at_home) == 200  # the owner's usual address
        # The attacker guesses once a second for 20 minutes, from four addresses in turn.
        counted, refused = 0, 0
        for second in range(1200):
            bot = {"X-Forwarded-For": f"198.51.100.{60 + second % 4}"}
            code = try_login(attacker, "olga", "guess", **bot)
            counted, refused = counted + (code == 401), refused + (code == 429)
            now[0] += 1.0
        # Per address: 5 free tries, then 1 s, 2 s, 4 s … (about one per doubling); the account's own
        # delay starts after 20 failures from all of them together.
        assert 20 < counted <= 4 * 16 and refused >= 1200 - 4 * 16
        # The owner from a café (an address never seen) waits the account's delay, at most a minute…
        cafe = {"X-Forwarded-For": "203.0.113.5"}
        r = owner.post("/login", data=form_of(owner, "olga", PASSWORD), headers=cafe, follow_redirects=False)
        assert r.status_code == 429
        wait = int(r.headers["retry-after"])
        assert 0 < wait <= ACCOUNT_MAX_DELAY
        for second in range(wait):  # the attack goes on meanwhile, refused: its own waits are long now
            bot = {"X-Forwarded-For": f"198.51.100.{60 + second % 4}"}
            assert try_login(attacker, "olga", "guess", **bot) == 429
            now[0] += 1.0
        assert try_login(owner, "olga", PASSWORD, **cafe) == 200  # …then the owner gets in
        # From home (an address that logged in before) the attack does not slow the owner at all.
        assert try_login(TestClient(web), "olga", PASSWORD, **at_home) == 200
    finally:
        dash.close()


def test_serve_takes_a_trusted_proxy_and_refuses_nonsense(golden_db: Path) -> None:
    from tests.web.test_web_security import kassa_cli

    r = CliRunner().invoke(kassa_cli(), ["serve", "--db", str(golden_db), "--trusted-proxy", "my-proxy"])
    assert isinstance(r.exception, KassaError) and "--trusted-proxy: my-proxy" in str(r.exception)


def test_uvicorn_as_kassa_serve_runs_it_believes_no_forwarded_header() -> None:
    from kassa.commands.serve import dashboard_config, trusted_proxies

    config = dashboard_config(FastAPI())
    assert config.proxy_headers is False
    assert trusted_proxies(["10.0.0.1", "10.1.0.0/16", "::1"]) == ["10.0.0.1/32", "10.1.0.0/16", "::1/128"]
