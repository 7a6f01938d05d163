"""amoCRM API v4: the client and `kassa sync` against a fake amoCRM account (tests/connectors/fake_amocrm.py).

The Done-when of #19 for amoCRM: a sync through ``_links.next`` pages loads the leads and deals exactly
as importing the same API JSON as a file does; the same days synced again change nothing; the
single-use refresh token is rotated and saved, and two syncs at once refresh it once; 204, 429 and the
blocked account's HTML page are handled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.connectors.fake_amocrm import BLOCKED_PAGE, fake_amocrm
from tests.kassa_cli import run_kassa

from kassa.connectors import amocrm
from kassa.connectors.messages import in_lang
from kassa.connectors.oauth import Tokens
from kassa.errors import ServiceError
from kassa.store import Warehouse
from kassa.store.connections import Connections
from kassa.store.sync import amocrm_account, amocrm_keeper

MSK = ZoneInfo("Europe/Moscow")
SECRET = "amo-client-secret-9d1e"
LONG_LIVED = "eyJ0eXAiOiJKV1Qi.long-lived-amo-token"
CODE = "def50200-auth-code-77"
OCTOBER = ("--since", "2026-10-01", "--until", "2026-10-31")
OCT1, OCT31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def at(text: str) -> int:
    """Unix seconds of a Moscow wall-clock time."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=MSK).timestamp())


def cf(code: str | None, value: str, field_id: int = 1, ftype: str = "tracking_data") -> dict[str, Any]:
    return {"field_id": field_id, "field_name": code or "Поле", "field_code": code, "field_type": ftype,
            "values": [{"value": value}]}  # fmt: skip


def lead(ident: int, status: int, pipeline: int, price: int, created: str, updated: str,
         closed: str | None = None, fields: list[dict[str, Any]] | None = None,
         contacts: tuple[tuple[int, bool], ...] = (), **more: Any) -> dict[str, Any]:  # fmt: skip
    return {"id": ident, "name": f"Сделка #{ident}", "price": price, "responsible_user_id": 321123,
            "group_id": 0, "status_id": status, "pipeline_id": pipeline, "loss_reason_id": None,
            "created_by": 1, "updated_by": 1, "created_at": at(created), "updated_at": at(updated),
            "closed_at": at(closed) if closed else None, "closest_task_at": None, "is_deleted": False,
            "custom_fields_values": fields, "score": None, "account_id": 115135,
            "_links": {"self": {"href": f"https://shop.amocrm.ru/api/v4/leads/{ident}"}},
            "_embedded": {"tags": [], "companies": [],
                          "contacts": [{"id": c, "is_main": main} for c, main in contacts]},
            **more}  # fmt: skip


UTM_YANDEX = [cf("UTM_SOURCE", "yandex", 11), cf("UTM_MEDIUM", "cpc", 12), cf("UTM_CAMPAIGN", "555", 13),
              cf("_YM_UID", "1700000000123456789", 14)]  # fmt: skip
