"""A dashboard over the golden company (tests/golden_data.py), with one user of each kind of access."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.helpers import PASSWORD, USERS, login

from kassa.web import create_app
from kassa.web.users import UserStore, users_path


@pytest.fixture
def golden_db(golden_file: Path, tmp_path: Path) -> Path:
    """This test's copy of the golden warehouse file (built once per session), closed so the dashboard
    can be its single writer."""
    path = tmp_path / "w.duckdb"
    shutil.copy(golden_file, path)
    return path


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One users file for the session: argon2 hashing is slow on purpose (about half a second per user)."""
    store = UserStore.for_db(tmp_path_factory.mktemp("users") / "w.duckdb")
    for name, (role, scope) in USERS.items():
        store.add(name, PASSWORD, role, scope)
    return store.path


@pytest.fixture
def users_db(golden_db: Path, users_file: Path) -> Path:
    shutil.copy(users_file, users_path(golden_db))
    return golden_db


@pytest.fixture
def app(users_db: Path) -> Iterator[FastAPI]:
    # warm=False: after an upload the warm-up would build 26 overviews in the background that no test reads
    # (and the teardown would wait for the one being built); test_warm_up_builds_… runs it on purpose.
    web = create_app(users_db, users_required=True, warm=False)
    yield web
    web.state.dashboard.close()


@pytest.fixture
def open_app(golden_db: Path) -> Iterator[FastAPI]:
    """No users: requests need no session (kassa serve allows this on loopback only)."""
    web = create_app(golden_db, users_required=False, warm=False)
    yield web
    web.state.dashboard.close()


@pytest.fixture
def as_user(app: FastAPI) -> Callable[[str], TestClient]:
    def make(name: str) -> TestClient:
        return login(TestClient(app), name)

    return make
