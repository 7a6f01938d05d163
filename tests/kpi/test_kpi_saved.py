"""Contracts kept beside a warehouse (<db>.contracts/): saved only when valid, atomically, found by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.kpi.test_kpi_cli import GOOD, db, run  # noqa: F401  (db is a fixture)

from kassa.errors import ConfigError
from kassa.kpi import example_path, parse_contract
from kassa.kpi.saved import ContractFolder, contracts_dir, resolve_contract, slug_of


def test_save_read_rename_delete(tmp_path: Path) -> None:
    folder = ContractFolder.for_db(tmp_path / "shop.duckdb")
    assert folder.folder == tmp_path / "shop.duckdb.contracts" and folder.slugs() == []
    saved = folder.save(GOOD)
    assert saved.slug == "agency" and saved.path.read_text(encoding="utf-8") == GOOD
    assert folder.read("agency").contract.name == "Agency"
    # Renamed in the editor: saved under the new name, the old file removed.
    renamed = folder.save(GOOD.replace("name: Agency", "name: Агентство «Педаль» 2026"), replaces="agency")
    assert renamed.slug == "агентство-педаль-2026" and folder.slugs() == ["агентство-педаль-2026"]
    assert folder.delete(renamed.slug) and not folder.delete(renamed.slug) and folder.slugs() == []


def test_an_invalid_contract_is_never_written(tmp_path: Path) -> None:
    folder = ContractFolder.for_db(tmp_path / "shop.duckdb")
    folder.save(GOOD)
    with pytest.raises(ConfigError) as err:
        folder.save(GOOD.replace("weight: 0.5}", "weight: 0.9}", 1), replaces="agency")
    (problem,) = err.value.problems
    assert problem.field is not None and problem.field.startswith("kpis") and problem.line is not None
    assert folder.read("agency").text == GOOD  # the old one untouched
    assert [p.name for p in contracts_dir(tmp_path / "shop.duckdb").iterdir()] == [
        "agency.yaml"
    ]  # no temp file


def test_resolve_contract_tries_a_file_then_a_saved_contract_then_an_example(tmp_path: Path) -> None:
    warehouse = tmp_path / "shop.duckdb"
    ContractFolder.for_db(warehouse).save(GOOD)
    assert resolve_contract("agency", warehouse).name == "Agency"  # saved beside the warehouse
    (tmp_path / "agency").write_text(GOOD.replace("name: Agency", "name: From a file"), encoding="utf-8")
    assert resolve_contract(str(tmp_path / "agency"), warehouse).name == "From a file"  # a path wins
    example = parse_contract(example_path("pays_for_money").read_text(encoding="utf-8"))
    assert resolve_contract("pays_for_money", warehouse).name == example.name
    with pytest.raises(
        ConfigError, match=r"saved with the warehouse: agency; shipped examples: pays_for_activity"
    ):
        resolve_contract("nothing", warehouse)
    with pytest.raises(ConfigError, match=r"saved with the warehouse: none"):
        resolve_contract("agency")  # without a warehouse, saved contracts are not looked at


def test_slugs_cannot_leave_the_folder(tmp_path: Path) -> None:
    folder = ContractFolder.for_db(tmp_path / "shop.duckdb")
    assert slug_of("../../etc/passwd") == "etc-passwd" and slug_of("  ") == "contract"
    with pytest.raises(ConfigError):
        folder.read("../secret")
    with pytest.raises(ConfigError):
        folder.save("x" * 70_000)


def test_kpi_score_finds_a_saved_contract_by_name(db: str) -> None:  # noqa: F811
    text = example_path("pays_for_money").read_text(encoding="utf-8")
    slug = ContractFolder.for_db(Path(db)).save(text).slug
    res = run("kpi", "score", slug, "--db", db, "--period", "2026-10", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["contract"] == parse_contract(text).name
    missing = run("kpi", "score", "nope", "--db", db, "--period", "2026-10")
    assert missing.returncode != 0 and slug in missing.stderr + missing.stdout
