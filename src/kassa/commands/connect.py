"""``kassa connect``, ``kassa connections``, ``kassa disconnect`` and ``kassa sync``: live connections.

Where connections and secrets are kept is :mod:`kassa.store.connections`; what a sync does is
:mod:`kassa.store.sync` (docs/connections.md). This module parses options and prints.
"""

from __future__ import annotations

import datetime as dt
import sys
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
    err_console,
    print_json,
    settings_for,
)
from kassa.commands import COMMANDS
from kassa.commands._connect_help import ConnectCommand
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator, fmt_number
from kassa.report.layout import Column, Grid, print_grids, print_prose

if TYPE_CHECKING:
    from kassa.store.sync import Loader, SyncOutcome
    from kassa.store.warehouse import FileReport

_ = Translator("cli")

SERVICE_HELP = "yandex-direct, yandex-metrica, vk-ads, google-ads, meta-ads, tbank, tochka, amocrm"


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day YYYY-MM-DD", param_hint=option) from None


def _read_token(token_stdin: bool, token_env: str | None) -> tuple[str, str | None]:
    """(where the secret is, the token when it goes to the secrets file)."""
    if token_stdin and token_env:
        raise typer.BadParameter("give either --token-stdin or --token-env, not both")
    if token_env:
        if not token_env.replace("_", "").isalnum():
            raise typer.BadParameter(
                f"{token_env!r} is not an environment variable name", param_hint="--token-env"
            )
        return f"env:{token_env}", None
    if not token_stdin:
        raise typer.BadParameter(
            "give the token: --token-stdin (read from standard input) or --token-env VAR"
        )
    token = sys.stdin.readline().strip()
    if not token:
        raise typer.BadParameter("standard input held no token", param_hint="--token-stdin")
    return "file", token


