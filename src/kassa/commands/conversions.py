"""``kassa conversions``: tell the ad platforms which clicks became qualified leads, sales or payments
(offline conversions; docs/conversions.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
SERVICE = {"metrica": "yandex-metrica", "google-ads": "google-ads", "meta": "meta-ads"}
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
                export.write_text(_export(platform, rows, goal, st.timezone), encoding="utf-8")
            if upload is not None:
                sent_before, sent, batches, refused = _upload(
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


def _export(platform: str, rows: list[dict[str, Any]], goal: str, zone: str) -> str:
    if platform == "metrica":
        from kassa.connectors import metrica_conversions

        text = metrica_conversions.csv_text(rows, "CLIENT_ID")
        if any(r["id_type"] == "YCLID" for r in rows):
            raise KassaError(
                "some conversions have only a yclid: Metrica takes one kind of identifier per file; "
                "use --upload, which sends them as a second file"
            )
        return text
    if platform == "google-ads":
        from kassa.connectors import google_conversions

        return google_conversions.csv_text(rows, zone)
    from kassa.connectors import meta_conversions

    return meta_conversions.csv_text(rows, goal)


def _upload(
    wh: Warehouse,
    db: Path,
    name: str,
    platform: str,
    goal: str,
    target: str,
    period: str,
    rows: list[dict[str, Any]],
    opts: dict[str, str | None],
) -> tuple[int, int, list[int], list[str]]:
    """Send what was not sent before through connection ``name``: (how many were sent before, how many
    now, batch ids, refusals).

    Each batch the platform accepted is logged at once (:mod:`kassa.store.conversions_log`); a failure
    later keeps what was logged, and the next run sends only the rest."""
    from kassa.connectors import google_ads, google_conversions, meta_conversions, metrica_conversions
    from kassa.connectors.offline_upload import Target
    from kassa.store import conversions_log
    from kassa.store.connections import Connections

    conns = Connections(db)
    conn = conns.get(name)
    if conn.service != SERVICE[platform]:
        raise KassaError(
            f"connection {name!r} is {conn.service}; --platform {platform} needs a {SERVICE[platform]} connection"
        )
    if platform == "metrica":
        account = str(conn.options.get("counter") or "")
    elif platform == "google-ads":
        account = str(conn.options.get("customer_id") or "")
        action = opts.get("action") or str(conn.options.get("conversion_action") or "")
        if not action:
            raise KassaError(
                f"connection {name!r}: give the conversion action's id with --action (Google Ads: Goals → "
                "Conversions → the action's id in its URL, ctId=…)"
            )
    else:
        account = opts.get("pixel") or str(conn.options.get("pixel") or "")
        if not account:
            raise KassaError(f"connection {name!r}: give the Meta pixel (dataset) id with --pixel")
    done = conversions_log.already_sent(wh, platform, account, target)
    fresh = [r for r in rows if r["key"] not in done]
    before = len(rows) - len(fresh)
    batches: list[int] = []
    sent = 0

    def accepted(keys: list[str], answer: str) -> None:
        nonlocal sent
        batches.append(
            conversions_log.record(
                wh, platform=platform, connection=name, account=account, goal=goal, target=target,
                period=period, keys=keys, answer=answer, now=dt.datetime.now(dt.UTC),
            )
        )  # fmt: skip
        sent += len(keys)

    if not fresh:
        return before, 0, [], []
    token = conns.token(conn)
    if platform == "metrica":
        tgt = Target(name, token, conn.base_url or metrica_conversions.BASE_URL, account)
        metrica_conversions.upload(tgt, fresh, accepted)
        return before, sent, batches, []
    if platform == "meta":
        from kassa.connectors import meta_ads

        tgt = Target(name, token, conn.base_url or meta_ads.BASE_URL, account)
        meta_conversions.upload(tgt, fresh, goal, accepted)
        return before, sent, batches, []
    client = google_ads.Client(
        google_ads.Account(
            connection=conn.name,
            customer_id=account,
            client_id=str(conn.options.get("client_id") or ""),
            secret=google_ads.Secret.parse(token, conn.name),
            login_customer_id=conn.options.get("login_customer_id") or None,
            base_url=conn.base_url or google_ads.BASE_URL,
            token_url=f"{conn.base_url.rstrip('/')}/token" if conn.base_url else google_ads.TOKEN_URL,
        ),
        google_ads.Tokens.from_json(conns.oauth(conn.name)),
        lambda pair: conns.save_oauth(conn.name, pair.to_json()),
    )
    keys, refused = google_conversions.upload(client, fresh, action)
    if keys:
        accepted(keys, "")
    return before, sent, batches, refused
