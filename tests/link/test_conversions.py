"""Offline conversions on a hand-made company: which records go to each platform, with which identifier,
and why the others do not; then uploads through fake Google Ads and Meta endpoints.

October 2026, Moscow time. Visits: V1 Metrica cookie + yclid:111; V2 a GA4 cookie (``333.444``, not a
Metrica ClientID) + gclid:AbC-123; V3 a Metrica cookie + fbclid:IwAR0xyz; V4 a GA4 cookie, no click.
Leads: L1→V1, L2→V2, L3→V3 (and its own fbclid), L4→V4 (status new), L5 no cookie but its own yclid:222,
L6 in September. Deals: D1 (L1, 10 000), D2 (L2, 20 000), D3 (L3, 30 000), D5 (L5, 5 000) won in
October; D4 (L4) lost; D6 (L1) won in November.

By hand — sale / metrica: D1 ClientId, D3 ClientId, D5 Yclid; D2 skipped (no Metrica id).
sale / google-ads: D2; the other three skipped. sale / meta: D3 with fbc = fb.1.<V3's time in ms>.IwAR0xyz.
qualified_lead / metrica: L1, L3 (ClientId), L5 (Yclid); L2 skipped; L4 is not qualified, L6 not October.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable

from tests.connectors.fake_ad_conversions import fake_ad_conversions
from tests.kassa_cli import run_kassa

from kassa.connectors import meta_conversions, metrica_conversions
from kassa.link.conversions import build, normalise_email, normalise_phone, to_row
from kassa.link.money_trail import MoneyTrail
from kassa.period import Period
from kassa.settings import Settings
from kassa.store import Warehouse
from kassa.store.connections import Connection, Connections

FILES = {
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign,click_id
        V1,1700000000123456789,2026-10-02 09:00:00,yandex,cpc,ya,yclid:111
        V2,333.444,2026-10-03 10:00:00,google,cpc,g,gclid:AbC-123
        V3,1700000000999000111,2026-10-04 11:00:00,facebook,cpc,fb,fbclid:IwAR0xyz
        V4,555.666,2026-10-05 12:00:00,google,cpc,g,
    """,
    "leads.csv": """
        lead_id,created_at,client_id,status,click_id
        L1,2026-10-02 09:10:00,1700000000123456789,qualified,
        L2,2026-10-03 10:05:00,333.444,qualified,
        L3,2026-10-04 11:30:00,1700000000999000111,qualified,fbclid:IwAR0xyz
        L4,2026-10-05 12:30:00,555.666,new,
        L5,2026-10-06 13:00:00,,qualified,yclid:222
        L6,2026-09-20 10:00:00,1700000000123456789,qualified,
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount
        D1,L1,2026-10-02 10:00:00,won,2026-10-10 12:00:00,10000
        D2,L2,2026-10-03 11:00:00,won,2026-10-11 12:00:00,20000
        D3,L3,2026-10-04 12:00:00,won,2026-10-12 12:00:00,30000
        D4,L4,2026-10-05 13:00:00,lost,2026-10-13 12:00:00,40000
        D5,L5,2026-10-06 14:00:00,won,2026-10-13 12:00:00,5000
        D6,L1,2026-10-20 10:00:00,won,2026-11-02 12:00:00,7000
    """,
}
OCT = Period.parse("2026-10")


def _utc(day: int, hour: int) -> int:
    """Unix seconds of 2026-10-<day> <hour>:00 Moscow time (UTC+3 all year)."""
    return int(dt.datetime(2026, 10, day, hour - 3, tzinfo=dt.UTC).timestamp())


def _wh(make_warehouse: Callable[..., Warehouse]) -> Warehouse:
    return make_warehouse(FILES, Settings())