@COMMANDS.register(name="connect")
def register(app: typer.Typer) -> None:
    @app.command("connect", cls=ConnectCommand)
    def connect(
        service: Annotated[
            str | None, typer.Argument(help=f"Service: {SERVICE_HELP}.", show_default=False)
        ] = None,
        name: Annotated[
            str | None, typer.Option("--name", help="Your name for this connection (d, direct-shop).")
        ] = None,
        token_stdin: Annotated[
            bool,
            typer.Option(
                "--token-stdin", help="Read the token from standard input (kept in <db>.secrets.json, 0600)."
            ),
        ] = False,
        token_env: Annotated[
            str | None,
            typer.Option(
                "--token-env",
                help="Take the token from this environment variable at every sync (not stored).",
            ),
        ] = None,
        base_url: Annotated[
            str | None,
            typer.Option(
                "--base-url", help="Where the service answers: a sandbox, a proxy or a local server."
            ),
        ] = None,
        client_login: Annotated[
            str | None,
            typer.Option(
                "--client-login", help="Direct: the advertiser's login, for an agency's token (Client-Login)."
            ),
        ] = None,
        include_vat: Annotated[
            bool,
            typer.Option(
                "--include-vat", help="Direct: ask for costs with VAT (IncludeVAT=YES); default net."
            ),
        ] = False,
        counter: Annotated[
            str | None,
            typer.Option(
                "--counter",
                help="Metrica: the counter's number (Metrica → Settings, or the tag's ym(NUMBER, …)). Required.",
            ),
        ] = None,
        client_id: Annotated[
            str | None,
            typer.Option(
                "--client-id",
                help="VK Ads: the API app's client_id (VK Ads → Settings → API); its client secret is the "
                "token (--token-stdin or --token-env). Google Ads: the OAuth client's id. Required for both. "
                "amoCRM OAuth: the integration's id.",
            ),
        ] = None,
        customer_id: Annotated[
            str | None,
            typer.Option("--customer-id", help="Google Ads: the account's id, 123-456-7890 (required)."),
        ] = None,
        login_customer_id: Annotated[
            str | None,
            typer.Option(
                "--login-customer-id",
                help="Google Ads: the manager account's id, when access is through a manager (login-customer-id).",
            ),
        ] = None,
        account: Annotated[
            str | None,
            typer.Option(
                "--account",
                help="Meta Ads: the ad account, act_1234567890. T-Bank: our account's 20 digits; "
                "Tochka: the account/BIC, 40702810010000012345/044525104. Required.",
            ),
        ] = None,
        currency: Annotated[
            str | None,
            typer.Option("--currency", help="The account's currency (ISO code); default: the business's."),
        ] = None,
        campaign: Annotated[
            str | None,
            typer.Option(
                "--campaign", help="Which campaign value matches utm_campaign: id (default) or name."
            ),
        ] = None,
        subdomain: Annotated[
            str | None,
            typer.Option("--subdomain", help="amoCRM: the account, shop for shop.amocrm.ru (required)."),
        ] = None,
        client_secret_stdin: Annotated[
            bool,
            typer.Option(
                "--client-secret-stdin",
                help="amoCRM OAuth: read the integration's secret key from standard input (kept in "
                "<db>.secrets.json, 0600).",
            ),
        ] = False,
        auth_code: Annotated[
            str | None,
            typer.Option(
                "--auth-code",
                help="amoCRM OAuth: the integration's authorization code (single-use, 20 minutes), "
                "exchanged for a token pair now.",
            ),
        ] = None,
        redirect_uri: Annotated[
            str | None,
            typer.Option(
                "--redirect-uri", help="amoCRM OAuth: the integration's redirect URI, as set in it."
            ),
        ] = None,
        mapping: Annotated[
            Path | None,
            typer.Option(
                "--mapping",
                help="amoCRM: the stage mapping YAML a file import takes (stages by id or name).",
            ),
        ] = None,
        look_back: Annotated[
            int | None,
            typer.Option(
                "--look-back",
                help="Days every sync re-reads (revised statistics); default 7 (Metrica 3, banks 5).",
                min=1,
            ),
        ] = None,
        remove: Annotated[
            str | None, typer.Option("--remove", help="Remove the connection of this name.")
        ] = None,
        db: DbOption = Path(DEFAULT_DB),
        lang: LangOption = Lang.EN,
    ) -> None:
        """Save a connection to a service, with its token kept beside the warehouse (never in it).

        Example: kassa connect yandex-direct --name d --client-login shop --token-stdin --db shop.duckdb < token.txt

        Each service's own options, with an example: kassa connect SERVICE --help (kassa connect google-ads --help).

        Where to get each token and which rights it needs: docs/connections.md.
        """
        from kassa.store.connections import PLANNED, SERVICES, Connection, Connections

        conns = Connections(db)
        if remove:
            conns.remove(remove)
            console.print(_("connection {name} removed (its token too)", lang, name=repr(remove)))
            return
        if service is None or name is None:
            raise typer.BadParameter(
                "name the service and the connection: kassa connect SERVICE --name NAME …"
            )
        if service not in SERVICES:
            later = " (not connectable yet)" if service in PLANNED else ""
            raise typer.BadParameter(
                f"{service!r}{later}; choose from: {', '.join(SERVICES)}", param_hint="SERVICE"
            )
        if service == "yandex-metrica" and not (counter and counter.isdigit()):
            raise typer.BadParameter(
                "the counter's number, e.g. --counter 24169438 (Metrica → Settings)", param_hint="--counter"
            )
        if service == "google-ads":
            from kassa.connectors.google_ads import digits

            if not (customer_id and digits(customer_id).isdigit()):
                raise typer.BadParameter(
                    "the account's id, e.g. --customer-id 123-456-7890", param_hint="--customer-id"
                )
            if login_customer_id and not digits(login_customer_id).isdigit():
                raise typer.BadParameter(
                    "the manager's id, e.g. 987-654-3210", param_hint="--login-customer-id"
                )
            customer_id = digits(customer_id)
            login_customer_id = digits(login_customer_id) if login_customer_id else None
        if service == "meta-ads":
            from kassa.connectors.meta_ads import account_id

            if not (account and account_id(account).isdigit()):
                raise typer.BadParameter(
                    "the ad account, e.g. --account act_1234567890", param_hint="--account"
                )
            account = account_id(account)
        if service in ("tbank", "tochka"):
            from kassa.connectors import tbank, tochka

            try:
                account = (tbank if service == "tbank" else tochka).check_account(account or "")
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--account") from None
        if service in ("vk-ads", "google-ads") and not client_id:
            raise typer.BadParameter(
                "the API app's client_id (VK Ads → Settings → API), e.g. --client-id 4a8c2f",
                param_hint="--client-id",
            )
        if service == "amocrm":
            _connect_amocrm(
                conns, name, subdomain, client_id, client_secret_stdin, auth_code, redirect_uri, mapping,
                base_url, look_back, token_stdin, token_env, db, lang,
            )  # fmt: skip
            return
        if campaign not in (None, "id", "name"):
            raise typer.BadParameter("use id or name", param_hint="--campaign")
        if currency is not None and (len(currency) != 3 or not currency.isalpha()):
            raise typer.BadParameter("a three-letter ISO code such as RUB", param_hint="--currency")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise typer.BadParameter("a URL starting with http:// or https://", param_hint="--base-url")
        secret, token = _read_token(token_stdin, token_env)
        options: dict[str, object] = {"include_vat": include_vat} if service == "yandex-direct" else {}
        for key, value in (("client_login", client_login), ("currency", currency and currency.upper()),
                           ("campaign", campaign), ("counter", counter), ("client_id", client_id),
                           ("customer_id", customer_id), ("login_customer_id", login_customer_id),
                           ("account", account)):  # fmt: skip
            if value:
                options[key] = value
        conn = Connection(
            name=name,
            service=service,
            options=options,
            base_url=base_url,
            secret=secret,
            look_back=look_back or SERVICES[service].look_back,
        )
        conns.save(conn, token)
        where = _("the environment variable {var}", lang, var=token_env) if token_env else str(conns.secrets)
        console.print(
            _(
                "connection {name} ({service}) saved; its token is in {where}",
                lang,
                name=repr(name),
                service=SERVICES[service].title,
                where=where,
            )
        )
        console.print(_("next: kassa sync {name} --db {db}", lang, name=name, db=db))

    @app.command("disconnect")
    def disconnect(
        name: Annotated[str, typer.Argument(help="The connection's name (kassa connections).")],
        db: DbOption = Path(DEFAULT_DB),
        lang: LangOption = Lang.EN,
    ) -> None:
        """Remove a connection and its stored token. Its synced data stays (kassa imports undo removes it).

        Example: kassa disconnect d --db shop.duckdb
        """
        from kassa.store.connections import Connections

        Connections(db).remove(name)
        console.print(_("connection {name} removed (its token too)", lang, name=repr(name)))

    @app.command("connections")
    def connections(
        db: DbOption = Path(DEFAULT_DB), as_json: JsonOption = False, lang: LangOption = Lang.EN
    ) -> None:
        """List connections: service, account, where the token is, last day synced, last outcome (never a token).

        Example: kassa connections --db shop.duckdb
        """
        from kassa.store.connections import Connections

        conns = Connections(db).all()
        rows: list[dict[str, Any]] = [
            {
                "name": c.name,
                "service": c.service,
                "options": c.options,
                "base_url": c.base_url,
                "token": "environment variable " + c.secret[4:]
                if c.secret.startswith("env:")
                else "secrets file",
                "look_back": c.look_back,
                "synced_through": c.synced_through,
                "last_sync": c.last_sync,
            }
            for c in conns
        ]
        if as_json:
            print_json(rows)
            return
        if not rows:
            print_prose(
                console, _("No connections yet: kassa connect SERVICE --name NAME --token-stdin --db …", lang)
            )
            return
        grid = Grid(
            _("Connections", lang),
            [
                Column("name", _("name", lang), number=False, key=True),
                Column("service", _("service", lang), number=False),
                Column("account", _("account", lang), number=False),
                Column("token", _("token", lang), number=False),
                Column("synced", _("synced through", lang), number=False),
                Column("last", _("last sync", lang), number=False),
            ],
        )
        grid.add_rows(
            {
                "name": r["name"],
                "service": r["service"],
                "account": str(
                    r["options"].get("subdomain")
                    or r["options"].get("client_login")
                    or r["options"].get("customer_id")
                    or (
                        (
                            r["options"]["account"]
                            if r["service"] in ("tbank", "tochka")
                            else f"act_{r['options']['account']}"
                        )
                        if r["options"].get("account")
                        else ""
                    )
                    or (
                        _("counter {counter}", lang, counter=r["options"]["counter"])
                        if r["options"].get("counter")
                        else ""
                    )
                    or (
                        _("app {client_id}", lang, client_id=r["options"]["client_id"])
                        if r["options"].get("client_id")
                        else "—"
                    )
                )
                + (f" @ {r['base_url']}" if r["base_url"] else ""),
                "token": r["token"],
                "synced": r["synced_through"] or "—",
                "last": "—"
                if not r["last_sync"]
                else f"{r['last_sync']['at']} {'ok' if r['last_sync']['ok'] else 'failed'}",
            }
            for r in rows
        )
        print_grids(console, [grid])

    @app.command("sync")
    def sync(
        names: Annotated[
            list[str] | None, typer.Argument(help="Connections to sync (default: all).", show_default=False)
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", help="First day, YYYY-MM-DD (default: the cursor minus the look-back)."),
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="Last day, YYYY-MM-DD (default: yesterday).")
        ] = None,
        deadline: Annotated[
            float | None,
            typer.Option(
                "--deadline",
                help="Seconds one connection's fetch may take, polls included, before the sync gives up "
                "(default: Direct 1800 per report, Metrica 3600).",
                min=0.001,
            ),
        ] = None,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Fetch what is new from each connection; each connection's sync is one import batch (undoable).

        Exits 1 when any connection failed; the others still load.
        Example: kassa sync d --since 2026-10-01 --until 2026-10-31 --db shop.duckdb
        """
        from kassa.store.connections import Connections
        from kassa.store.sync import sync_one, today_in

        first, last = _day(since, "--since"), _day(until, "--until")
        store = Connections(db)
        chosen = [store.get(n) for n in names] if names else store.all()
        if not chosen:
            raise KassaError("no connections yet: kassa connect SERVICE --name NAME --token-stdin --db …")
        settings = settings_for(db, config)
        load = _loader(db, config)
        outcomes = []
        for conn in chosen:
            with console.status(f"syncing {conn.name}…"):
                outcomes.append(
                    sync_one(
                        store,
                        conn,
                        load,
                        since=first,
                        until=last,
                        today=today_in(settings),
                        deadline=deadline,
                    )
                )
        if as_json:
            print_json({"connections": [o.to_json() for o in outcomes]})
        else:
            _print_outcomes(outcomes, lang)
        if any(o.error for o in outcomes):
            raise typer.Exit(1)


def _connect_amocrm(
    conns: Any, name: str, subdomain: str | None, client_id: str | None, secret_stdin: bool,
    auth_code: str | None, redirect_uri: str | None, mapping: Path | None, base_url: str | None,
    look_back: int | None, token_stdin: bool, token_env: str | None, db: Path, lang: str,
) -> None:  # fmt: skip
    """``kassa connect amocrm``: a long-lived token, or OAuth's authorization code exchanged now."""
    from kassa.connectors import amocrm
    from kassa.sources.crm_mapping import load_crm_mapping
    from kassa.store.connections import SERVICES, Connection
    from kassa.store.sync import amocrm_account, amocrm_keeper

    try:
        host = amocrm.account_host(subdomain or "")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--subdomain") from None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise typer.BadParameter("a URL starting with http:// or https://", param_hint="--base-url")
    if mapping is not None:
        mapping = mapping.resolve()
        load_crm_mapping(mapping)  # refused now, naming file:line and field, rather than at every sync
    oauth = bool(client_id or secret_stdin or auth_code)
    options: dict[str, object] = {"subdomain": host}
    if mapping is not None:
        options["mapping"] = str(mapping)
    if oauth:
        if token_stdin or token_env:
            raise typer.BadParameter("OAuth takes --client-secret-stdin, not --token-stdin/--token-env")
        for value, option in ((client_id, "--client-id"), (auth_code, "--auth-code"),
                              (redirect_uri, "--redirect-uri")):  # fmt: skip
            if not value:
                raise typer.BadParameter(
                    f"amoCRM OAuth needs {option} (docs/connections.md)", param_hint=option
                )
        if not secret_stdin:
            raise typer.BadParameter(
                "give the integration's secret key on standard input", param_hint="--client-secret-stdin"
            )
        secret = sys.stdin.readline().strip()
        if not secret:
            raise typer.BadParameter("standard input held no secret key", param_hint="--client-secret-stdin")
        options |= {"client_id": client_id, "redirect_uri": redirect_uri}
        where, token = "file", secret
    else:
        where, token = _read_token(token_stdin, token_env)
    conn = Connection(name=name, service="amocrm", options=options, base_url=base_url, secret=where,
                      look_back=look_back or SERVICES["amocrm"].look_back)  # fmt: skip
    if oauth:
        assert auth_code is not None
        # The code first: a connection whose code was refused is not saved. The pair is saved with the
        # secret (saving a connection forgets its old pair: connecting again is re-authorising).
        pair = amocrm.Client(amocrm_account(conn, token or "")).exchange(auth_code)
        conns.save(conn, token)
        amocrm_keeper(conns, name).save(pair)
    else:
        conns.save(conn, token)
    shown = _("the environment variable {var}", lang, var=token_env) if token_env else str(conns.secrets)
    console.print(
        _(
            "connection {name} ({service}) saved; its token is in {where}",
            lang,
            name=repr(name),
            service=SERVICES["amocrm"].title,
            where=shown,
        )  # fmt: skip
    )
    console.print(_("next: kassa sync {name} --db {db}", lang, name=name, db=db))