LEADS = [
    lead(101, 142, 1113, 25000, "2026-10-02T10:00", "2026-10-05T15:00", "2026-10-05T15:00", UTM_YANDEX,
         ((1, True), (2, False))),
    lead(102, 143, 1113, 10000, "2026-10-03T11:00", "2026-10-06T09:00", "2026-10-06T09:00",
         [cf("UTM_SOURCE", "vk", 11)], ((3, True),)),
    # A field type the parser has never seen (§3.5: "Unprocessable field type") passes by.
    lead(103, 2031, 1113, 5000, "2026-10-10T12:00", "2026-10-12T12:00", None,
         [cf(None, "2026-10-20", 99, "some_new_type"), cf("UTM_SOURCE", "yandex", 11)], ((1, True),)),
    lead(104, 2030, 1113, 0, "2026-10-20T08:00", "2026-10-20T08:30"),
    # The other pipeline's "Переговоры" has an id of its own; the price with kopecks wins.
    lead(105, 3001, 2200, 1234, "2026-10-25T18:00", "2026-10-31T23:30", None, None, ((3, True),),
         price_with_minor_units=1234.5),
    # Ten past midnight on 1 November in Moscow (still 31 October in UTC): not October's.
    lead(106, 142, 1113, 999, "2026-10-30T10:00", "2026-11-01T00:10", "2026-11-01T00:10"),
]  # fmt: skip
PHONE1, EMAIL1 = "+7 (916) 123-45-67", "Anna@Example.ru"
CONTACTS = [
    {"id": 1, "name": "Анна", "custom_fields_values": [
        {"field_id": 21, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": PHONE1, "enum_code": "WORK"}]},
        {"field_id": 22, "field_name": "Email", "field_code": "EMAIL", "field_type": "multitext",
         "values": [{"value": EMAIL1, "enum_code": "WORK"}]},
        {"field_id": 23, "field_name": "Должность", "field_code": "POSITION", "field_type": "text",
         "values": [{"value": "директор"}]}]},
    {"id": 2, "name": "Борис", "custom_fields_values": [
        {"field_id": 21, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
         "values": [{"value": "+79990000002"}]}]},
    {"id": 3, "name": "Вера", "custom_fields_values": None},
]  # fmt: skip
PIPELINES = [
    {"id": 1113, "name": "Продажи", "_embedded": {"statuses": [
        {"id": 2030, "name": "Первичный контакт", "pipeline_id": 1113},
        {"id": 2031, "name": "Переговоры", "pipeline_id": 1113},
        {"id": 142, "name": "Успешно реализовано", "pipeline_id": 1113},
        {"id": 143, "name": "Закрыто и не реализовано", "pipeline_id": 1113}]}},
    {"id": 2200, "name": "Опт", "_embedded": {"statuses": [
        {"id": 3001, "name": "Переговоры", "pipeline_id": 2200},
        {"id": 142, "name": "Успешно реализовано", "pipeline_id": 2200},
        {"id": 143, "name": "Закрыто и не реализовано", "pipeline_id": 2200}]}},
]  # fmt: skip
# The user's mapping, by stage names as the UI export shows them.
BY_NAME = (
    'stages:\n  "Первичный контакт": {lead: new, deal: none}\n  "Переговоры": {lead: qualified, deal: open}\n'
)
# The same for a file of API JSON, whose stages are ids.
BY_ID = "stages:\n  2030: {lead: new, deal: none}\n  2031: {lead: qualified}\n  3001: {lead: qualified}\n"


def account(**data: Any) -> dict[str, Any]:
    return dict(leads=LEADS, contacts=CONTACTS, pipelines=PIPELINES, **data)


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s


def token_client(f, vt: VirtualTime, token: str = LONG_LIVED, **timing: Any) -> amocrm.Client:
    acc = amocrm.Account("crm", f.base_url, "shop.amocrm.ru", token=token)
    return amocrm.Client(acc, None, dataclasses.replace(amocrm.Timing(), **timing), clock=vt.clock,
                         sleep=vt.sleep, rng=random.Random(5))  # fmt: skip


def connect_token(db: Path, base_url: str, *extra: Any) -> None:
    r = run_kassa("connect", "amocrm", "--name", "crm", "--subdomain", "shop", "--token-stdin",
                  "--base-url", base_url, *extra, "--db", db, stdin=LONG_LIVED + "\n")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def connect_oauth(db: Path, f, *extra: Any) -> None:
    f.codes.add(CODE)
    r = run_kassa("connect", "amocrm", "--name", "crm", "--subdomain", "shop", "--client-id", f.client_id,
                  "--client-secret-stdin", "--auth-code", CODE, "--redirect-uri", f.redirect_uri,
                  "--base-url", f.base_url, *extra, "--db", db, stdin=SECRET + "\n")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert SECRET not in r.stdout + r.stderr and CODE not in r.stdout + r.stderr


def rows(db: Path, table: str) -> list[tuple]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh._db.execute(f"SELECT * EXCLUDE (batch_id) FROM {table} ORDER BY 1").fetchall()


def fingerprint(db: Path) -> dict[str, Any]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.fingerprint()


def flat(text: str) -> str:
    return " ".join(text.split())


def with_contact_fields(x: dict[str, Any]) -> dict[str, Any]:
    """A lead as an export with its contacts' phones and e-mails in it would hold it (by hand)."""
    fields = {
        1: [CONTACTS[0]["custom_fields_values"][0], CONTACTS[0]["custom_fields_values"][1]],
        2: [CONTACTS[1]["custom_fields_values"][0]],
        3: [],
    }
    contacts = [dict(c, custom_fields_values=fields[c["id"]]) for c in x["_embedded"]["contacts"]]
    return dict(x, _embedded=dict(x["_embedded"], contacts=contacts))


# -- the client ---------------------------------------------------------------------------------------


def test_every_page_is_followed_by_links_next_with_the_documented_filter_and_contacts():
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED, page_size=2)) as f:
        body, statuses = token_client(f, vt).export(OCT1, OCT31)
        leads_asked = f.requests("/api/v4/leads")
        contacts_asked = f.requests("/api/v4/contacts")
    first = leads_asked[0]
    assert (
        first["limit"] == ["250"] and first["with"] == ["contacts"] and first["order[updated_at]"] == ["asc"]
    )
    assert first["filter[updated_at][from]"] == [str(at("2026-10-01T00:00"))]
    assert first["filter[updated_at][to]"] == [str(at("2026-11-01T00:00") - 1)]
    assert [q.get("page") for q in leads_asked] == [None, ["2"], ["3"]]  # five October leads, two a page
    ids = {"limit": ["250"], "filter[id][]": ["1", "2", "3"]}
    assert contacts_asked == [ids, dict(ids, page=["2"])]  # the contacts' pages followed too
    assert statuses["3001"] == "Переговоры" and statuses["2030"] == "Первичный контакт"
    page = json.loads(body)
    got = page["_embedded"]["leads"]
    assert [x["id"] for x in got] == [101, 102, 103, 104, 105]
    # Only the phone and e-mail of a contact are kept, where the reader looks for them.
    assert got[0]["_embedded"]["contacts"] == [
        {"id": 1, "is_main": True, "custom_fields_values": CONTACTS[0]["custom_fields_values"][:2]},
        {"id": 2, "is_main": False, "custom_fields_values": CONTACTS[1]["custom_fields_values"]},
    ]
    assert "директор" not in body.decode()


