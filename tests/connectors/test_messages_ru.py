"""Connector errors a person acts on, with `--lang ru` and `--lang en`: the same facts in either
language, and the token in neither (tests/connectors/fake_*.py, the real CLI)."""

from __future__ import annotations

import pytest
from tests.connectors.fake_direct import fake_direct
from tests.connectors.fake_metrica import fake_metrica
from tests.connectors.test_sync import OCTOBER, ROWS, TOKEN, connect, flat
from tests.connectors.test_sync_metrica import COUNTER
from tests.connectors.test_sync_metrica import TOKEN as METRICA_TOKEN
from tests.connectors.test_sync_metrica import connect as connect_metrica
from tests.kassa_cli import run_kassa

from kassa.connectors import yandex_metrica
from kassa.connectors.messages import in_lang
from kassa.errors import ServiceError

REAUTH = {
    "en": ("Yandex Direct (connection 'd'):", "connection 'd' needs re-authorising: get a new token"),
    "ru": ("Yandex Direct (подключение 'd'):", "подключение 'd' нужно авторизовать заново: получите новый"),
}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_refused_token_says_which_connection_to_re_authorise_and_never_the_token(tmp_path, lang):
    db = tmp_path / "shop.duckdb"
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(db, fake.base_url)
        fake.token = "rotated-by-yandex"
        fake.echo_token_in_errors = True  # the answer repeats the token kassa sent
        r = run_kassa("sync", "d", *OCTOBER, "--db", db, "--lang", lang)
    assert r.returncode == 1
    where, what = REAUTH[lang]
    assert where in flat(r.stderr) and what in flat(r.stderr) and "error 53" in r.stderr
    assert "kassa connect yandex-direct --name d --token-stdin" in flat(r.stderr)
    assert TOKEN not in r.stdout + r.stderr and "***" in r.stderr


QUOTA = {
    "en": ("a Metrica quota is exhausted", "would pass the deadline of 1 s; sync again later"),
    "ru": ("исчерпана квота Metrica", "превысило бы предельное время 1 с; синхронизируйте позже"),
}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_quota_past_the_deadline_says_so_in_the_users_language(tmp_path, lang):
    db = tmp_path / "shop.duckdb"
    with fake_metrica(METRICA_TOKEN, polls=0) as fake:
        fake.fault("evaluate", (429, "quota_requests_by_uid"))
        connect_metrica(db, fake.base_url)
        r = run_kassa("sync", "m", *OCTOBER, "--db", db, "--deadline", "1", "--lang", lang)
    assert r.returncode == 1
    for part in QUOTA[lang]:
        assert part in flat(r.stderr), r.stderr
    assert "quota_requests_by_uid" in r.stderr  # what the server said stays as it came
    assert METRICA_TOKEN not in r.stdout + r.stderr


def test_not_a_counter_number_in_both_languages():
    account = yandex_metrica.Account(connection="m", token=METRICA_TOKEN, counter="shop")
    with pytest.raises(ServiceError) as exc:
        yandex_metrica.Client(account)
    assert str(exc.value) == in_lang(exc.value, "en")
    assert "counter 'shop' is not a counter number" in str(exc.value)
    ru = in_lang(exc.value, "ru")
    assert "Yandex Metrica (подключение 'm'): --counter: 'shop' — не номер счётчика" in ru
    assert "kassa connect yandex-metrica --counter НОМЕР" in ru
    assert COUNTER not in ru and METRICA_TOKEN not in ru
