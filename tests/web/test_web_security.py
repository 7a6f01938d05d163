"""No data without a session; an agency sees only its channels; logins are hard to guess and to forge."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
import typer.main
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web.helpers import LOCAL, PASSWORD, login
from typer.testing import CliRunner

from kassa.commands.serve import check_can_listen, is_loopback, register
from kassa.errors import KassaError
from kassa.web.app import PUBLIC_PATHS
from kassa.web.security import MAX_FAILURES
from kassa.web.users import UserStore


def kassa_cli() -> typer.Typer:
    """The CLI with the dashboard's commands (``serve``, ``user``), as ``kassa.cli`` registers them."""
    cli = typer.Typer()
    register(cli)
    return cli


def data_requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, URL) of every route but the public ones, path parameters filled with a real channel."""
    out = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        url = re.sub(r"\{[^}]+\}", "yandex_direct", route.path)
        out += [(m, url) for m in sorted(route.methods)]
    return out


def test_the_route_list_covers_the_pages(app: FastAPI) -> None:
    urls = {u for _, u in data_requests(app)}
    assert {
        "/",
        "/overview",
        "/overview.json",
        "/funnel",
        "/funnel.json",
        "/data",
        "/data.json",
        "/channels",
        "/channels.json",
        "/channels/yandex_direct",
        "/channels.csv",
        "/customers",
        "/customers.json",
        "/report.html",
        "/report.xlsx",
        "/kpi",
        "/kpi.json",
        "/kpi/edit",
        "/kpi/check",
        "/kpi/save",
        "/kpi/delete",
        "/plan",
        "/plan.json",
        "/alerts",
        "/alerts.json",
        "/data/connections/yandex_direct/sync",
        "/data/upload",
        "/data/undo",
        "/data/schedule",
        "/data/schedule/check",
        "/data/schedule/save",
        "/logout",
    } <= urls


def test_no_route_gives_data_without_a_session(app: FastAPI) -> None:
    client = TestClient(app)
    for method, url in data_requests(app):
        for query in ("", "?period=2026-10"):
            page = client.request(method, url + query, follow_redirects=False)
            assert page.status_code in (303, 401), (method, url)
            if page.status_code == 303:
                assert page.headers["location"].startswith("/login"), (method, url)
            as_json = client.request(
                method, url + query, headers={"Accept": "application/json"}, follow_redirects=False
            )
            assert as_json.status_code == 401 and as_json.json() == {"error": "login required"}, (method, url)
            assert "90000" not in page.text + as_json.text  # the golden October revenue


def test_a_forged_or_tampered_cookie_is_no_session(app: FastAPI) -> None:
    client = login(TestClient(app), "olga")
    good = client.cookies.get("kassa_session")
    assert client.get("/overview.json?period=2026-10").status_code == 200
    for bad in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "eyJ1Ijoib2xnYSJ9.x.y", ""):
        stranger = TestClient(app, cookies={"kassa_session": bad})
        assert stranger.get("/overview.json").status_code == 401


def test_session_cookie_is_httponly_and_samesite(app: FastAPI) -> None:
    client = TestClient(app)
    client.get("/login")
    r = client.post(
        "/login",
        data={"username": "olga", "password": PASSWORD, "csrf": client.cookies.get("kassa_login_csrf")},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert "kassa_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert PASSWORD not in cookie


def test_login_needs_the_form_token(app: FastAPI) -> None:
    client = TestClient(app)
    client.get("/login")
    r = client.post(
        "/login", data={"username": "olga", "password": PASSWORD, "csrf": "guessed"}, follow_redirects=False
    )
    assert r.status_code == 403 and "kassa_session" not in r.headers.get("set-cookie", "")


def test_wrong_password_then_rate_limit(app: FastAPI) -> None:
    client = TestClient(app)
    client.get("/login")
    csrf = client.cookies.get("kassa_login_csrf")
    form = {"username": "olga", "password": "wrong password", "csrf": csrf}
    for _ in range(MAX_FAILURES):
        r = client.post("/login", data=form, follow_redirects=False)
        assert r.status_code == 303 and "error=1" in r.headers["location"]
    # Now even the right password is refused for this address and name…
    r = client.post("/login", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 429 and "kassa_session" not in r.headers.get("set-cookie", "")
    # …but not for another user from the same address.
    r = client.post("/login", data={**form, "username": "ivan", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview"


def test_login_redirects_only_within_the_site(app: FastAPI) -> None:
    for target, expected in (
        ("//evil.example/x", "/overview"),
        ("https://evil.example", "/overview"),
        ("/channels", "/channels"),
    ):
        client = TestClient(app)
        client.get("/login")
        csrf = client.cookies.get("kassa_login_csrf")
        r = client.post(
            "/login",
            data={"username": "ivan", "password": PASSWORD, "csrf": csrf, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected


def test_logout_needs_the_session_token_and_ends_the_session(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("ivan")
    assert client.post("/logout", data={"csrf": "guessed"}, follow_redirects=False).status_code == 403
    page = client.get("/channels?period=2026-10").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and 'kassa_session=""' in r.headers["set-cookie"]
    assert client.get("/channels.json").status_code == 401


def test_agency_sees_only_its_channels(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("vika")  # scope: vk_ads
    channels = client.get("/channels.json?period=2026-10").json()
    assert [r["channel"] for r in channels["rows"]] == ["vk_ads"]
    # vk_ads in October: spend 3 000 (no VAT), 1 lead (L3), no sales — and the total is vk_ads alone.
    assert channels["total"]["marketing_cost"] == 3000 and channels["total"]["revenue"] == 0
    overview = client.get("/overview.json?period=2026-10").json()
    cost = next(c for c in overview["cards"] if c["name"] == "marketing_cost")
    assert cost["value"] == 3000 and overview["headline"] == []
    # Its money-vs-activity chart is drawn from vk_ads alone: October (its only month with data) has
    # 5 000 impressions, 50 clicks, 2 500 reach and 1 qualified lead (L3: junk status, but deal D5 was opened).
    (chart,) = overview["charts"]
    values = {(v["month"], v["metric"]): v["value"] for v in chart["spec"]["data"]["values"]}
    assert values == {
        ("2026-10", "impressions"): 5000,
        ("2026-10", "clicks"): 50,
        ("2026-10", "reach"): 2500,
        ("2026-10", "qualified_leads"): 1,
    }
    funnel = client.get("/funnel.json?period=2026-10").json()
    assert [r["channel"] for r in funnel["rows"]] == ["vk_ads"]
    assert funnel["total"]["steps"]["leads"]["value"] == 1  # vk_ads's one lead, not the company's six
    for url in ("/overview", "/channels", "/funnel", "/overview.json", "/channels.json", "/funnel.json"):
        page = client.get(url + "?period=2026-10")
        assert page.status_code == 200
        # Company revenue (90 000) and cost (20 000), and other channels, never appear.
        for secret in ("yandex_direct", "telegram", "90000", "90,000", "20000", "20,000"):
            assert secret not in page.text, secret


def test_agency_exports_only_its_channels(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("vika")  # scope: vk_ads
    rows = client.get("/channels.csv?period=2026-10").text.splitlines()
    assert rows[0].startswith("channel,marketing_cost") and [r.split(",")[0] for r in rows[1:]] == ["vk_ads"]
    assert client.get("/channels/yandex_direct.csv?period=2026-10").status_code == 404
    assert client.get("/channels/vk_ads.csv?period=2026-10").status_code == 200
    for url in ("/report.html", "/report.xlsx"):  # the month-end report is the company's
        r = client.get(url + "?period=2026-10")
        assert r.status_code == 403 and "90000" not in r.text


@pytest.mark.parametrize("url", ["/data", "/data.json"])
def test_agency_cannot_see_the_imports(as_user: Callable[[str], TestClient], url: str) -> None:
    r = as_user("vika").get(url)
    assert r.status_code == 403 and "spend.csv" not in r.text


@pytest.mark.parametrize(
    "url", ["/channels/yandex_direct", "/channels/yandex_direct.json", "/channels/telegram.json"]
)
def test_agency_cannot_drill_out_of_scope(as_user: Callable[[str], TestClient], url: str) -> None:
    r = as_user("vika").get(url + "?period=2026-10")
    assert r.status_code == 404 and "12000" not in r.text


def test_agency_can_drill_into_its_channel(as_user: Callable[[str], TestClient]) -> None:
    data = as_user("vika").get("/channels/vk_ads.json?period=2026-10").json()
    assert [(r["channel"], r["campaign"]) for r in data["rows"]] == [("vk_ads", "vk_retarget")]


def test_other_roles_see_every_channel(as_user: Callable[[str], TestClient]) -> None:
    for name in ("olga", "mark", "ivan"):
        rows = as_user(name).get("/channels.json?period=2026-10").json()["rows"]
        assert {"yandex_direct", "vk_ads", "telegram"} <= {r["channel"] for r in rows}, name


def test_without_users_only_loopback(golden_db: Path) -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host) and check_can_listen(golden_db, host) is False
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(KassaError, match="kassa user add NAME --role owner"):
            check_can_listen(golden_db, host)
    UserStore.for_db(golden_db).add("olga", PASSWORD, "owner")
    assert check_can_listen(golden_db, "0.0.0.0") is True


def test_serve_refuses_and_explains_in_russian(golden_db: Path) -> None:
    r = CliRunner().invoke(
        kassa_cli(), ["serve", "--db", str(golden_db), "--host", "0.0.0.0", "--lang", "ru"]
    )
    assert isinstance(r.exception, KassaError) and "Пользователей панели ещё нет" in str(r.exception)


def test_open_dashboard_closes_once_a_user_exists(open_app: FastAPI, golden_db: Path) -> None:
    client = TestClient(open_app, base_url=LOCAL)
    assert client.get("/channels.json?period=2026-10").status_code == 200
    UserStore.for_db(golden_db).add("olga", PASSWORD, "owner")
    assert client.get("/channels.json?period=2026-10").status_code == 401


def test_user_add_from_the_command_line(golden_db: Path) -> None:
    r = CliRunner().invoke(
        kassa_cli(),
        [
            "user",
            "add",
            "agency1",
            "--role",
            "agency",
            "--scope",
            "vk_ads",
            "--password-stdin",
            "--db",
            str(golden_db),
        ],
        input="s3cret-pass\n",
    )
    assert r.exit_code == 0, r.output
    store = UserStore.for_db(golden_db)
    user = store.get("agency1")
    assert user is not None and user.role == "agency" and user.scope == ("vk_ads",)
    assert user.password_hash.startswith("$argon2id$") and "s3cret-pass" not in store.path.read_text()
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert (
        store.authenticate("agency1", "s3cret-pass") == user
        and store.authenticate("agency1", "wrong") is None
    )
    r = CliRunner().invoke(
        kassa_cli(),
        ["user", "add", "x", "--role", "agency", "--password-stdin", "--db", str(golden_db)],
        input="long-enough\n",
    )
    assert isinstance(r.exception, KassaError) and "--scope" in str(r.exception)


@pytest.mark.parametrize(
    ("role", "scope", "password", "field"),
    [
        ("owner", ["vk_ads"], "long-enough", "--scope"),
        ("admin", None, "long-enough", "--role"),
        ("viewer", None, "short", "password"),
    ],
)
def test_bad_users_are_refused_naming_the_field(
    golden_db: Path, role: str, scope: list[str] | None, password: str, field: str
) -> None:
    with pytest.raises(KassaError, match=re.escape(field)):
        UserStore.for_db(golden_db).add("x", password, role, scope)


def test_a_running_dashboard_holds_the_warehouse(app: FastAPI, users_db: Path, tmp_path: Path) -> None:
    spend = tmp_path / "more.csv"
    spend.write_text("date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_x,10,1,100\n")
    r = subprocess.run(
        [sys.executable, "-m", "kassa.cli", "import", str(spend), "--db", str(users_db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "open for writing by another process" in r.stderr
    assert "Traceback" not in r.stderr


def test_every_dashboard_command_has_an_example() -> None:
    group = typer.main.get_command(kassa_cli())
    helps = {"serve": group.commands["serve"].help}  # type: ignore[attr-defined]
    helps |= {f"user {n}": c.help for n, c in group.commands["user"].commands.items()}  # type: ignore[attr-defined]
    assert set(helps) == {"serve", "user add", "user list", "user remove"}
    assert all("Example:" in (h or "") for h in helps.values()), helps


def test_pages_are_not_cached_or_framed(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("ivan")
    for r in (client.get("/channels.json?period=2026-10"), client.get("/login")):
        assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    # The chart script holds no data: browsers may keep it for a day.
    assert client.get("/static/vega.js").headers["cache-control"] == "public, max-age=86400"


def test_user_errors_in_russian(golden_db: Path) -> None:
    r = CliRunner().invoke(
        kassa_cli(),
        ["user", "add", "x", "--role", "viewer", "--password-stdin", "--db", str(golden_db), "--lang", "ru"],
        input="short\n",
    )
    assert isinstance(r.exception, KassaError) and str(r.exception) == "пароль: не короче 8 символов"


def test_a_new_password_or_role_ends_the_old_sessions(app: FastAPI, users_db: Path) -> None:
    client = login(TestClient(app), "ivan")
    assert client.get("/overview.json?period=2026-10").status_code == 200
    UserStore.for_db(users_db).add("ivan", "another long password", "viewer")  # a new password
    assert client.get("/overview.json?period=2026-10").status_code == 401
    client = login(TestClient(app), "ivan", "another long password")
    assert client.get("/data.json").status_code == 200
    UserStore.for_db(users_db).add("ivan", "another long password", "agency", ["vk_ads"])  # a narrower role
    assert client.get("/data.json").status_code == 401  # not the old viewer session's rights


def test_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    client = TestClient(app, base_url="https://dash.example")
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "olga", "password": PASSWORD, "csrf": client.cookies.get("kassa_login_csrf")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and page.status_code == 200
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("kassa_session=")
    )
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_non_ascii_form_token_is_refused_not_a_crash(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("olga")
    assert client.post("/logout", data={"csrf": "é"}).status_code == 403
    anonymous = TestClient(client.app)
    anonymous.cookies.set("kassa_login_csrf", "x")
    r = anonymous.post("/login", data={"username": "a", "password": "b", "csrf": "é"})
    assert r.status_code == 403
