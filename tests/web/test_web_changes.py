"""What the dashboard changes: uploads and undo on the Data page, contracts on the KPI page; and the
period picker and the attribution model selector. The golden company (tests/golden_data.py): October
2026 has 20 000 of marketing cost, 6 leads, 2 sales and 90 000 of revenue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.helpers import LOCAL, login

from kassa.kpi import example_path, parse_contract, score
from kassa.metrics.compute import compute
from kassa.web import create_app
from kassa.web.uploads import uploads_dir

GOOD = "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_new,100,5,1000\n"
# Line 3 has a cost that is not a number: a strict upload refuses the whole file.
BAD = "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_new,100,5,1000\n2026-10-21,vk_ads,vk_new,100,5,lots\n"


def cost(client: TestClient) -> float:
    """October's marketing cost as the dashboard shows it."""
    return float(client.get("/channels.json?period=2026-10").json()["total"]["marketing_cost"])


def csrf_of(client: TestClient, app: FastAPI) -> str:
    data = app.state.dashboard.sessions.read(client.cookies.get("kassa_session"))
    return str(data["csrf"])


def upload(client: TestClient, app: FastAPI, name: str, body: bytes | str, **form: str) -> object:
    raw = body.encode() if isinstance(body, str) else body
    return client.post(
        "/data/upload",
        data={"csrf": csrf_of(client, app), **form},
        files={"file": (name, raw, "text/csv")},
        headers={"Accept": "application/json"},
    )


def fingerprint(app: FastAPI) -> dict:
    dash = app.state.dashboard
    with dash.lock:
        return dash.wh.fingerprint()


