"""Issue 14 item 10: every YAML kassa reads fails with a clear error naming the file, never a traceback.

500 levels of nesting used to end in a ``RecursionError`` (exit 1, a traceback) in ``kassa kpi lint``,
``kpi score``, ``import --mapping`` and ``--config``, and in a 500 on ``/kpi/check``, ``/kpi/save`` and
upload mappings (whose files then stayed in the uploads folder); a latin-1 contract crashed ``kpi lint``
with a ``UnicodeDecodeError``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.kassa_cli import run_kassa
from tests.web.helpers import LOCAL

from kassa.errors import ConfigError
from kassa.kpi import example_path
from kassa.web import create_app
from kassa.web.security import LOCAL_CSRF_COOKIE
from kassa.web.uploads import uploads_dir
from kassa.yamlfile import MAX_BYTES, MAX_DEPTH, read_yaml_text

DEEP = "a: " + "[" * 500 + "]" * 500 + "\n"  # flow style
DEEP_BLOCK = "- " * 500 + "1\n"  # block style: a list in a list in a list…
# A contract as a German editor on Windows saves it: latin-1, "ä" is byte 0xe4 on line 1.
LATIN1 = """name: Prämie, monthly
scope:
  channels: [vk_ads]
period: month
kpis:
  - metric: revenue
    target: 1000000
    weight: 1
"""
SPEND = "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_new,100,5,1000\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in {"deep.yaml": DEEP, "deep_block.yaml": DEEP_BLOCK}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        out[name] = tmp_path / name
    out["latin1.yaml"] = tmp_path / "latin1.yaml"
    out["latin1.yaml"].write_bytes(LATIN1.encode("latin-1"))
    out["big.yaml"] = tmp_path / "big.yaml"
    out["big.yaml"].write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    out["spend.csv"] = tmp_path / "spend.csv"
    out["spend.csv"].write_text(SPEND, encoding="utf-8")
    return out


def _refused(result, name: str, words: str) -> None:
    """Exit 2 with "error: <file>…: <words>", and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert name in result.stderr and words in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["deep.yaml", "deep_block.yaml"])
def test_deep_yaml_is_refused_by_every_command(
    files: dict[str, Path], golden_file: Path, tmp_path: Path, name: str
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(golden_file, db)
    deep = files[name]
    words = f"nested more than {MAX_DEPTH} levels deep"
    _refused(run_kassa("kpi", "lint", deep), name, words)
    _refused(run_kassa("kpi", "score", deep, "--db", db, "--period", "2026-10"), name, words)
    _refused(
        run_kassa("import", files["spend.csv"], "--format", "generic", "--mapping", deep, "--db", db),
        name,
        words,
    )
    _refused(run_kassa("metrics", "--db", db, "--period", "2026-10", "--config", deep), name, words)


def test_a_latin1_contract_is_refused_with_its_line(files: dict[str, Path]) -> None:
    result = run_kassa("kpi", "lint", files["latin1.yaml"])
    _refused(result, "latin1.yaml:1", "not UTF-8 text (byte 0xe4)")
    assert "save the file as UTF-8" in result.stderr


def test_too_large_and_folder_yaml_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    _refused(run_kassa("kpi", "lint", files["big.yaml"]), "big.yaml", "larger than 1024 KiB")
    folder = tmp_path / "contract.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="contract.yaml: a folder"):
        read_yaml_text(folder)


def test_nesting_within_the_limit_still_reads(files: dict[str, Path]) -> None:
    # kassa's own files nest a few levels; a contract with its usual depth lints as before.
    result = run_kassa("kpi", "lint", example_path("pays_for_money"))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def client(golden_file: Path, tmp_path: Path) -> Iterator[TestClient]:
    db = tmp_path / "w.duckdb"
    shutil.copy(golden_file, db)
    app = create_app(db, users_required=False, warm=False)
    try:
        c = TestClient(app, base_url=LOCAL)
        c.get("/overview")
        yield c
    finally:
        app.state.dashboard.close()


def _csrf(client: TestClient) -> str:
    token = client.cookies.get(LOCAL_CSRF_COOKIE)
    assert token
    return token


def test_deep_yaml_on_the_kpi_editor_is_a_problem_not_a_500(client: TestClient) -> None:
    token = _csrf(client)
    json_ = {"Accept": "application/json"}
    checked = client.post("/kpi/check", data={"csrf": token, "text": DEEP}, headers=json_)
    assert checked.status_code == 200 and checked.json()["ok"] is False
    assert f"nested more than {MAX_DEPTH} levels deep" in checked.json()["problems"][0]["message"]
    saved = client.post("/kpi/save", data={"csrf": token, "text": DEEP_BLOCK}, headers=json_)
    assert saved.status_code in (400, 422), saved.text
    assert "nested more than" in saved.text
    uploaded = client.post(
        "/kpi/save", data={"csrf": token}, files={"file": ("c.yaml", LATIN1.encode("latin-1"))}, headers=json_
    )
    assert uploaded.status_code in (400, 422) and "UTF-8" in uploaded.text
    assert client.get("/kpi.json").json()["contracts"] == []


def test_a_deep_upload_mapping_is_refused_and_leaves_no_file(client: TestClient) -> None:
    r = client.post(
        "/data/upload",
        data={"csrf": _csrf(client), "format": "generic"},
        files={"file": ("spend.csv", SPEND.encode()), "mapping": ("map.yaml", DEEP.encode())},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert "map.yaml" in r.json()["message"] and "nested more than" in r.json()["message"]
    dash = client.app.state.dashboard  # type: ignore[attr-defined]
    assert sorted(uploads_dir(dash.db_path).glob("*")) == []
