"""The dashboard over a Spark warehouse: the same pages, answers and access as over DuckDB.

`kassa serve --db spark:NAME` opens the warehouse once and gives each request thread a cursor (on Spark, a
new session of the same context); the users file sits beside the Spark folder (kassa.store.places).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.golden_data import FILES
from tests.web.helpers import PASSWORD, login

from kassa.store import Warehouse
from kassa.web import create_app
from kassa.web.users import UserStore, users_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # beside the rest of the suite in CI
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]

PAGES = ["/overview.json?period=2026-10", "/channels.json?period=2026-10"]


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in FILES.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        out.append(folder / name)
    return out


def answers(db: Path | str) -> dict[str, Any]:
    for name, role, scope in (("olga", "owner", None), ("vika", "agency", ["vk_ads"])):
        UserStore.for_db(Path(db)).add(name, PASSWORD, role, scope)
    app = create_app(Path(db), users_required=True, warm=False)
    try:
        out: dict[str, Any] = {}
        anonymous = TestClient(app)
        out["no session"] = anonymous.get(PAGES[0], follow_redirects=False).status_code
        for name in ("olga", "vika"):
            client = login(TestClient(app), name)
            for page in PAGES:
                r = client.get(page)
                assert r.status_code == 200, (db, name, page, r.text[:300])
                out[f"{name} {page}"] = r.json()
            html = client.get("/overview?period=2026-10")
            assert html.status_code == 200 and "<html" in html.text
        return out
    finally:
        app.state.dashboard.close()


def test_the_dashboard_over_spark_answers_what_it_answers_over_duckdb(spark, tmp_path: Path) -> None:
    from tests.engines.conftest import spark_folder

    files = write(tmp_path / "csv")
    duck = tmp_path / "shop.duckdb"
    for db in (duck, "spark:dashboard"):
        with Warehouse.open(db) as wh:
            wh.import_files(files)
    assert users_path(Path("spark:dashboard")) == spark_folder() / "dashboard.users.json"
    on_duckdb, on_spark = answers(duck), answers("spark:dashboard")
    assert on_spark["no session"] == on_duckdb["no session"] != 200
    assert on_duckdb["olga /overview.json?period=2026-10"] != on_duckdb["vika /overview.json?period=2026-10"]
    assert on_spark == on_duckdb