def test_no_more_than_seven_requests_a_second():
    vt = VirtualTime()
    many = [lead(500 + i, 142, 1113, 100, "2026-10-02T10:00", f"2026-10-{i + 2:02d}T10:00", "2026-10-03T10:00")
            for i in range(12)]  # fmt: skip
    with fake_amocrm(leads=many, pipelines=PIPELINES, long_lived=LONG_LIVED, page_size=1) as f:
        client = token_client(f, vt)
        got = json.loads(client.export(OCT1, OCT31)[0])["_embedded"]["leads"]
    assert len(got) == 12 and client.stats.requests == 13  # pipelines, twelve pages; no contacts
    # Seven in the first second; the 8th waits the second out, and the other five fit the next one.
    assert vt.waits == [1.0]


def test_204_with_no_body_is_no_leads_not_an_error():
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        body, _ = token_client(f, vt).export(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert json.loads(body) == {"_embedded": {"leads": []}}
    assert f.requests("/api/v4/contacts") == []


def test_429_with_a_plain_text_body_backs_off_and_asks_again():
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        f.fault(
            (429, b"Too Many Requests", "text/plain"),
            (429, b"", ""),
            (502, b"<html>Bad Gateway</html>", "text/html"),
        )
        body, _ = token_client(f, vt, backoff=1.0).export(OCT1, OCT31)
    assert len(json.loads(body)["_embedded"]["leads"]) == 5
    assert len([w for w in vt.waits if w >= 0.5]) == 3  # two back-offs for the 429s, one for the 502


def test_the_html_page_of_a_blocked_account_stops_the_sync_with_a_clear_error():
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f, pytest.raises(ServiceError) as e:
        f.fault((403, BLOCKED_PAGE, "text/html; charset=utf-8"))
        token_client(f, vt).export(OCT1, OCT31)
    text = str(e.value)
    assert (
        text.startswith("amoCRM (connection 'crm'): GET ") and "/api/v4/leads/pipelines (pipelines)" in text
    )
    assert "HTTP 403: an HTML page instead of JSON, as amoCRM shows for a blocked or unpaid account" in text
    assert "Аккаунт заблокирован" in text and "color:red" not in text
    assert len(f.log) == 1  # not retried
    assert "заблокированному или неоплаченному" in in_lang(e.value, "ru")


def test_a_next_link_to_another_host_is_refused_and_the_token_not_sent_there():
    vt = VirtualTime()
    elsewhere = account(long_lived=LONG_LIVED, page_size=2, next_elsewhere=True)
    with fake_amocrm(**elsewhere) as f, pytest.raises(ServiceError) as e:
        token_client(f, vt).export(OCT1, OCT31)
    assert "is not on the account's host; refused" in str(e.value) and "elsewhere.example" in str(e.value)


def test_a_refused_long_lived_token_names_the_connection_and_never_the_token():
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived="another")) as f, pytest.raises(ServiceError) as e:
        token_client(f, vt).export(OCT1, OCT31)
    text = flat(str(e.value))
    assert "connection 'crm' needs re-authorising: make a new long-lived token" in text
    assert "kassa connect amocrm --name crm --subdomain shop.amocrm.ru --token-stdin" in text
    assert LONG_LIVED not in text and len(f.log) == 1


