"""Users of the dashboard tests and logging in as one of them."""

from __future__ import annotations

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
USERS = {
    "olga": ("owner", None),
    "mark": ("marketer", None),
    "vika": ("agency", ["vk_ads"]),
    "ivan": ("viewer", None),
}


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    csrf = client.cookies.get("kassa_login_csrf")
    assert page.status_code == 200 and csrf
    r = client.post(
        "/login", data={"username": name, "password": password, "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/overview", r.text
    return client
