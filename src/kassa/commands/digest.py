"""``kassa digest``: the month-end (or weekly) digest to the recipients of kassa.yaml, or shown with --dry-run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    LangOption,
    console,
    err_console,
    open_warehouse,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator
from kassa.report.layout import print_prose

if TYPE_CHECKING:
    from kassa.kpi import Contract

_ = Translator("cli")


def _contracts(db: Path, named: list[str], lang: str) -> list[Contract]:
    """Every contract saved beside the warehouse (as the dashboard's KPI page scores them), then ``named``."""
    from kassa.errors import ConfigError
    from kassa.kpi.saved import ContractFolder, resolve_contract

    folder = ContractFolder.for_db(db)
    out = []
    for slug in folder.slugs():
        try:
            out.append(folder.read(slug).contract)
        except ConfigError as exc:  # the KPI page lists it with its errors; the digest goes without it
            print_prose(
                err_console, _("warning: contract left out: {error}", lang, error=str(exc)), style="yellow"
            )
    names = {c.name for c in out}
    # A contract both saved and named is scored once.
    return out + [c for c in (resolve_contract(n, db) for n in named) if c.name not in names]


@COMMANDS.register(name="digest")
def register(app: typer.Typer) -> None:
    @app.command("digest")
    def digest(
        period: Annotated[
            str,
            typer.Option(
                "--period",
                help="YYYY-MM (against the month before), YYYY-Www (the week so far, against the same days of "
                "the week before), previous-month or previous-week (for cron).",
            ),
        ],
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print what each recipient would get; send nothing.")
        ] = False,
        to: Annotated[
            str | None, typer.Option("--to", help="Send to this recipient only (its name).")
        ] = None,
        contract: Annotated[
            list[str] | None,
            typer.Option(
                "--contract",
                help="A KPI contract to score besides those saved with the warehouse (a YAML file, a saved "
                "name or a shipped example: pays_for_activity, pays_for_money); repeatable.",
            ),
        ] = None,
        today: Annotated[
            str | None,
            typer.Option("--today", help="The date periods count from, YYYY-MM-DD (default: today there)."),
        ] = None,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Send the digest: money in, revenue, cost and ROMI against the period before, where the chain breaks
        and whose move it is, the KPI contracts' bonuses, the chart and the report.

        Recipients, the SMTP server and the dashboard's public address are in kassa.yaml (digest:); the bot
        token and the SMTP password in KASSA_TELEGRAM_TOKEN / KASSA_SMTP_PASSWORD or <db>.notify.json
        (docs/digest.md). With no recipients declared, --dry-run shows the owner's digest in --lang.

        Example: kassa digest --db shop.duckdb --period previous-month --dry-run
        """
        from kassa.errors import ConfigError
        from kassa.notify.send import check_secrets, chosen, deliver, plan
        from kassa.settings import DigestRecipient

        day = _day(today)
        declared = True
        with open_warehouse(db, config) as wh:
            st = wh.settings.digest
            recipients = chosen(st, to)
            if not recipients:
                if not dry_run:
                    raise ConfigError(
                        _(
                            "no recipients: add digest: recipients: to kassa.yaml beside {db} (docs/digest.md)",
                            lang,
                            db=str(db),
                        )
                    )
                print_prose(
                    console,
                    _(
                        "No recipients in kassa.yaml: the owner's digest in {language}.",
                        lang,
                        language=str(lang),
                    ),
                )
                declared = False
                recipients = [
                    DigestRecipient(
                        name="owner",
                        channel="email",
                        address="owner@localhost",
                        language="ru" if lang == Lang.RU else "en",
                    )
                ]
            if not dry_run:
                check_secrets(db, recipients, st)
            contracts = _contracts(db, contract or [], lang)
            outgoing = plan(wh, recipients, period, contracts=contracts, render=not dry_run, today=day)
        if dry_run:
            for o in outgoing:
                r = o.recipient
                where = o.where if declared else _("no recipient declared", lang)
                console.rule(f"{r.name} · {where} · {r.language} · {r.role}", style="dim")
                messages = o.messages()
                for i, text in enumerate(messages, 1):
                    if len(messages) > 1:
                        console.print(_("— message {i} of {n} —", lang, i=i, n=len(messages)), style="dim")
                    console.print(text, markup=False, highlight=False)
                console.print(
                    _("Attachments: {files}", lang, files=", ".join(o.files())), markup=False, highlight=False
                )
                for w in o.digest.warnings:
                    print_prose(console, _("warning: {text}", lang, text=w), hanging="  ", style="yellow")
            print_prose(console, _("Dry run: nothing was sent.", lang))
            return

        def done(o: object, what: str) -> None:
            from kassa.notify.send import Outgoing

            assert isinstance(o, Outgoing)
            print_prose(
                console,
                _("Sent to {name} ({where}): {what}", lang, name=o.recipient.name, where=o.where, what=what),
            )

        deliver(db, outgoing, st, done=done)


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint="--today") from None
