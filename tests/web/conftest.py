"""A dashboard over the golden company (tests/golden_data.py), with one user of each kind of access."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.golden_data import FILES

from kassa.web import create_app
from kassa.web.users import UserStore

PASSWORD = "correct horse battery"
USERS = {
    "olga": ("owner", None),
    "mark": ("marketer", None),
    "vika": ("agency", ["vk_ads"]),
    "ivan": ("viewer", None),
}


@pytest.fixture
def golden_db(make_warehouse: Callable[..., object]) -> Path:
    """The golden warehouse file, closed again so the dashboard can be its single writer."""
    wh = make_warehouse(FILES)
    path: Path = wh.path  # type: ignore[attr-defined]
    wh.close()  # type: ignore[attr-defined]
    return path


@pytest.fixture
def users_db(golden_db: Path) -> Path:
    store = UserStore.for_db(golden_db)
    for name, (role, scope) in USERS.items():
        store.add(name, PASSWORD, role, scope)
    return golden_db


@pytest.fixture
def app(users_db: Path) -> Iterator[FastAPI]:
    web = create_app(users_db, users_required=True)
    yield web
    web.state.dashboard.close()


@pytest.fixture
def open_app(golden_db: Path) -> Iterator[FastAPI]:
    """No users: requests need no session (kassa serve allows this on loopback only)."""
    web = create_app(golden_db, users_required=False)
    yield web
    web.state.dashboard.close()


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    csrf = client.cookies.get("kassa_login_csrf")
    assert page.status_code == 200 and csrf
    r = client.post("/login", data={"username": name, "password": password, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview", r.text
    return client


@pytest.fixture
def as_user(app: FastAPI) -> Callable[[str], TestClient]:
    def make(name: str) -> TestClient:
        return login(TestClient(app), name)

    return make
