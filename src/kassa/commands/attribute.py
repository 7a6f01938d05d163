"""``kassa attribute``: credit conversions and money to channels with several models side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    JsonOption,
    LangOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator, fmt_money, fmt_number, fmt_percent
from kassa.names import campaign_name, channel_name
from kassa.report.layout import Column, Grid, print_grids, print_prose

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.attribution import Attribution, PathTable

_ = Translator("attribution")

FILE_VALUES = ("conversions", "value")
MAX_MATRIX_STATES = 12  # a square matrix wider than this does not fit a terminal; the long list does
MAX_TRANSITION_ROWS = 40


def _model_params(order: int, half_life: float, position: str, shapley_method: str) -> dict[str, Any]:
    try:
        first, last = (float(x) for x in position.split(","))
    except ValueError:
        raise typer.BadParameter("two shares, e.g. 0.4,0.4", param_hint="--position") from None
    return {
        "order": order,
        "half_life_days": half_life,
        "first": first,
        "last": last,
        "method": shapley_method,
    }


def _name(channel: str) -> str:
    from kassa.attribution.journeys import CAMPAIGN_SEP

    return channel.replace(CAMPAIGN_SEP, " / ")


def _campaign_json(data: Any) -> Any:
    """JSON for ``--by campaign``: rows keyed by a (channel, campaign) touch get both fields; state
    names elsewhere show ``channel / campaign``."""
    from kassa.attribution.journeys import CAMPAIGN_SEP

    if isinstance(data, dict):
        out = {k: _campaign_json(v) for k, v in data.items()}
        ch = data.get("channel")
        if isinstance(ch, str) and CAMPAIGN_SEP in ch:
            channel, campaign = ch.split(CAMPAIGN_SEP, 1)
            out = {
                "channel": channel,
                "campaign": campaign,
                **{k: v for k, v in out.items() if k != "channel"},
            }
        return out
    if isinstance(data, list):
        return [_campaign_json(x) for x in data]
    if isinstance(data, str):
        return _name(data)
    return data


def _display(state: str, lang: str) -> str:
    """A channel, a ``channel·campaign`` touch or a chain state as people read it."""
    from kassa.attribution.journeys import CAMPAIGN_SEP

    if CAMPAIGN_SEP in state:
        channel, campaign = state.split(CAMPAIGN_SEP, 1)
        return campaign_name(channel, campaign, lang)
    return channel_name(state, lang)


def _credits_grid(
    results: dict[str, Attribution], column: str, money: bool, currency: str, lang: str, title: str
) -> Grid:
    from kassa.attribution import MODELS

    grid = Grid(
        title,
        [Column("channel", _("Channel", lang), number=False, key=True)]
        + [Column(name, _(MODELS[name].short, lang)) for name in results],
    )
    channels = sorted({c for r in results.values() for c in r.credits["channel"].to_list()})

    def show(v: float) -> str:
        return fmt_money(v, currency, lang) if money else fmt_number(v, lang, 2)

    grid.add_rows(
        {"channel": _display(ch, lang), **{n: show(r.credit(ch, column)) for n, r in results.items()}}
        for ch in channels
    )
    grid.total = {
        "channel": _("Total", lang),
        **{n: show(float(r.credits[column].sum())) for n, r in results.items()},
    }
    return grid


def _markov_grids(r: Attribution, lang: str) -> list[Grid]:
    effects = Grid(
        _("Markov removal effects (order {order})", lang, order=r.params["order"]),
        [
            Column("channel", _("Channel", lang), number=False, key=True),
            Column("conversions", _("On conversions", lang)),
            Column("value", _("On value", lang)),
        ],
    )
    effects.add_rows(
        {
            "channel": _display(row["channel"], lang),
            "conversions": fmt_percent(row["removal_effect_conversions"], lang),
            "value": fmt_percent(row["removal_effect_value"], lang),
        }
        for row in r.extras["removal_effects"].to_dicts()
    )
    rows = r.extras["transition_matrix"].to_dicts()
    states = sorted({x["from"] for x in rows} - {"(start)"})
    title = _("Transition probabilities", lang)
    if len(states) <= MAX_MATRIX_STATES:
        cols = states + ["(conversion)", "(null)"]
        matrix = Grid(
            title,
            [Column("from", _("From \\ to", lang), number=False, key=True)]
            + [Column(c, _display(c, lang)) for c in cols],
        )
        p = {(x["from"], x["to"]): x["probability"] for x in rows}
        matrix.add_rows(
            {
                "from": _display(s, lang),
                **{c: fmt_percent(p[(s, c)], lang) if (s, c) in p else "·" for c in cols},
            }
            for s in ["(start)", *states]
        )
        return [effects, matrix]
    matrix = Grid(
        title,
        [
            Column("from", _("From", lang), number=False, key=True),
            Column("to", _("To", lang), number=False),
            Column("probability", _("Probability", lang)),
        ],
    )
    top = sorted(rows, key=lambda x: -x["probability"])[:MAX_TRANSITION_ROWS]
    matrix.add_rows(
        {
            "from": _display(x["from"], lang),
            "to": _display(x["to"], lang),
            "probability": fmt_percent(x["probability"], lang),
        }
        for x in top
    )
    if len(rows) > len(top):
        matrix.caption = _("{n} more transitions: see --json", lang, n=len(rows) - len(top))
    return [effects, matrix]


@COMMANDS.register(name="attribute")
def register(app: typer.Typer) -> None:
    @app.command("attribute")
    def attribute_cmd(
        paths_file: Annotated[
            Path | None,
            typer.Option(
                "--paths",
                help="Aggregated path file (ChannelAttribution layout: path, total_conversions, total_conversion_value, total_null).",
            ),
        ] = None,
        db: Annotated[
            Path | None,
            typer.Option(
                "--db", help="Warehouse file (DuckDB), when not reading --paths.", envvar="KASSA_DB"
            ),
        ] = None,
        period: Annotated[
            str | None,
            typer.Option("--period", help="With --db: YYYY-MM, YYYY-MM..YYYY-MM or YYYY-MM-DD..YYYY-MM-DD."),
        ] = None,
        model: Annotated[
            str,
            typer.Option(
                "--model",
                # The registry's names written out: reading them imports the models (tests/test_cli_startup.py).
                help="Model(s), comma-separated, or all: first_touch, last_touch, last_non_direct, linear, "
                "time_decay, position_based, markov, shapley.",
            ),
        ] = "all",
        value: Annotated[
            str | None,
            typer.Option(
                "--value",
                help="What to credit. --paths: conversions (default) or value; --db: revenue (default), paid_revenue, sales or leads.",
            ),
        ] = None,
        by: Annotated[str, typer.Option("--by", help="With --db: channel or campaign.")] = "channel",
        order: Annotated[int, typer.Option("--order", help="Markov order, 1..4.")] = 1,
        half_life: Annotated[float, typer.Option("--half-life", help="Time decay half-life in days.")] = 7.0,
        position: Annotated[
            str, typer.Option("--position", help="Position-based shares of the first and last touch.")
        ] = "0.4,0.4",
        shapley_method: Annotated[
            str, typer.Option("--shapley-method", help="exact (default), subsets or sampling.")
        ] = "exact",
        exclude_direct: Annotated[
            bool,
            typer.Option(
                "--exclude-direct", help="Drop direct touches from paths that have any other touch."
            ),
        ] = False,
        direct: Annotated[
            str | None,
            typer.Option(
                "--direct", help="--paths: names of direct channels, comma-separated (default: direct)."
            ),
        ] = None,
        lookback: Annotated[
            float | None,
            typer.Option(
                "--lookback", help="Lookback window in days (--db default: the lookback_days setting)."
            ),
        ] = None,
        sep: Annotated[
            str, typer.Option("--sep", help="--paths: separator between channels in a path.")
        ] = ">",
        allow_missing_nulls: Annotated[
            bool,
            typer.Option(
                "--allow-missing-nulls",
                help="--paths: accept a file without total_null (converting paths only).",
            ),
        ] = False,
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Credit conversions and revenue to channels under eight models side by side.

        Markov is solved exactly (order 1..4) and shows its removal effects and transition matrix.

        Example: kassa attribute --paths paths.csv --model all --value value

        Example: kassa attribute --db shop.duckdb --period 2026-10 --by campaign --value revenue
        """
        from kassa.attribution import attribute, parse_model_list, read_path_file
        from kassa.attribution.journeys import MEASURES, By, Measure, warehouse_paths
        from kassa.attribution.paths import Note

        names = parse_model_list(model)
        params = _model_params(order, half_life, position, shapley_method)
        currency = "RUB"
        if paths_file is not None:
            if db is not None or period is not None:
                raise KassaError("use either --paths FILE or --db with --period, not both")
            what = value or "conversions"
            if what not in FILE_VALUES:
                raise KassaError(f"--value {what!r}: with --paths use {' or '.join(FILE_VALUES)}")
            table: PathTable = read_path_file(
                paths_file,
                sep=sep,
                allow_missing_nulls=allow_missing_nulls,
                direct=tuple(d.strip() for d in (direct or "direct").split(",") if d.strip()),
            )
            if what == "value" and not table.has_value:
                raise KassaError(
                    f"{paths_file}: no column 'total_conversion_value', so value cannot be credited; use --value conversions"
                )
            column, money, source, lookback_days = what, what == "value", str(paths_file), lookback
        else:
            if period is None:
                raise KassaError("give --paths FILE, or --db with --period YYYY-MM")
            what = value or "revenue"
            if what not in MEASURES:
                raise KassaError(f"--value {what!r}: with --db use {', '.join(MEASURES)}")
            if by not in ("channel", "campaign"):
                raise KassaError(f"--by {by!r}: use channel or campaign")
            with open_warehouse(db or Path(DEFAULT_DB), config) as wh:
                currency = wh.settings.currency
                measure = cast(Measure, {"leads": "leads", "paid_revenue": "paid_revenue"}.get(what, "sales"))
                table = warehouse_paths(
                    wh,
                    period,
                    measure,
                    by=cast(By, by),
                    lookback_days=int(lookback) if lookback is not None else None,
                )
            money = what in ("revenue", "paid_revenue")
            column, source, lookback_days = ("value" if money else "conversions"), f"{period}", None
        results = attribute(
            table, names, params=params, lookback_days=lookback_days, exclude_direct=exclude_direct
        )
        warnings = sorted({w for r in results.values() for w in r.warnings})
        if as_json:
            models = {n: r.to_json() for n, r in results.items()}
            print_json(
                {
                    "source": source,
                    "credited": what,
                    "column": column,
                    "by": by if paths_file is None else "channel",
                    "models": _campaign_json(models) if paths_file is None and by == "campaign" else models,
                    "warnings": warnings,
                }
            )
            return
        title = _("Credited {what} — {source}", lang, what=_(what, lang), source=source)
        grids = [_credits_grid(results, column, money, currency, lang, title)]
        if "markov" in results:
            grids += _markov_grids(results["markov"], lang)
        print_grids(console, grids)
        for w in warnings:
            text = _(w.msgid, lang, **w.params) if isinstance(w, Note) else w
            print_prose(console, f"{_('warning', lang)}: {text}", hanging="  ", style="yellow")
