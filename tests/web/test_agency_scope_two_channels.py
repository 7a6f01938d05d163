"""The agency sweep of tests/web/test_agency_scope.py for an agency of two channels (telegram and
Yandex Direct), in a file of its own so that it runs beside the one-channel sweep."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.helpers import USERS
from tests.web.test_agency_scope import sweep


@pytest.mark.slow  # about 450 requests
def test_an_agency_of_two_channels_reads_nothing_outside_its_scope_anywhere(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    assert sorted(USERS["tanya"][1] or []) == ["telegram", "yandex_direct"]
    sweep(as_user, app, "tanya")