# -- tokens -------------------------------------------------------------------------------------------


def expire(db: Path) -> dict[str, Any]:
    """Make the saved access token one that has expired (as a day later); the saved pair."""
    path = db.with_name(db.name + ".secrets.json")
    data = json.loads(path.read_text())
    data["oauth"]["crm"]["expires_at"] = 1.0  # 1970: long gone
    path.write_text(json.dumps(data))
    pair: dict[str, Any] = data["oauth"]["crm"]
    return pair


def test_connect_exchanges_the_code_and_a_refresh_rotates_the_pair_saved_at_once(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account()) as f:
        connect_oauth(db, f)
        exchange = [q for method, p, q, _ in f.log if method == "POST"]
        assert exchange == [{"client_id": [f.client_id], "client_secret": [SECRET], "redirect_uri": [f.redirect_uri],
                             "grant_type": ["authorization_code"], "code": [CODE]}]  # fmt: skip
        settings = (tmp_path / "shop.duckdb.connections.json").read_text()
        assert SECRET not in settings and "acc-1" not in settings and "ref-1" not in settings
        first = Connections(db).oauth("crm")
        assert first and first["refresh_token"] == "ref-1-p2Lw"
        old = expire(db)
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        saved = Connections(db).oauth("crm")
        assert saved is not None and saved["refresh_token"] == "ref-2-p2Lw" and saved["expires_at"] > 0
        assert old["refresh_token"] not in f.refresh  # the old one is spent
        refreshes = [
            q for method, p, q, _ in f.log if method == "POST" and q["grant_type"] == ["refresh_token"]
        ]
        assert [q["refresh_token"] for q in refreshes] == [["ref-1-p2Lw"]]
        assert {a for method, p, q, a in f.log if method == "GET"} == {"Bearer acc-2-x8Kq"}
    out = r.stdout + r.stderr
    for secret in (SECRET, "acc-2-x8Kq", "ref-2-p2Lw", "ref-1-p2Lw"):
        assert secret not in out
    with Warehouse.open(db, read_only=True) as wh:
        dumped = json.dumps([list(map(str, b.values())) for b in wh.batches()])
    assert SECRET not in dumped and "ref-2" not in dumped


def test_two_syncs_at_once_refresh_the_single_use_token_once(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account(refresh_delay=0.2)) as f:
        connect_oauth(db, f)
        expire(db)
        conns = Connections(db)
        conn = conns.get("crm")
        clients = [amocrm.Client(amocrm_account(conn, conns.token(conn)), amocrm_keeper(conns, "crm"))
                   for _ in range(2)]  # fmt: skip
        assert clients[0].tokens == clients[1].tokens  # both start from the same saved (expired) pair
        results: list[Any] = [None, None]

        def run(i: int) -> None:
            try:
                results[i] = json.loads(clients[i].export(OCT1, OCT31)[0])["_embedded"]["leads"]
            except Exception as exc:  # noqa: BLE001 (the assertion below shows it)
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        refreshes = [
            q for method, p, q, _ in f.log if method == "POST" and q["grant_type"] == ["refresh_token"]
        ]
    assert [len(r) for r in results] == [5, 5], results
    assert len(refreshes) == 1  # the second took the first's new pair after the lock
    assert sorted(c.refreshed for c in clients) == [0, 1]
    assert Connections(db).oauth("crm")["refresh_token"] == "ref-2-p2Lw"  # type: ignore[index]
    assert f.refresh == {"ref-2-p2Lw"}