def test_sales_each_platform_gets(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = _wh(make_warehouse)
    trail = MoneyTrail(wh)
    m = build(wh, trail, "sale", "metrica", OCT)
    assert [(c.record, c.id_type, c.id_value, c.unix, c.value) for c in m.items] == [
        ("D1", "CLIENT_ID", "1700000000123456789", _utc(10, 12), 10000.0),
        ("D3", "CLIENT_ID", "1700000000999000111", _utc(12, 12), 30000.0),
        ("D5", "YCLID", "222", _utc(13, 12), 5000.0),
    ]
    assert dict(m.skipped) == {"no_metrica_id": 1}
    g = build(wh, trail, "sale", "google-ads", OCT)
    assert [(c.record, c.id_value) for c in g.items] == [("D2", "AbC-123")]  # a gclid keeps its case
    assert dict(g.skipped) == {"no_gclid": 3}
    f = build(wh, trail, "sale", "meta", OCT)
    v3_ms = _utc(4, 11) * 1000
    assert [(c.record, c.id_value) for c in f.items] == [("D3", f"fb.1.{v3_ms}.IwAR0xyz")]
    assert dict(f.skipped) == {"no_fbclid": 3}
    q = build(wh, trail, "qualified_lead", "metrica", OCT)
    assert [(c.record, c.id_type) for c in q.items] == [
        ("L1", "CLIENT_ID"),
        ("L3", "CLIENT_ID"),
        ("L5", "YCLID"),
    ]
    assert dict(q.skipped) == {"no_metrica_id": 1} and all(c.value is None for c in q.items)


def test_metrica_files(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = _wh(make_warehouse)
    rows = [to_row(c, "order_paid") for c in build(wh, MoneyTrail(wh), "sale", "metrica", OCT).items]
    assert metrica_conversions.csv_text(rows, "CLIENT_ID").splitlines() == [
        "ClientId,Target,DateTime,Price,Currency",
        f"1700000000123456789,order_paid,{_utc(10, 12)},10000,RUB",
        f"1700000000999000111,order_paid,{_utc(12, 12)},30000,RUB",
    ]
    assert metrica_conversions.csv_text(rows, "YCLID").splitlines() == [
        "Yclid,Target,DateTime,Price,Currency",
        f"222,order_paid,{_utc(13, 12)},5000,RUB",
    ]


def test_meta_normalisation() -> None:
    assert normalise_email("  Anna.Petrova@Mail.RU ") == "anna.petrova@mail.ru"
    assert normalise_phone("8 (900) 111-11-11") == "79001111111"
    assert normalise_phone("+7 900 111 11 11") == "79001111111"
    assert normalise_phone("12-34") is None
    e = {"key": "sale:D9", "id_type": "EMAIL_PHONE", "id_value": "", "unix": 1, "value": 5.0, "currency": "RUB",
         "hashed_email": hashlib.sha256(b"a@b.ru").hexdigest(), "hashed_phone": None}  # fmt: skip
    assert meta_conversions.event(e, "sale")["user_data"] == {"em": [e["hashed_email"]]}


GOOGLE_SECRET = {
    "developer_token": "dev-TOKEN-9",
    "client_secret": "cs-SECRET-8",
    "refresh_token": "rt-REFRESH-7",
}
META_TOKEN = "EAAB-meta-secret-6"


def test_google_and_meta_uploads_count_once(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = _wh(make_warehouse)
    db = wh.path
    wh.close()
    with fake_ad_conversions(
        developer_token=GOOGLE_SECRET["developer_token"], client_id="cid.apps", client_secret=GOOGLE_SECRET["client_secret"],
        refresh_token=GOOGLE_SECRET["refresh_token"], meta_token=META_TOKEN,
    ) as fake:  # fmt: skip
        conns = Connections(db)
        conns.save(
            Connection(
                "g", "google-ads", {"customer_id": fake.customer, "client_id": "cid.apps"}, fake.base_url
            ),
            json.dumps(GOOGLE_SECRET),
        )
        conns.save(
            Connection("fb", "meta-ads", {"account": "42", "pixel": fake.pixel}, fake.base_url), META_TOKEN
        )
        google = ("conversions", "--db", db, "--goal", "sale", "--platform", "google-ads", "--period", "2026-10",
                  "--upload", "g", "--action", "987", "--json")  # fmt: skip
        meta = ("conversions", "--db", db, "--goal", "sale", "--platform", "meta", "--period", "2026-10",
                "--upload", "fb", "--json")  # fmt: skip
        outs = [run_kassa(*google), run_kassa(*google), run_kassa(*meta), run_kassa(*meta)]
        for o in outs:
            assert o.returncode == 0, o.stderr
        sent = [json.loads(o.stdout) for o in outs]
        assert [(s["sent"], s["already_sent"]) for s in sent] == [(1, 0), (0, 1), (1, 0), (0, 1)]
        assert list(fake.counted) == ["sale:D2"]
        c = fake.counted["sale:D2"]
        assert c["conversionAction"] == f"customers/{fake.customer}/conversionActions/987"
        assert c["conversionDateTime"] == "2026-10-11 12:00:00+03:00" and c["conversionValue"] == 20000.0
        assert list(fake.events) == ["sale:D3"]
        ev = fake.events["sale:D3"]
        assert ev["event_name"] == "Purchase" and ev["event_time"] == _utc(12, 12)
        assert ev["custom_data"] == {"value": 30000.0, "currency": "RUB"}
        assert ev["action_source"] == "system_generated"
        secrets = [*GOOGLE_SECRET.values(), META_TOKEN]
        for o in outs:
            assert not any(s in o.stdout + o.stderr for s in secrets)


def test_google_partial_failure_is_said_and_not_logged(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = _wh(make_warehouse)
    db = wh.path
    wh.close()
    with fake_ad_conversions(
        developer_token=GOOGLE_SECRET["developer_token"], client_id="cid.apps", client_secret=GOOGLE_SECRET["client_secret"],
        refresh_token=GOOGLE_SECRET["refresh_token"], meta_token=META_TOKEN, refuse_gclids={"AbC-123"},
    ) as fake:  # fmt: skip
        Connections(db).save(
            Connection("g", "google-ads", {"customer_id": fake.customer, "client_id": "cid.apps", "conversion_action": "987"}, fake.base_url),
            json.dumps(GOOGLE_SECRET),
        )  # fmt: skip
        r = run_kassa("conversions", "--db", db, "--goal", "sale", "--platform", "google-ads", "--period", "2026-10",
                      "--upload", "g")  # fmt: skip
    assert r.returncode == 1
    assert "refused: sale:D2: The click ID could not be decoded." in r.stdout
    assert "Sent 0" in r.stdout and fake.counted == {}


def test_scheduled_conversions_job_uploads_once(make_warehouse: Callable[..., Warehouse]) -> None:
    from tests.connectors.fake_metrica_conversions import fake_metrica_conversions

    wh = _wh(make_warehouse)
    db = wh.path
    wh.close()
    (db.parent / "kassa.yaml").write_text(
        "schedule:\n  jobs:\n"
        "    - name: sales-to-metrica\n      kind: conversions\n      at: daily 07:30\n"
        "      conversions: {goal: sale, platform: metrica, upload: ym, target: order_paid}\n",
        encoding="utf-8",
    )
    with fake_metrica_conversions("ym-token-5") as fake:
        Connections(db).save(
            Connection("ym", "yandex-metrica", {"counter": fake.counter}, fake.base_url), "ym-token-5"
        )
        for when in ("2026-11-01T07:00+03:00", "2026-11-02T07:35+03:00", "2026-11-03T07:35+03:00"):
            r = run_kassa("run-scheduled", "--db", db, "--at", when)
            assert r.returncode == 0, r.stdout + r.stderr
        # The first call only sees the job; the second sends 2026-10-03..2026-11-01 (D1, D3, D5: a ClientId
        # file and a Yclid file); the third, 2026-10-04..2026-11-02, finds those sent and adds only D6.
        assert len(fake.uploads) == 3
        assert sorted((k[1], k[3]) for k in fake.counted) == [
            ("1700000000123456789", _utc(10, 12)),
            ("1700000000123456789", int(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC).timestamp())),
            ("1700000000999000111", _utc(12, 12)),
            ("222", _utc(13, 12)),
        ]
    with Warehouse.open(db, read_only=True) as w:
        runs = w.ibis.con.execute("SELECT outcome, detail FROM schedule_runs ORDER BY id").fetchall()
    done = [d for o, d in runs if o == "ok"]
    assert done[0] == "metrica sale 2026-10-03..2026-11-01: sent 3, already sent 0, skipped 1 without an id"
    assert done[1] == "metrica sale 2026-10-04..2026-11-02: sent 1, already sent 3, skipped 1 without an id"
