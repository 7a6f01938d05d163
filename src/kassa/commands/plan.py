"""``kassa plan``: a revenue target turned into the funnel it needs, per channel, and a draft contract."""

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
    WideOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator, fmt_money, fmt_percent, fmt_value
from kassa.report.layout import Column, Grid, check_columns, parse_columns, print_grids, print_prose

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.kpi.plan import Plan

_ = Translator("cli")

# kassa.kpi.plan.FIGURES and RATES written out: importing it loads Ibis (tests/test_cli_startup.py).
FIGURES = ("sales", "qualified_leads", "leads", "visits", "budget")
RATES = (
    "average_check",
    "qualified_to_sale",
    "lead_to_qualified",
    "visit_to_lead",
    "cost_per_qualified_lead",
)
RATE_UNITS = {"average_check": "money", "cost_per_qualified_lead": "money"}


def _who(channel: str | None, lang: str) -> str:
    from kassa.names import channel_name

    return channel_name(channel, lang) if channel is not None else _("All channels", lang)


def _short(name: str, lang: str) -> str:
    from kassa.metrics.catalog import CATALOG

    return _("Budget", lang) if name == "budget" else CATALOG[name].short(lang)


def plan_grids(plan: Plan, lang: str, currency: str) -> list[Grid]:
    """The funnel needed (with the share and revenue asked of each channel), its range and the rates."""
    from kassa.kpi.plan import show_figure

    key = Column("channel", _("Channel", lang), number=False, key=True)
    funnel = Grid(
        _("Funnel needed — {period}", lang, period=plan.period.label),
        [
            key,
            Column("share", _("Share", lang)),
            Column("revenue", _("Revenue", lang)),
            *(Column(f, _short(f, lang)) for f in FIGURES),
        ],
        default=("revenue", "sales", "qualified_leads", "leads", "budget"),
    )
    span = Grid(
        _("Range: the plan at each month's own rates", lang),
        [key, *(Column(f, _short(f, lang)) for f in FIGURES)],
        default=("sales", "qualified_leads", "leads", "budget"),
    )
    rates = Grid(
        _("Rates of {window}", lang, window=plan.window.label),
        [key, *(Column(r, _short(r, lang)) for r in RATES)],
    )

    def between(f: str, low: float | None, high: float | None) -> str:
        a, b = show_figure(f, low, lang, currency), show_figure(f, high, lang, currency)
        return a if a == b else f"{a}–{b}"

    funnel.add_rows(
        {
            "channel": _who(c.channel, lang),
            "share": fmt_percent(c.share, lang, 0),
            "revenue": fmt_money(c.revenue, currency, lang),
            **{f: show_figure(f, c.figures[f].plan, lang, currency) for f in FIGURES},
        }
        for c in plan.channels
    )
    span.add_rows(
        {
            "channel": _who(c.channel, lang),
            **{f: between(f, c.figures[f].low, c.figures[f].high) for f in FIGURES},
        }
        for c in plan.channels
    )
    rates.add_rows(
        {
            "channel": _who(c.channel, lang),
            **{r: fmt_value(c.rates[r], RATE_UNITS.get(r, "percent"), lang, currency) for r in RATES},
        }
        for c in plan.channels
    )
    if plan.by_channel and len(plan.channels) > 1:
        total = plan.total()
        funnel.total = {
            "channel": _("Total", lang),
            "share": fmt_percent(1.0, lang, 0),
            "revenue": fmt_money(plan.target, currency, lang),
            **{f: show_figure(f, total[f].plan, lang, currency) for f in FIGURES},
        }
        span.total = {
            "channel": _("Total", lang),
            **{f: between(f, total[f].low, total[f].high) for f in FIGURES},
        }
    return [funnel, span, rates]


def print_plan(plan: Plan, lang: str, currency: str, columns: list[str] | None, wide: bool) -> None:
    from kassa.kpi.plan import shortfall_lines

    args = {
        "period": plan.period.label,
        "target": fmt_money(plan.target, currency, lang),
        "window": plan.window.label,
        "months": plan.months,
    }
    if plan.by_channel:
        intro = _(
            "Plan for {period}: revenue {target}, from the rates of {window} ({months} months). The target "
            "is split over channels by their share of the revenue of those months.",
            lang,
            **args,
        )
    else:
        intro = _(
            "Plan for {period}: revenue {target}, from the rates of {window} ({months} months).", lang, **args
        )
    print_prose(console, intro)
    console.print()
    grids = plan_grids(plan, lang, currency)
    check_columns(grids, columns)
    print_grids(console, grids, columns=columns, wide=wide)
    console.print()
    for line in shortfall_lines(plan, lang, currency):
        print_prose(console, line, hanging="  ")
    if plan.left_out:
        from kassa.names import channel_name

        names = ", ".join(channel_name(ch, lang) for ch in plan.left_out)
        print_prose(
            console, _("No revenue in those months, so nothing asked of: {names}.", lang, names=names)
        )
    for w in plan.warnings:
        print_prose(console, _("warning: {text}", lang, text=w), hanging="  ", style="yellow")


@COMMANDS.register(name="plan")
def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        revenue: Annotated[float, typer.Option("--revenue", help="The revenue target of the month.")],
        period: Annotated[str, typer.Option("--period", help="The month planned, YYYY-MM.")],
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        by: Annotated[
            str | None,
            typer.Option("--by", help="channel: a funnel per channel (default: the whole business)."),
        ] = None,
        months: Annotated[
            int, typer.Option("--months", help="Rates from this many months before the period.")
        ] = 3,
        write_contract: Annotated[
            Path | None,
            typer.Option(
                "--write-contract", help="Write a KPI contract draft with the plan's targets (YAML)."
            ),
        ] = None,
        save: Annotated[
            bool,
            typer.Option(
                "--save", help="Keep the plan beside the warehouse: the month-end report shows plan vs fact."
            ),
        ] = False,
        as_json: JsonOption = False,
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """The funnel a revenue target needs: sales, qualified leads, leads, visits and budget per channel.

        Example: kassa plan --revenue 6000000 --period 2026-12 --by channel --write-contract plan.yaml
        """
        from kassa.kpi.plan import draft_contract, make_plan
        from kassa.kpi.plan_saved import PlanFolder

        if by not in (None, "channel"):
            raise KassaError(f"--by {by}: a plan is by channel or for the whole business (leave --by out)")
        with open_warehouse(db, config) as wh:
            plan = make_plan(wh, revenue, period, by_channel=by == "channel", months=months)
            currency = wh.settings.currency
        shown = parse_columns(columns)
        if write_contract is not None:
            command = f"kassa plan --revenue {revenue:.0f} --period {plan.period.label}"
            command += (" --by channel" if plan.by_channel else "") + (
                f" --months {months}" if months != 3 else ""
            )
            write_contract.write_text(draft_contract(plan, command=command), encoding="utf-8")
        saved = PlanFolder.for_db(db).save(plan) if save else None
        if as_json:
            print_json(
                plan.to_json()
                | {
                    "contract": str(write_contract) if write_contract else None,
                    "saved": str(saved) if saved else None,
                }
            )
            return
        print_plan(plan, lang, currency, shown, wide)
        if write_contract is not None:
            print_prose(console, _("Contract draft written to {path}.", lang, path=str(write_contract)))
        if saved is not None:
            print_prose(console, _("Plan saved to {path}.", lang, path=str(saved)))