def test_a_second_refresh_after_the_lock_uses_the_pair_another_sync_saved(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account()) as f:
        connect_oauth(db, f)
        expire(db)
        conns = Connections(db)
        conn = conns.get("crm")
        late = amocrm.Client(amocrm_account(conn, conns.token(conn)), amocrm_keeper(conns, "crm"))
        assert run_kassa("sync", "crm", *OCTOBER, "--db", db).returncode == 0  # refreshes: ref-1 is spent
        # `late` still holds the old, expired pair in memory: it must not send the spent ref-1.
        assert len(json.loads(late.export(OCT1, OCT31)[0])["_embedded"]["leads"]) == 5
    assert late.refreshed == 0 and late.tokens == Tokens.from_json(Connections(db).oauth("crm"))


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "amoCRM (connection 'crm'): POST"),
        ("ru", "amoCRM (подключение 'crm'): POST"),
    ],
)
def test_a_revoked_refresh_token_says_which_connection_to_re_authorise(tmp_path, lang, said):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account()) as f:
        connect_oauth(db, f)
        expire(db)
        f.refresh.clear()  # spent elsewhere, or three months unused
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--lang", lang)
    err = flat(r.stderr)
    assert r.returncode == 1 and said in err and "/oauth2/access_token (token refresh)" in err
    assert (
        "HTTP 401 Некорректный запрос — В запросе отсутствует ряд параметров или параметры невалидны — Token has been revoked"
        in err
    )
    if lang == "en":
        assert "connection 'crm' needs re-authorising: make a new authorization code" in err
        assert "kassa connect amocrm --name crm --subdomain shop.amocrm.ru --client-id client-7f3a" in err
    else:
        assert "подключение 'crm' нужно авторизовать заново: получите новый код авторизации" in err
    for secret in (SECRET, "ref-1-p2Lw", "acc-1-x8Kq"):
        assert secret not in r.stdout + r.stderr
    assert not db.exists() or rows(db, "leads") == []


def test_connect_refuses_a_used_code_and_saves_nothing(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account()) as f:
        r = run_kassa("connect", "amocrm", "--name", "crm", "--subdomain", "shop", "--client-id", f.client_id,
                      "--client-secret-stdin", "--auth-code", "used-code", "--redirect-uri", f.redirect_uri,
                      "--base-url", f.base_url, "--db", db, stdin=SECRET + "\n")  # fmt: skip
    assert r.returncode == 2 and "Authorization code has been revoked" in flat(r.stderr)
    assert SECRET not in r.stdout + r.stderr
    assert not (tmp_path / "shop.duckdb.connections.json").exists()


# -- kassa sync: the warehouse ------------------------------------------------------------------------