def _loader(db: Path, config: Path | None) -> Loader:
    """Load a staged answer into the warehouse, or hand it to the running dashboard that holds it."""

    def load(report: Path, options: Path, fmt: str, origin: str) -> FileReport | list[FileReport]:
        from kassa.cli_common import open_warehouse
        from kassa.errors import WarehouseTaken
        from kassa.store import handoff
        from kassa.store.sync import load_report

        try:
            with open_warehouse(db, config, write=True) as wh:
                return load_report(wh, report, options, fmt, origin)
        except WarehouseTaken:
            job = {
                "op": "sync",
                "file": str(report),
                "options": str(options),
                "format": fmt,
                "origin": origin,
            }
            answer = handoff.hand_over(db, job)
            if answer is None:
                raise
            files: list[FileReport] = handoff.report_from(answer).files
            return files[0] if len(files) == 1 else files  # amoCRM: leads and deals

    return load


def _print_outcomes(outcomes: list[SyncOutcome], lang: str) -> None:
    grid = Grid(
        _("Sync", lang),
        [
            Column("name", _("connection", lang), number=False, key=True),
            Column("days", _("days", lang), number=False),
            Column("loaded", _("loaded", lang)),
            Column("replaced", _("replaced", lang)),
            Column("batch", _("batch", lang), number=False),
            Column("requests", _("requests", lang)),
            Column("retries", _("retries", lang)),
        ],
    )
    rows = []
    for o in outcomes:
        b = o.batch
        rows.append(
            {
                "name": o.connection,
                "days": "—" if o.since is None else f"{o.since} – {o.until}",
                # amoCRM's sync is two batches, its leads and its deals: both shown.
                "loaded": fmt_number(sum(x.rows_loaded for x in o.batches), lang) if b else "—",
                "replaced": fmt_number(sum(x.rows_replaced for x in o.batches), lang) if b else "—",
                "batch": ("failed" if o.error else "—")
                if not b
                else ", ".join(
                    str(x.batch_id)
                    if x.batch_id
                    else _("already #{batch}", lang, batch=x.already_imported_as)
                    for x in o.batches
                ),
                "requests": fmt_number(o.requests, lang),
                "retries": fmt_number(o.retries, lang),
            }
        )
    grid.add_rows(rows)
    print_grids(console, [grid])
    for o in outcomes:
        for w in o.warnings[:20]:
            print_prose(err_console, _("warning: ", lang) + str(w), hanging="  ")
        if o.error:
            from kassa.connectors.messages import in_lang

            error = in_lang(o.said or o.error, lang)
            print_prose(
                err_console,
                _("error: {connection}: {error}", lang, connection=o.connection, error=error),
                hanging="  ",
                style="red",
            )
