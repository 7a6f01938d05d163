"""``kassa kpi score`` and ``kassa kpi lint``: KPI contracts scored on the warehouse, objections before signing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    PeriodOption,
    check_lang,
    console,
    open_warehouse,
    print_json,
)
from kassa.errors import ConfigError
from kassa.i18n import Translator, fmt_number, fmt_percent

if TYPE_CHECKING:  # scoring imports Ibis and Polars: only the commands that read a contract load them
    from kassa.kpi import Contract, LintWarning, Scorecard

_ = Translator("kpi")

ContractArg = Annotated[
    str,
    typer.Argument(
        # kassa.kpi.EXAMPLES written out: importing it loads Ibis (tests/test_cli.py checks the list).
        help="Contract YAML file, a contract saved on the dashboard's KPI page, or a shipped example: "
        "pays_for_activity, pays_for_money.",
        show_default=False,
    ),
]


def resolve_contract(name: str, db: Path | None = None) -> Contract:
    """A contract file; else a contract saved beside the warehouse ``db`` (the dashboard's KPI page saves
    them in ``<db>.contracts/``) by its file name; else a shipped example by name."""
    from kassa.kpi import EXAMPLES, example_path, load_contract
    from kassa.kpi.saved import ContractFolder

    p = Path(name)
    if p.exists():
        return load_contract(p)
    if db is not None:
        folder = ContractFolder.for_db(db)
        if name in folder.slugs():
            return folder.read(name).contract
    if name in EXAMPLES:
        return load_contract(example_path(name))
    saved = ContractFolder.for_db(db).slugs() if db is not None else []
    raise ConfigError(
        f"{p}: no such contract file (saved with the warehouse: {', '.join(saved) or 'none'}; "
        f"shipped examples: {', '.join(EXAMPLES)})"
    )


def _scope(c: Contract, lang: str) -> str:
    if c.scope.is_everything:
        return _("the whole business", lang)
    parts = []
    if c.scope.channels:
        parts.append(_("channels {names}", lang, names=", ".join(c.scope.channels)))
    if c.scope.campaigns:
        parts.append(_("campaigns {names}", lang, names=", ".join(c.scope.campaigns)))
    return "; ".join(parts)


def _view(c: Contract, lang: str) -> str:
    if c.view == "calendar":
        return _("calendar view", lang)
    if c.settle_days is None:
        return _("cohort view", lang)
    return _("cohort view, outcomes within {days} days of the lead", lang, days=c.settle_days)


def _print_warnings(warnings: list[LintWarning], lang: str) -> None:
    for w in warnings:
        where = f"{w.where}: " if w.where else ""
        # Text, not markup: messages hold brackets such as kpis[0] that rich would read as styles.
        console.print(
            Text.assemble((_("warning", lang), "yellow"), f" [{w.code}] {where}{w.text[lang]}"),
            highlight=False,
        )
        if w.advice[lang]:
            console.print(f"    → {w.advice[lang]}", highlight=False, markup=False)


def print_scorecard(card: Scorecard, lang: str) -> None:
    """Plan vs fact as a table, then one line per KPI saying how its number came about, gate and bonus."""
    from kassa.kpi.scoring import show, tier_label

    c, cur = card.contract, card.currency
    t = Table(title=_("{name} — {period}", lang, name=c.name, period=card.period.label), title_justify="left")
    for col, right in (
        (_("KPI", lang), False),
        (_("Tier", lang), False),
        (_("Target", lang), True),
        (_("Fact", lang), True),
        (_("Attainment", lang), True),
        (_("Counted", lang), True),
        (_("Weight", lang), True),
        (_("Contribution", lang), True),
    ):
        t.add_column(col, justify="right" if right else "left")
    for r in card.rows:
        t.add_row(
            r.label[lang],
            tier_label(r.tier, lang),
            show(r.target, r.unit, lang, cur),
            show(r.fact, r.unit, lang, cur),
            fmt_percent(r.attainment_raw, lang, 1),
            fmt_percent(r.attainment, lang, 1),
            fmt_number(r.weight, lang, 2),
            fmt_number(r.contribution, lang, 3),
        )
    t.add_section()
    t.add_row(
        _("Score", lang),
        "",
        "",
        "",
        "",
        "",
        fmt_number(sum(r.weight for r in card.rows), lang, 2),
        fmt_number(card.score, lang, 3),
        style="bold",
    )
    console.print(t)
    console.print(
        _("Scope: {scope}; {view}.", lang, scope=_scope(c, lang), view=_view(c, lang)), highlight=False
    )
    for i, r in enumerate(card.rows, 1):
        console.print(f"{i}. {r.explain(lang)}", highlight=False, markup=False)
    if card.gate is not None:
        console.print(card.gate.explanation[lang], highlight=False, markup=False)
    if card.bonus_explanation is not None:
        console.print(Text(card.bonus_explanation[lang], style="bold"), highlight=False)
    _print_warnings(card.warnings, lang)


def register(app: typer.Typer) -> None:
    kpi = typer.Typer(
        help="KPI contracts that pay for money: score them, lint them before signing.", no_args_is_help=True
    )

    @kpi.command("score")
    def score_cmd(
        contract: ContractArg,
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """Plan vs fact of a KPI contract: attainment, score, bonus and why, per KPI.

        Example: kassa kpi score contract.yaml --db shop.duckdb --period 2026-10
        """
        from kassa.kpi import score

        check_lang(lang)
        c = resolve_contract(contract, db)
        with open_warehouse(db, config) as wh:
            card = score(wh, c, period)
        if as_json:
            print_json(card.to_json())
            return
        print_scorecard(card, lang)

    @kpi.command("lint")
    def lint_cmd(
        contract: ContractArg,
        period: Annotated[
            str | None,
            typer.Option(
                "--period", help="The period it will be scored for: checks it is one contract period."
            ),
        ] = None,
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit with code 1 when there are warnings.")
        ] = False,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """Objections to a contract: pay for activity, junk leads, no money, mismatched periods…

        Example: kassa kpi lint contract.yaml --period 2026-10 --strict
        """
        from kassa.kpi import lint

        check_lang(lang)
        c = resolve_contract(contract)
        warnings = lint(c, period)
        if as_json:
            print_json({"contract": c.name, "source": c.source, "warnings": [w.to_json() for w in warnings]})
        elif warnings:
            console.print(_("{name}: {n} warning(s)", lang, name=c.name, n=len(warnings)), highlight=False)
            _print_warnings(warnings, lang)
        else:
            console.print(
                _("{name}: no objections — this contract pays for money.", lang, name=c.name), highlight=False
            )
        if strict and warnings:
            raise typer.Exit(1)

    app.add_typer(kpi, name="kpi")
