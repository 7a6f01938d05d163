"""``kassa kpi score`` and ``kassa kpi lint``: KPI contracts scored on the warehouse, objections before signing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ColumnsOption,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    PeriodOption,
    WideOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator, fmt_number, fmt_percent
from kassa.names import channel_name
from kassa.report.layout import Column, Grid, check_columns, parse_columns, print_grids, print_prose

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.kpi import Contract, LintWarning, Scorecard

_ = Translator("kpi")

ContractArg = Annotated[
    str,
    typer.Argument(
        # kassa.kpi.EXAMPLES written out: importing it loads Ibis (tests/test_cli_startup.py checks the list).
        help="Contract YAML file, a contract saved on the dashboard's KPI page, or a shipped example: "
        "pays_for_activity, pays_for_money.",
        show_default=False,
    ),
]


def _scope(c: Contract, lang: str) -> str:
    if c.scope.is_everything:
        return _("the whole business", lang)
    parts = []
    if c.scope.channels:
        parts.append(
            _("channels {names}", lang, names=", ".join(channel_name(ch, lang) for ch in c.scope.channels))
        )
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
        # Plain text, not markup: messages hold brackets such as kpis[0] that rich would read as styles.
        print_prose(
            console, f"{_('warning', lang)} [{w.code}] {where}{w.text[lang]}", hanging="    ", style="yellow"
        )
        if w.advice[lang]:
            print_prose(console, f"→ {w.advice[lang]}", indent="    ", hanging="      ")


def scorecard_grid(card: Scorecard, lang: str) -> Grid:
    """Plan vs fact per KPI: target, fact, attainment (raw and as counted), weight, contribution; the score."""
    from kassa.kpi.scoring import show, tier_label

    c, cur = card.contract, card.currency
    grid = Grid(
        _("{name} — {period}", lang, name=c.name, period=card.period.label),
        [
            Column("kpi", _("KPI", lang), number=False, key=True),
            Column("tier", _("Tier", lang), number=False),
            Column("target", _("Target", lang)),
            Column("fact", _("Fact", lang)),
            Column("attainment", _("Attainment", lang)),
            Column("counted", _("Counted", lang)),
            Column("weight", _("Weight", lang)),
            Column("contribution", _("Contribution", lang)),
        ],
        default=("target", "fact", "attainment", "weight", "contribution"),
    )
    grid.add_rows(
        {
            "kpi": r.label[lang],
            "tier": tier_label(r.tier, lang),
            "target": show(r.target, r.unit, lang, cur),
            "fact": show(r.fact, r.unit, lang, cur),
            "attainment": fmt_percent(r.attainment_raw, lang, 1),
            "counted": fmt_percent(r.attainment, lang, 1),
            "weight": fmt_number(r.weight, lang, 2),
            "contribution": fmt_number(r.contribution, lang, 3),
        }
        for r in card.rows
    )
    grid.total = {
        "kpi": _("Score", lang),
        "weight": fmt_number(sum(r.weight for r in card.rows), lang, 2),
        "contribution": fmt_number(card.score, lang, 3),
    }
    return grid


def print_scorecard(
    card: Scorecard, lang: str, *, columns: list[str] | None = None, wide: bool = False
) -> None:
    """Plan vs fact as a table, then one line per KPI saying how its number came about, gate and bonus."""
    c = card.contract
    grid = scorecard_grid(card, lang)
    check_columns([grid], columns)
    print_grids(console, [grid], columns=columns, wide=wide)
    console.print()
    print_prose(console, _("Scope: {scope}; {view}.", lang, scope=_scope(c, lang), view=_view(c, lang)))
    for i, r in enumerate(card.rows, 1):
        number = f"{i}. "
        print_prose(console, r.explain(lang), indent=number, hanging=" " * len(number))
    if card.gate is not None:
        print_prose(console, card.gate.explanation[lang])
    if card.bonus_explanation is not None:
        print_prose(console, card.bonus_explanation[lang], style="bold")
    _print_warnings(card.warnings, lang)


@COMMANDS.register(name="kpi")
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
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Plan vs fact of a KPI contract: attainment, score, bonus and why, per KPI.

        Example: kassa kpi score contract.yaml --db shop.duckdb --period 2026-10
        """
        from kassa.kpi import score
        from kassa.kpi.saved import resolve_contract

        c = resolve_contract(contract, db)
        with open_warehouse(db, config) as wh:
            card = score(wh, c, period)
        if as_json:
            print_json(card.to_json())
            return
        print_scorecard(card, lang, columns=parse_columns(columns), wide=wide)

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
        lang: LangOption = Lang.EN,
    ) -> None:
        """Objections to a contract: pay for activity, junk leads, no money, mismatched periods…

        Example: kassa kpi lint contract.yaml --period 2026-10 --strict
        """
        from kassa.kpi import lint
        from kassa.kpi.saved import resolve_contract

        c = resolve_contract(contract)
        warnings = lint(c, period)
        if as_json:
            print_json({"contract": c.name, "source": c.source, "warnings": [w.to_json() for w in warnings]})
        elif warnings:
            print_prose(console, _("{name}: {n} warning(s)", lang, name=c.name, n=len(warnings)))
            _print_warnings(warnings, lang)
        else:
            print_prose(
                console, _("{name}: no objections — this contract pays for money.", lang, name=c.name)
            )
        if strict and warnings:
            raise typer.Exit(1)

    app.add_typer(kpi, name="kpi")
