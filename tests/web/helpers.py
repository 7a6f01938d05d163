"""Users of the dashboard tests and logging in as one of them."""

from __future__ import annotations

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
# A dashboard without users answers only requests naming this computer (no DNS rebinding).
LOCAL = "http://127.0.0.1:8000"
USERS = {
    "olga": ("owner", None),
    "mark": ("marketer", None),
    "vika": ("agency", ["vk_ads"]),
    "ivan": ("viewer", None),
    "tanya": ("agency", ["telegram", "yandex_direct"]),  # an agency of two channels (the scope sweep)
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
