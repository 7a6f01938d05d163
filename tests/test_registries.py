"""Every registry finds all its members, names the valid ones for an unknown name, and reads in the
order the docs give (kassa.registry: one registration style for formats, models, rules and commands)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
from pathlib import Path

import pytest
import typer
import typer.main

import kassa.attribution
import kassa.commands
import kassa.diagnose.rules
import kassa.sources
from kassa.attribution import MODELS, AttributionModel, UnknownModel, get_model
from kassa.commands import COMMANDS, HELP_ORDER
from kassa.diagnose import RULES as DIAGNOSE_RULES
from kassa.diagnose import Rule, get_rules
from kassa.errors import KassaError, UnknownFormat
from kassa.kpi import RULES as LINT_RULES
from kassa.registry import Registry
from kassa.sources.registry import SOURCES, get_source

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    name = package.__name__  # type: ignore[attr-defined]
    return [f"{name}.{m.name}" for m in sorted(pkgutil.iter_modules(path), key=lambda m: m.name)]


def _classes_defined_in(module_name: str) -> list[type]:
    module = importlib.import_module(module_name)
    return [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module_name]


# --- formats -----------------------------------------------------------------------------------------


def test_every_reader_class_is_registered():
    readers = {}
    for module in _modules(kassa.sources):
        for cls in _classes_defined_in(module):
            if all(callable(getattr(cls, m, None)) for m in ("detect", "read")) and isinstance(
                cls.__dict__.get("name"), str
            ):
                readers[cls.name] = cls
    assert len(readers) >= 12
    assert {n: SOURCES[n] for n in SOURCES} == readers


def test_detection_order_is_the_documented_one():
    doc = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    # "**Detection order.** … reads it: `canonical`, `amocrm`, …, `generic`. …"
    listed = re.search(r"\*\*Detection order\.\*\*[^:]*:(.*?)\.\s", doc, re.S)
    assert listed, "docs/sources.md has no **Detection order.** paragraph"
    documented = re.findall(r"`([a-z0-9_]+)`", listed.group(1))
    assert documented == list(SOURCES)
    assert list(SOURCES)[0] == "canonical" and list(SOURCES)[-1] == "generic"
    priorities = [SOURCES[n].detect_priority for n in SOURCES]
    assert len(set(priorities)) == len(priorities), "two readers share a detect_priority: the order is a tie"


def test_an_unknown_format_lists_the_valid_ones():
    with pytest.raises(UnknownFormat) as e:
        get_source("xls")
    assert "unknown format 'xls'; choose from: amocrm, bank_1c" in str(e.value)
    assert all(n in str(e.value) for n in SOURCES)


# --- attribution models ------------------------------------------------------------------------------


def _concrete_models(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub) and "name" in sub.__dict__:
            out.append(sub)
        out += _concrete_models(sub)
    return out


def test_every_model_class_is_registered():
    found = {c.name: c for c in _concrete_models(AttributionModel) if c.__module__.startswith("kassa.")}
    assert len(found) == 8
    assert dict(MODELS.items()) == found


def test_an_unknown_model_lists_the_valid_ones():
    with pytest.raises(UnknownModel) as e:
        get_model("u_shaped")
    assert "unknown attribution model 'u_shaped'; choose from: first_touch" in str(e.value)
    assert all(n in str(e.value) for n in MODELS) and str(e.value).endswith("(or all)")


# --- diagnosis rules ---------------------------------------------------------------------------------


def test_every_rule_module_registers_its_rule_class():
    modules = _modules(kassa.diagnose.rules)
    assert modules, "no rule modules found"
    for module in modules:
        rules = [c for c in _classes_defined_in(module) if issubclass(c, Rule) and "kind" in c.__dict__]
        assert len(rules) == 1, f"{module}: one rule per module"
        assert DIAGNOSE_RULES[rules[0].kind] is rules[0]


def test_rules_run_in_their_declared_order():
    orders = [r.order for r in get_rules()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert [r.kind for r in get_rules()] == list(DIAGNOSE_RULES)


def test_an_unknown_finding_kind_lists_the_valid_ones():
    with pytest.raises(KassaError) as e:
        get_rules(["funnel_break", "illusion"])
    assert (
        str(e.value) == f"unknown finding kind 'illusion'; choose from: {', '.join(sorted(DIAGNOSE_RULES))}"
    )


# --- KPI lint rules ----------------------------------------------------------------------------------


def test_every_lint_code_of_the_module_table_is_registered_in_its_order():
    module = importlib.import_module("kassa.kpi.lint")  # ``kassa.kpi.lint`` is the function, in kassa.kpi
    table = re.findall(r"^([a-z_]+)\s{2,}\S", module.__doc__ or "", re.M)
    codes = [c for c in table if c != "code"]
    assert codes == list(LINT_RULES)


def test_an_unknown_lint_code_lists_the_valid_ones():
    with pytest.raises(LookupError, match="unknown lint code 'nope'; choose from: activity_weight"):
        LINT_RULES["nope"]


# --- commands ----------------------------------------------------------------------------------------


def _names_added_by(add: object) -> list[str]:
    app = typer.Typer()
    add(app)  # type: ignore[operator]
    return [c.name or c.callback.__name__ for c in app.registered_commands] + [  # type: ignore[union-attr]
        g.name for g in app.registered_groups if g.name
    ]


def test_every_command_module_registers_and_is_in_the_help_order():
    # A module whose name starts with "_" is a command module's helper, as the registry reads it.
    modules = [n for m in _modules(kassa.commands) if not (n := m.rsplit(".", 1)[1]).startswith("_")]
    assert sorted(COMMANDS) == sorted(modules)
    assert list(COMMANDS) == list(HELP_ORDER), "a command module is missing from HELP_ORDER (or vice versa)"


def test_every_command_of_every_module_is_in_kassa_help():
    from kassa.cli import app

    group = typer.main.get_command(app)
    listed = list(group.commands)  # type: ignore[attr-defined]
    expected = [n for add in COMMANDS.values() for n in _names_added_by(add)]
    assert sorted(listed) == sorted(expected)
    # Plain commands keep the declared order of their modules (typer lists groups after them).
    plain = [n for n in listed if not hasattr(group.commands[n], "commands")]  # type: ignore[attr-defined]
    assert plain == [n for n in expected if n in plain]
    assert plain[:3] == ["import", "metrics", "catalog"]


# --- the registry itself -----------------------------------------------------------------------------


class _Thing:
    def __init__(self, name: str, rank: int) -> None:
        self.name, self.rank = name, rank


def test_register_by_attribute_or_given_name_and_read_in_order():
    reg: Registry[_Thing] = Registry("thing", order=lambda name, t: t.rank)
    b = reg.register(_Thing("b", 2))
    reg.register(name="alias")(_Thing("a", 1))
    assert reg["b"] is b and list(reg) == ["alias", "b"] and len(reg) == 2
    assert "b" in reg and "c" not in reg and reg.get("c") is None
    with pytest.raises(ValueError, match="two things are named 'b'"):
        reg.register(_Thing("b", 3))
    with pytest.raises(TypeError, match="has no 'name'"):
        reg.register(object())  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="unknown thing 'c'; choose from: alias, b"):
        reg["c"]


def test_discovery_imports_every_module_of_the_package_once(tmp_path, monkeypatch):
    pkg = tmp_path / "kassa_registry_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from kassa.registry import Registry\nTHINGS = Registry('thing', package=__name__, error=KeyError)\n",
        encoding="utf-8",
    )
    member = textwrap.dedent(
        """
        from kassa_registry_probe import THINGS

        @THINGS.register
        class {cls}:
            name = "{name}"
        """
    )
    (pkg / "zeta.py").write_text(member.format(cls="Zeta", name="zeta"), encoding="utf-8")
    (pkg / "alpha.py").write_text(member.format(cls="Alpha", name="alpha"), encoding="utf-8")
    (pkg / "_private.py").write_text("raise RuntimeError('not a member module')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        things = importlib.import_module("kassa_registry_probe").THINGS
        assert "kassa_registry_probe.alpha" not in sys.modules  # nothing imported before the first read
        assert list(things) == ["alpha", "zeta"]  # modules sorted by name, each registered once
        assert list(things) == ["alpha", "zeta"]
        with pytest.raises(KeyError):
            things["omega"]
    finally:
        for name in [m for m in sys.modules if m.startswith("kassa_registry_probe")]:
            del sys.modules[name]