def test_a_sync_loads_leads_and_deals_exactly_as_importing_the_same_json(tmp_path):
    synced, imported = tmp_path / "synced.duckdb", tmp_path / "imported.duckdb"
    # One warehouse copied twice: the same key, so the phones' and e-mails' keyed hashes compare.
    Warehouse.open(synced).close()
    shutil.copy(synced, imported)
    (tmp_path / "by-name.yaml").write_text(BY_NAME, encoding="utf-8")
    (tmp_path / "by-id.yaml").write_text(BY_ID, encoding="utf-8")
    with fake_amocrm(**account(long_lived=LONG_LIVED, page_size=2)) as f:
        connect_token(synced, f.base_url, "--mapping", tmp_path / "by-name.yaml")
        r = run_kassa("sync", "crm", *OCTOBER, "--db", synced, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["connections"][0]
    assert summary["ok"] and summary["rows"] == {"leads": 5, "deals": 4} and summary["warnings"] == []
    assert summary["requests"] == 6  # pipelines, three pages of leads, two of contacts
    # The same leads as a file: the API's JSON with the contacts' phones and e-mails in it.
    export = tmp_path / "amocrm-leads.json"
    export.write_text(json.dumps({"_embedded": {"leads": [with_contact_fields(x) for x in LEADS[:5]]}},
                                 ensure_ascii=False), encoding="utf-8")  # fmt: skip
    r = run_kassa("import", export, "--mapping", tmp_path / "by-id.yaml", "--db", imported)
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(synced, "leads") == rows(imported, "leads")
    assert rows(synced, "deals") == rows(imported, "deals")
    assert fingerprint(synced) == fingerprint(imported)
    # Hand-computed: statuses from 142/143 and the mapping by name, money as the API gives it.
    with Warehouse.open(synced, read_only=True) as wh:
        leads = wh._db.execute("SELECT lead_id, status, utm_source, utm_campaign, client_id, customer_id, "
                               "phone_hash IS NOT NULL, email_hash IS NOT NULL, phone, email FROM leads ORDER BY 1").fetchall()  # fmt: skip
        deals = wh._db.execute("SELECT deal_id, status, amount, closed_at FROM deals ORDER BY 1").fetchall()
        stored = json.dumps(wh._db.execute("SELECT * FROM leads").fetchall(), default=str)
    assert leads == [  # the main contact's phone and e-mail, as keyed hashes only
        (
            "amo:101",
            "qualified",
            "yandex",
            "555",
            "1700000000123456789",
            "amo:contact:1",
            True,
            True,
            None,
            None,
        ),
        ("amo:102", "qualified", "vk", None, None, "amo:contact:3", False, False, None, None),
        ("amo:103", "qualified", "yandex", None, None, "amo:contact:1", True, True, None, None),
        ("amo:104", "new", None, None, None, None, False, False, None, None),
        ("amo:105", "qualified", None, None, None, "amo:contact:3", False, False, None, None),
    ]
    assert [(d[0], d[1], d[2]) for d in deals] == [
        ("amo:101", "won", 25000.0), ("amo:102", "lost", 10000.0), ("amo:103", "open", 5000.0),
        ("amo:105", "open", 1234.5),
    ]  # fmt: skip
    assert deals[0][3] is not None and deals[2][3] is None
    assert sum(d[2] for d in deals if d[1] == "won") == 25000.0
    # Phones and e-mails only as keyed hashes; the token nowhere.
    assert "916" not in stored and "anna" not in stored.lower() and LONG_LIVED not in stored


def test_the_same_days_synced_again_change_nothing_and_undo_takes_the_sync_back(tmp_path):
    db = tmp_path / "shop.duckdb"
    (tmp_path / "by-name.yaml").write_text(BY_NAME, encoding="utf-8")
    with fake_amocrm(**account(long_lived=LONG_LIVED, page_size=2)) as f:
        connect_token(db, f.base_url, "--mapping", tmp_path / "by-name.yaml")
        assert (
            run_kassa("sync", "crm", "--since", "2026-10-01", "--until", "2026-10-10", "--db", db).returncode
            == 0
        )
        assert [r[0] for r in rows(db, "leads")] == ["amo:101", "amo:102"]
        assert run_kassa("sync", "crm", *OCTOBER, "--db", db).returncode == 0
        after = fingerprint(db)
        # An overlapping sync and the same month again: nothing changes.
        assert (
            run_kassa("sync", "crm", "--since", "2026-10-05", "--until", "2026-10-31", "--db", db).returncode
            == 0
        )
        again = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--json")
        assert fingerprint(db) == after
        summary = json.loads(again.stdout)["connections"][0]
        assert summary["already_imported_as"] is not None and len(summary["batch_ids"]) == 2
        # A lead moved on in amoCRM replaces its old state, by its id.
        f.leads = [dict(LEADS[2], status_id=142, closed_at=at("2026-10-30T10:00"), updated_at=at("2026-10-30T10:00")),
                   *[x for x in LEADS if x["id"] != 103]]  # fmt: skip
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--json")
    moved = json.loads(r.stdout)["connections"][0]
    assert moved["rows"] == {"leads": 5, "deals": 4} and moved["rows_replaced"] == 9
    assert ("amo:103", "won") in [(d[0], d[3]) for d in rows(db, "deals")]
    with Warehouse.open(db) as wh:
        for batch in moved["batch_ids"][::-1]:
            wh.undo(batch)
    assert fingerprint(db) == after


def test_a_quiet_period_syncs_and_moves_the_cursor(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        connect_token(db, f.base_url)
        r = run_kassa("sync", "crm", "--since", "2026-09-01", "--until", "2026-09-30", "--db", db, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["connections"][0]
    assert summary["ok"] and summary["rows"] == {"leads": 0, "deals": 0}
    conn = json.loads((tmp_path / "shop.duckdb.connections.json").read_text())["connections"]["crm"]
    assert conn["synced_through"] == "2026-09-30" and conn["options"] == {"subdomain": "shop.amocrm.ru"}


def test_a_lead_the_reader_refuses_fails_the_sync_and_loads_nothing(tmp_path):
    db = tmp_path / "shop.duckdb"
    bad = [dict(LEADS[0], price="двадцать"), *LEADS[1:]]
    with fake_amocrm(**dict(account(long_lived=LONG_LIVED), leads=bad)) as f:
        connect_token(db, f.base_url)
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db)
    assert r.returncode == 1 and "nothing was loaded" in flat(r.stderr)
    assert rows(db, "leads") == [] and rows(db, "deals") == []
    conn = json.loads((tmp_path / "shop.duckdb.connections.json").read_text())["connections"]["crm"]
    assert conn["synced_through"] is None


def test_an_unknown_stage_is_a_warning_naming_it(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        connect_token(db, f.base_url)  # no mapping: 2030, 2031 and 3001 are nobody's
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--json")
    warnings = json.loads(r.stdout)["connections"][0]["warnings"]
    assert r.returncode == 0 and len(warnings) == 3 and "stage not in the stage mapping" in warnings[0]
    # Named by the lead's place among those synced (103 is the third), not a line of a staged file.
    assert "[JSON record 3]" in warnings[0] and "'2031'" in warnings[0]


def test_connect_checks_the_subdomain_and_the_oauth_options(tmp_path):
    db = tmp_path / "shop.duckdb"
    r = run_kassa("connect", "amocrm", "--name", "crm", "--subdomain", "shop/../x", "--token-stdin", "--db", db,
                  stdin=LONG_LIVED + "\n")  # fmt: skip
    assert r.returncode == 2 and "--subdomain shop" in flat(r.stderr)
    r = run_kassa("connect", "amocrm", "--name", "crm", "--subdomain", "shop", "--client-id", "x",
                  "--client-secret-stdin", "--db", db, stdin=SECRET + "\n")  # fmt: skip
    assert r.returncode == 2 and "--auth-code" in flat(r.stderr) and SECRET not in r.stdout + r.stderr
    assert amocrm.account_host("Shop.Kommo.com") == "shop.kommo.com"
    assert amocrm.account_host("https://shop.amocrm.ru/") == "shop.amocrm.ru"


def test_an_access_token_refused_mid_sync_is_refreshed_once_and_the_sync_goes_on(tmp_path):
    db = tmp_path / "shop.duckdb"
    with fake_amocrm(**account()) as f:
        connect_oauth(db, f)
        f.access.clear()  # revoked in amoCRM before its 24 hours were up
        r = run_kassa("sync", "crm", *OCTOBER, "--db", db, "--json")
        refreshes = [
            q for method, p, q, _ in f.log if method == "POST" and q["grant_type"] == ["refresh_token"]
        ]
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["connections"][0]["rows"] == {"leads": 5, "deals": 5}  # no mapping: 104 too
    assert len(refreshes) == 1 and Connections(db).oauth("crm")["refresh_token"] == "ref-2-p2Lw"  # type: ignore[index]


def test_a_lead_met_on_two_pages_is_kept_once_in_its_latest_state():
    """Pages shift while leads are edited: 101 moved on (won) after page 1 showed it, and page 2
    shows it again, older; the latest state wins, wherever it came."""
    vt = VirtualTime()
    won, talking = LEADS[0], dict(LEADS[0], status_id=2031, updated_at=LEADS[0]["updated_at"] - 3600)
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        nxt = f"{f.base_url}/api/v4/leads?limit=250&page=2"

        def page(leads: list[dict[str, Any]], more: bool) -> tuple[int, bytes, str]:
            links = {"next": {"href": nxt}} if more else {}
            return (
                200,
                json.dumps({"_links": links, "_embedded": {"leads": leads}}).encode(),
                "application/hal+json",
            )

        pipelines = json.dumps({"_embedded": {"pipelines": PIPELINES}}).encode()
        f.fault((200, pipelines, "application/hal+json"), page([won], True), page([talking, LEADS[1]], False))
        got = json.loads(token_client(f, vt).export(OCT1, OCT31)[0])["_embedded"]["leads"]
    assert [(x["id"], x["status_id"]) for x in got] == [(101, 142), (102, 143)]


def test_a_load_failing_at_its_deals_leaves_no_leads_either(tmp_path):
    """One sync, one transaction: when the second table (deals) cannot be written, the first (leads)
    is taken back with it — nothing half-loaded."""
    db = tmp_path / "shop.duckdb"
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        body, _ = token_client(f, vt).export(OCT1, OCT31)
    staged = tmp_path / "crm.json"
    staged.write_bytes(body)
    with Warehouse.open(db) as wh:
        before = wh.fingerprint()
        _, results = wh.read_file(staged, format="amocrm")
        leads, deals = (r.rows for r in results)
        broken = deals.drop_columns(["amount"])  # a deals table the warehouse cannot take
        with pytest.raises(Exception, match="amount"):
            wh.load_fetched_all(
                "crm (amoCRM) 2026-10-01..2026-10-31", "amocrm", [("leads", leads), ("deals", broken)]
            )
        assert wh.fingerprint() == before and wh.batches() == []
        assert len(wh.load_fetched_all("crm", "amocrm", [("leads", leads), ("deals", deals)])) == 2


def test_a_sync_handed_to_a_running_dashboard_loads_both_tables(tmp_path):
    """The server's side of a handed-over sync (store/handoff.py, job ``sync``): the answer carries
    the leads batch and the deals batch, as `kassa sync` then shows them."""
    from kassa.store import handoff
    from kassa.store.sync import stage

    db = tmp_path / "shop.duckdb"
    vt = VirtualTime()
    with fake_amocrm(**account(long_lived=LONG_LIVED)) as f:
        connect_token(db, f.base_url)
        body, statuses = token_client(f, vt).export(OCT1, OCT31)
    conn = Connections(db).get("crm")
    report, options = stage(conn, body, tmp_path, amocrm.reader_mapping(amocrm.CrmMapping(), statuses))
    job = {"op": "sync", "file": str(report), "options": str(options), "format": "amocrm", "origin": "crm"}
    with Warehouse.open(db) as wh:
        answer = json.loads(json.dumps(handoff.run(wh, job)))  # as it crosses the socket
    files = handoff.report_from(answer).files
    assert [(b.kind, b.rows_loaded) for b in files] == [("leads", 5), ("deals", 5)]


def test_another_connections_pair_saved_meanwhile_waits_for_the_refresh_and_keeps_it(tmp_path):
    """Every write of the secrets file takes its lock: a VK pair saved while an amoCRM refresh holds
    it waits, then keeps amoCRM's new pair instead of writing back the copy it would have read before."""
    db = tmp_path / "shop.duckdb"
    conns = Connections(db)
    conns.save_oauth("crm", {"access_token": "acc-1", "refresh_token": "ref-1", "expires_at": 1.0})
    saver = threading.Thread(target=lambda: Connections(db).save_oauth("vk", {"access_token": "vk-2"}))
    with conns.locked():
        saver.start()
        saver.join(0.3)
        assert saver.is_alive()  # waiting for the lock, not writing from a stale copy
        conns.save_oauth("crm", {"access_token": "acc-2", "refresh_token": "ref-2", "expires_at": 2.0})
    saver.join(10)
    assert conns.oauth("crm") == {"access_token": "acc-2", "refresh_token": "ref-2", "expires_at": 2.0}
    assert conns.oauth("vk") == {"access_token": "vk-2"}