def test_upload_then_undo_from_the_browser(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    mark = as_user("mark")  # a marketer uploads data
    assert cost(mark) == 20000
    r = upload(mark, app, "extra_spend.csv", GOOD)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["ok"] and got["batches"][0]["rows_loaded"] == 1 and got["errors"] == []
    batch = got["batches"][0]["batch_id"]
    assert cost(mark) == 21000  # 20 000 + the uploaded 1 000
    # The file an imported number came from is kept beside the warehouse.
    kept = list(uploads_dir(app.state.dashboard.db_path).glob("*extra_spend.csv"))
    assert len(kept) == 1 and kept[0].read_text() == GOOD
    # The same file again changes nothing.
    again = upload(mark, app, "extra_spend.csv", GOOD).json()
    assert again["ok"] and "already imported" in again["message"] and cost(mark) == 21000
    assert len(list(uploads_dir(app.state.dashboard.db_path).glob("*extra_spend.csv"))) == 1
    # The page lists the batch with an undo button; undo brings the old numbers back.
    page = mark.get("/data").text
    assert f'<tr data-key="{batch}">' in page and 'class="undo"' in page
    undone = mark.post(
        "/data/undo",
        data={"csrf": csrf_of(mark, app), "batch_id": str(batch)},
        headers={"Accept": "application/json"},
    )
    assert undone.status_code == 200 and undone.json()["removed"] == 1
    assert cost(mark) == 20000
    # Undoing twice is refused with the warehouse's own words, not a 500.
    twice = mark.post(
        "/data/undo",
        data={"csrf": csrf_of(mark, app), "batch_id": str(batch)},
        headers={"Accept": "application/json"},
    )
    assert twice.status_code == 400 and "already undone" in twice.json()["error"]


def test_a_malformed_upload_lists_its_rows_and_changes_nothing(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    olga = as_user("olga")
    before = fingerprint(app)
    r = upload(olga, app, "broken.csv", BAD)
    assert r.status_code == 422
    got = r.json()
    assert not got["ok"] and got["batches"] == []
    (err,) = got["errors"]
    assert (err["file"], err["line"], err["column"], err["value"]) == ("broken.csv", 3, "cost", "lots")
    assert fingerprint(app) == before and cost(olga) == 20000
    assert list(uploads_dir(app.state.dashboard.db_path).glob("*broken.csv")) == []  # nothing left behind
    # The page shows the refused rows in a table.
    html = olga.post(
        "/data/upload",
        data={"csrf": csrf_of(olga, app)},
        files={"file": ("broken.csv", BAD.encode(), "text/csv")},
    ).text
    assert '<table id="rejected">' in html and "lots" in html
    # Asked to skip refused rows, the valid line is loaded and the refused one still reported.
    partial = upload(olga, app, "broken.csv", BAD, skip_refused="true")
    assert partial.status_code == 200 and partial.json()["batches"][0]["rows_loaded"] == 1
    assert partial.json()["errors"][0]["line"] == 3 and cost(olga) == 21000


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("spend.exe", b"MZ\x90\x00", 415),  # no importer reads it
        ("spend.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 415),  # an image called .csv
        ("spend.xlsx", b"date,cost\n", 415),  # text called .xlsx
        ("spend.csv", b"", 400),
        ("notes.csv", b"hello,world\n1,2\n", 422),  # a CSV no importer recognises
    ],
)
def test_uploads_of_the_wrong_type_are_refused(
    as_user: Callable[[str], TestClient], app: FastAPI, name: str, body: bytes, status: int
) -> None:
    olga = as_user("olga")
    before = fingerprint(app)
    r = upload(olga, app, name, body)
    assert r.status_code == status, r.text
    assert not r.json()["ok"] and r.json()["message"]
    assert fingerprint(app) == before
    assert [p for p in uploads_dir(app.state.dashboard.db_path).glob("*") if p.is_file()] == []


def test_upload_size_limit(users_db: Path) -> None:
    web = create_app(users_db, users_required=True, max_upload_bytes=100)
    try:
        client = login(TestClient(web), "olga")
        big = GOOD + "".join(f"2026-10-{d:02d},vk_ads,vk_new,100,5,1000\n" for d in range(1, 10))
        before = fingerprint(web)
        r = upload(client, web, "big.csv", big)
        assert r.status_code == 413 and "upload limit" in r.json()["message"]
        assert fingerprint(web) == before
    finally:
        web.state.dashboard.close()


@pytest.mark.parametrize("name", ["ivan", "vika"])  # viewer, agency
def test_only_owner_and_marketer_change_data(
    as_user: Callable[[str], TestClient], app: FastAPI, name: str
) -> None:
    client = as_user(name)
    before = fingerprint(app)
    assert upload(client, app, "extra_spend.csv", GOOD).status_code == 403
    r = client.post("/data/undo", data={"csrf": csrf_of(client, app), "batch_id": "1"})
    assert r.status_code == 403 and fingerprint(app) == before


def test_a_forged_form_token_changes_nothing(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    olga = as_user("olga")
    before = fingerprint(app)
    r = olga.post("/data/upload", data={"csrf": "forged"}, files={"file": ("extra_spend.csv", GOOD.encode())})
    assert r.status_code == 403
    assert olga.post("/data/undo", data={"csrf": "forged", "batch_id": "1"}).status_code == 403
    assert fingerprint(app) == before


def test_data_page_shows_coverage_and_match_quality(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    data = as_user("olga").get("/data.json?period=2026-10").json()
    coverage = {c["table"]: c for c in data["coverage"]}
    dash = app.state.dashboard
    with dash.lock:
        assert coverage["spend"]["rows"] == dash.wh.row_count("spend")
        assert coverage["leads"]["rows"] == dash.wh.row_count("leads")
    # October: revenue 90 000, of it confirmed by the bank as kassa money computes it.
    with dash.lock:
        paid = compute(dash.wh, ["paid_revenue", "revenue"], None, "2026-10", with_total=False).frame.row(
            0, named=True
        )
    assert data["quality"]["revenue"] == pytest.approx(paid["revenue"])
    assert data["quality"]["paid_revenue"] == pytest.approx(paid["paid_revenue"])
    assert {x["format"] for x in data["last_loads"]} <= {b["format"] for b in data["batches"]}


# -- KPI contracts ---------------------------------------------------------------------------------------------
def save(client: TestClient, app: FastAPI, text: str, replaces: str = "") -> object:
    return client.post(
        "/kpi/save",
        data={"csrf": csrf_of(client, app), "text": text, "replaces": replaces},
        headers={"Accept": "application/json"},
    )


def test_contracts_saved_scored_and_deleted(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    mark = as_user("mark")
    assert mark.get("/kpi.json?period=2026-10").json()["contracts"] == []
    text = example_path("pays_for_money").read_text(encoding="utf-8")
    r = save(mark, app, text)
    assert r.status_code == 201, r.text
    slug = r.json()["saved"]
    page = mark.get("/kpi.json?period=2026-10").json()
    (shown,) = page["contracts"]
    dash = app.state.dashboard
    with dash.lock:
        expected = score(dash.wh, parse_contract(text), "2026-10")
    assert shown["slug"] == slug and shown["score"] == pytest.approx(expected.score)
    assert shown["bonus"]["amount"] == pytest.approx(expected.bonus)
    assert [k["fact"] for k in shown["kpis"]] == pytest.approx([r.fact for r in expected.rows])
    html = mark.get("/kpi?period=2026-10&lang=ru").text
    assert f'id="contract-{slug}"' in html and "Премия" in html
    r = mark.post(
        "/kpi/delete", data={"csrf": csrf_of(mark, app), "slug": slug}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 200 and mark.get("/kpi.json").json()["contracts"] == []


def test_an_invalid_contract_is_shown_at_its_field_and_not_saved(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    olga = as_user("olga")
    text = "name: Agency\nkpis:\n  - metric: revenue\n    target: 100\n    weight: 0.7\n  - metric: leads\n    target: 5\n    weight: 0.2\n"
    r = save(olga, app, text)
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem["field"] == "kpis" and problem["line"] == 2 and "sum to 1" in problem["message"]
    assert olga.get("/kpi.json").json()["contracts"] == []
    # The editor page keeps the text and marks the line.
    html = olga.post("/kpi/save", data={"csrf": csrf_of(olga, app), "text": text}).text
    assert 'data-field="kpis"' in html and 'class="bad"' in html and "weight: 0.7" in html
    # The live check (htmx) says the same without saving; a valid contract gets its lint warnings.
    check = olga.post(
        "/kpi/check", data={"csrf": csrf_of(olga, app), "text": text}, headers={"Accept": "application/json"}
    ).json()
    assert not check["ok"] and check["problems"][0]["line"] == 2
    activity = example_path("pays_for_activity").read_text(encoding="utf-8")
    check = olga.post(
        "/kpi/check",
        data={"csrf": csrf_of(olga, app), "text": activity},
        headers={"Accept": "application/json"},
    ).json()
    assert check["ok"] and check["lint"]  # it pays for activity: kassa kpi lint objects
    bad_yaml = olga.post(
        "/kpi/check",
        data={"csrf": csrf_of(olga, app), "text": "name: [unclosed\n"},
        headers={"Accept": "application/json"},
    ).json()
    assert not bad_yaml["ok"] and "not valid YAML" in bad_yaml["problems"][0]["message"]


def test_a_contract_can_be_uploaded_as_a_file(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    olga = as_user("olga")
    text = example_path("pays_for_activity").read_text(encoding="utf-8")
    r = olga.post(
        "/kpi/save",
        data={"csrf": csrf_of(olga, app)},
        files={"file": ("agency.yaml", text.encode(), "application/yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/kpi#contract-")
    assert len(olga.get("/kpi.json?period=2026-10").json()["contracts"]) == 1


def test_agency_sees_only_its_own_contract_and_edits_none(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    olga = as_user("olga")
    ours = "name: VK agency\nscope:\n  channels: [vk_ads]\nkpis:\n  - metric: revenue\n    target: 1000\n    weight: 1\n"
    theirs = "name: Direct agency\nscope:\n  channels: [yandex_direct]\nkpis:\n  - metric: revenue\n    target: 1000\n    weight: 1\n"
    whole = example_path("pays_for_money").read_text(encoding="utf-8")
    for text in (ours, theirs, whole):
        assert save(olga, app, text).status_code == 201
    vika = as_user("vika")  # agency, scope vk_ads
    names = [c["contract"] for c in vika.get("/kpi.json?period=2026-10").json()["contracts"]]
    assert names == ["VK agency"]
    html = vika.get("/kpi?period=2026-10").text
    assert "Direct agency" not in html and "90000" not in html
    assert vika.get("/kpi/edit?slug=direct-agency").status_code == 403
    assert save(vika, app, ours).status_code == 403


# -- period picker, attribution model ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "period"),
    [
        ("pick=month&month=2026-09", "2026-09"),
        ("pick=week&week=2026-W43", "2026-10-19..2026-10-25"),
        ("pick=custom&from=2026-10-01&to=2026-10-15", "2026-10-01..2026-10-15"),
    ],
)
def test_period_picker(as_user: Callable[[str], TestClient], query: str, period: str) -> None:
    client = as_user("ivan")
    r = client.get(f"/channels?{query}&lang=ru", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/channels?" + urlencode({"period": period, "lang": "ru"})
    assert period in client.get(r.headers["location"]).text


def test_period_picker_refuses_nonsense(as_user: Callable[[str], TestClient]) -> None:
    r = as_user("ivan").get("/overview?pick=week&week=2026-W77", follow_redirects=False)
    assert r.status_code == 400 and "2026-W77" in r.json()["error"]


def test_channels_under_an_attribution_model(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    client = as_user("olga")
    plain = client.get("/channels.json?period=2026-10").json()
    data = client.get("/channels.json?period=2026-10&model=linear").json()
    assert data["model"] == "linear" and "markov" in data["models"]
    # Whatever the model, credited leads, sales and revenue add up to the metric layer's totals.
    for k in ("leads", "sales", "revenue"):
        assert sum(r["model"][k] for r in data["rows"]) == pytest.approx(plain["total"][k]), k
    assert data["model_total"]["marketing_cost"] == pytest.approx(plain["total"]["marketing_cost"])
    html = client.get("/channels?period=2026-10&model=linear").text
    assert '<table id="attributed"' in html and "<option selected>linear</option>" in html
    assert client.get("/channels.json?model=nonsense").status_code == 400


def test_a_dashboard_without_users_still_guards_its_forms(open_app: FastAPI) -> None:
    """No logins on loopback, yet an upload needs the token the pages carry (another site cannot post one)."""
    client = TestClient(open_app, base_url=LOCAL)
    page = client.get("/data")
    token = client.cookies.get("kassa_local_csrf")
    assert page.status_code == 200 and token and f'name="csrf" value="{token}"' in page.text
    other = TestClient(open_app, base_url=LOCAL)  # a browser that never opened a page: no token
    r = other.post(
        "/data/upload", data={"csrf": "guessed"}, files={"file": ("extra_spend.csv", GOOD.encode())}
    )
    assert r.status_code == 403
    r = client.post(
        "/data/upload",
        data={"csrf": token},
        files={"file": ("extra_spend.csv", GOOD.encode())},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json()["ok"]


def test_an_oversized_body_is_refused_before_it_is_read(users_db: Path) -> None:
    """Starlette spools a whole multipart body before a route runs: the limit is applied as it arrives."""
    web = create_app(users_db, users_required=True, max_upload_bytes=1000)
    try:
        client = login(TestClient(web), "olga")
        token = csrf_of(client, web)
        before = fingerprint(web)
        rows = b"2026-10-20,vk_ads,vk_new,100,5,1000\n"
        big = (
            b"date,channel,campaign,impressions,clicks,cost\n" + rows * 60_000
        )  # 2 MiB > 1000 B + 1 MiB of form
        r = client.post(
            "/data/upload",
            data={"csrf": token},
            files={"file": ("big.csv", big)},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 413 and "larger than" in r.json()["error"]
        boundary = "kassa-test-boundary"

        def chunked():  # no Content-Length: counted as it streams, cut off past the limit
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            ).encode()
            for _ in range(60):
                yield rows * 1000
            yield f"\r\n--{boundary}--\r\n".encode()

        r = client.post(
            "/data/upload",
            content=chunked(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Accept": "application/json",
            },
        )
        assert r.status_code == 413 and "larger than" in r.json()["error"]
        assert fingerprint(web) == before
        assert [p for p in uploads_dir(users_db).glob("*") if p.is_file()] == []
        # Other forms are small: a 2 MiB "contract" is refused the same way.
        r = client.post("/kpi/check", data={"csrf": token, "text": "x" * 2_000_000})
        assert r.status_code == 413
    finally:
        web.state.dashboard.close()


def test_a_generic_file_is_uploaded_with_its_mapping(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    """The Telegram sheet of tests/data/sources/generic: 3 rows, one with impressions "много" (line 5)."""
    folder = Path(__file__).resolve().parents[1] / "data" / "sources" / "generic"
    sheet = (folder / "telegram_spend.csv").read_bytes()
    mapping = (folder / "telegram_spend.yaml").read_bytes()
    mark = as_user("mark")
    token = csrf_of(mark, app)

    def send(**form: str) -> object:
        return mark.post(
            "/data/upload",
            data={"csrf": token, "format": "generic", **form},
            files={"file": ("telegram.csv", sheet), "mapping": ("telegram.yaml", mapping)},
            headers={"Accept": "application/json"},
        )

    strict = send()
    assert strict.status_code == 422
    (err,) = strict.json()["errors"]
    assert (err["line"], err["column"], err["value"]) == (5, "Показы", "много")
    assert list(uploads_dir(app.state.dashboard.db_path).glob("*")) == []  # neither file kept
    loaded = send(skip_refused="true")
    assert loaded.status_code == 200 and loaded.json()["batches"][0]["rows_loaded"] == 2
    kept = sorted(p.name.split("-", 2)[-1] for p in uploads_dir(app.state.dashboard.db_path).glob("*"))
    # the file and the mapping it was read with, named after it (kept and removed together)
    assert kept == ["telegram.csv", "telegram.csv.mapping.yaml"]
    # Without the mapping, a generic file cannot be read: said plainly, nothing kept.
    r = mark.post(
        "/data/upload",
        data={"csrf": token, "format": "generic"},
        files={"file": ("other.csv", sheet)},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 422 and "mapping" in r.json()["message"]
