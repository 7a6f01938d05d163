"""``kassa conversions``: tell the ad platforms which clicks became qualified leads, sales or payments
(offline conversions; docs/conversions.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator

if TYPE_CHECKING:
    from kassa.store import Warehouse

_ = Translator("cli")

# Written out (not imported): importing kassa.link loads Ibis, and `kassa --help` must not.
GOALS = ("qualified_lead", "sale", "paid")
PLATFORMS = ("metrica", "google-ads", "meta")
REASONS = {
    "no_metrica_id": _("no Metrica ClientID or yclid on the lead or its visit"),
    "no_gclid": _("no gclid on the lead or its visit"),
    "no_fbclid": _("no fbclid (e-mail and phone are kept only as keyed hashes, which Meta cannot match)"),
    "no_value": _("no amount"),
}


def _period(period: str | None, since: str | None, until: str | None) -> str:
    if period and (since or until):
        raise typer.BadParameter("give --period or --since/--until, not both", param_hint="--period")
    if period:
        return period
    if since or until:
        if not (since and until):
            raise typer.BadParameter("give both --since and --until (YYYY-MM-DD)", param_hint="--since")
        return f"{since}..{until}"
    return ""  # the month of the latest deal or lead (_latest_month)


@COMMANDS.register(name="conversions")
def register(app: typer.Typer) -> None:
    @app.command("conversions")
    def conversions(
        goal: Annotated[str, typer.Option("--goal", help="qualified_lead, sale or paid.")],
        platform: Annotated[str, typer.Option("--platform", help="metrica, google-ads or meta.")],
        period: Annotated[
            str | None, typer.Option("--period", help="e.g. 2026-10 (or --since/--until).")
        ] = None,
        since: Annotated[str | None, typer.Option("--since", help="First day, YYYY-MM-DD.")] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="Last day, YYYY-MM-DD (inclusive).")
        ] = None,
        export: Annotated[
            Path | None, typer.Option("--export", help="Write the platform's upload CSV here.")
        ] = None,
        upload: Annotated[
            str | None, typer.Option("--upload", help="Send through this connection (kassa connections).")
        ] = None,
        target: Annotated[
            str | None,
            typer.Option("--target", help="The platform's goal / conversion name (default: the goal)."),
        ] = None,
        action: Annotated[
            str | None,
            typer.Option(
                "--action", help="Google Ads: the conversion action's id (or stored on the connection)."
            ),
        ] = None,
        pixel: Annotated[
            str | None,
            typer.Option("--pixel", help="Meta: the pixel (dataset) id (or stored on the connection)."),
        ] = None,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Offline conversions: the leads and sales each ad platform can tie to its clicks, exported as its
        upload CSV or uploaded once (a re-run sends only what is new).

        Example: kassa conversions --goal sale --platform metrica --period 2026-10 --export out.csv
        """
        from kassa.link import conversions as conv
        from kassa.link.money_trail import MoneyTrail
        from kassa.notify.conversions import export_text, upload_new
        from kassa.period import Period

        if goal not in GOALS:
            raise typer.BadParameter(f"use one of {', '.join(GOALS)}", param_hint="--goal")
        if platform not in PLATFORMS:
            raise typer.BadParameter(f"use one of {', '.join(PLATFORMS)}", param_hint="--platform")
        if export is None and upload is None and not as_json:
            raise typer.BadParameter(
                "give --export FILE, --upload CONNECTION or --json", param_hint="--export"
            )
        name = target or goal
        with open_warehouse(db, config, write=upload is not None) as wh:
            span = Period.parse(_period(period, since, until) or _latest_month(wh))
            st = wh.settings
            found = conv.build(wh, MoneyTrail(wh), goal, platform, span, st)
            rows = [conv.to_row(c, name) for c in found.items]
            sent_before = sent = 0
            batches: list[int] = []
            refused: list[str] = []
            if export is not None:
                export.write_text(export_text(platform, rows, goal, st.timezone), encoding="utf-8")
            if upload is not None:
                sent_before, sent, batches, refused = upload_new(
                    wh, db, upload, platform, goal, name, str(span), rows, {"action": action, "pixel": pixel}
                )
        out = {
            "goal": goal,
            "platform": platform,
            "period": str(span),
            "target": name,
            "candidates": found.candidates,
            "ready": len(rows),
            "skipped": dict(found.skipped),
            "already_sent": sent_before,
            "sent": sent,
            "refused": refused,
            "batches": batches,
            "export": str(export) if export else None,
        }
        if as_json:
            if refused:
                print_json(out)
                raise typer.Exit(1)
            print_json(
                out
                if export or upload
                else {**out, "conversions": [{**r, "at": r["at"].isoformat()} for r in rows]}
            )
            return
        console.print(
            _(
                "{ready} of {candidates} conversions ({goal}, {period}) can go to {platform}.",
                lang,
                ready=len(rows),
                candidates=found.candidates,
                goal=goal,
                period=str(span),
                platform=platform,
            )
        )
        for reason, n in sorted(found.skipped.items()):
            console.print(_("  skipped {n}: {why}", lang, n=n, why=_(REASONS[reason], lang)))
        if export is not None:
            console.print(_("Written: {path}", lang, path=str(export)))
        if upload is not None:
            console.print(
                _("Sent {sent}; {before} were already sent before.", lang, sent=sent, before=sent_before)
            )
            for line in refused:
                console.print(_("  refused: {why}", lang, why=line), style="yellow")
        if refused:
            raise typer.Exit(1)


def _latest_month(wh: Warehouse) -> str:
    """Without a period: the month of the latest deal closed or lead created (the demo: 2026-10)."""
    row = wh.ibis.con.execute(
        "SELECT greatest((SELECT max(closed_at) FROM deals), (SELECT max(created_at) FROM leads))"
    ).fetchone()
    if not row or row[0] is None:
        raise KassaError("the warehouse has no leads or deals yet; nothing to send")
    return f"{row[0]:%Y-%m}"
