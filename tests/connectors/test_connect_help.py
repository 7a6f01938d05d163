"""`kassa connect SERVICE --help` at 80 columns: that service's own options and its example, no other's;
`kassa connect --help` the overview; `kassa connect yandex-direct --name d …` unchanged."""

from __future__ import annotations

import pytest
from tests.kassa_cli import run_kassa

from kassa.commands._connect_help import SERVICES

OWN = {
    "yandex-direct": ["--client-login", "--include-vat", "--campaign"],
    "yandex-metrica": ["--counter"],
    "vk-ads": ["--client-id"],
    "google-ads": ["--customer-id", "--login-customer-id", "--client-id"],
    "meta-ads": ["--account"],
}
EVERY = {o for opts in OWN.values() for o in opts}


def help_of(*args: str) -> str:
    r = run_kassa("connect", *args, "--help", env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    return r.stdout


def flat(text: str) -> str:
    """The help's text without the box and the wrapping (an example may wrap over lines)."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("service", list(OWN))
def test_a_services_help_shows_its_options_and_example_only(service):
    out = help_of(service)
    words = set(out.replace("│", " ").split())
    for option in OWN[service]:
        assert option in words, option
    for option in EVERY - set(OWN[service]):
        assert option not in words, option
    for common in ("--name", "--token-stdin", "--token-env", "--base-url", "--db"):
        assert common in words
    assert f"Example: kassa connect {service} --name" in flat(out)
    assert flat("Example: " + SERVICES[service][2]) in flat(out)


def test_the_overview_lists_every_option_and_points_to_the_services_help():
    out = help_of()
    words = set(out.replace("│", " ").split())
    assert words >= EVERY
    assert "kassa connect SERVICE --help" in flat(out)


def test_connect_with_a_service_still_saves_the_connection(tmp_path):
    db = tmp_path / "shop.duckdb"
    r = run_kassa(
        "connect", "yandex-direct", "--name", "d", "--client-login", "shop", "--token-stdin",
        "--base-url", "http://127.0.0.1:9", "--db", db, stdin="y0_secret\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_kassa("connections", "--db", db, "--json")
    assert r.returncode == 0 and '"client_login": "shop"' in r.stdout and "y0_secret" not in r.stdout
