"""``kassa serve`` (the web dashboard) and ``kassa user add|list|remove`` (who may log in to it)."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli_common import DEFAULT_DB, ConfigOption, DbOption, LangOption, console, settings_for
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator
from kassa.report.layout import print_prose

if TYPE_CHECKING:
    from fastapi import FastAPI

_ = Translator("web")

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_can_listen(db: Path, host: str, lang: str = "en") -> bool:
    """Whether logins are required; refuses (KassaError) to serve a warehouse without users beyond loopback."""
    from kassa.web.users import UserStore

    has_users = UserStore.for_db(db).has_users()
    if not has_users and not is_loopback(host):
        raise KassaError(
            _(
                "No dashboard users yet, so kassa serve listens on 127.0.0.1 only (not {host}). "
                "Add one first: kassa user add NAME --role owner --db {db}",
                lang,
                host=host,
                db=db,
            )
        )
    return has_users


def open_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for :func:`run_dashboard`; ``OSError`` if the port is taken.

    Binding before the slow work (``kassa demo`` builds the company first) tells of a taken port at once,
    and nothing else can take the port between the check and the server's start.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a port a stopped server just left (TIME_WAIT) can be taken again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


def dashboard_config(web: FastAPI, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> Any:
    """uvicorn's configuration of the dashboard (``kassa serve``, ``kassa demo`` and the tests' server).

    ``proxy_headers=False``: uvicorn would otherwise believe ``X-Forwarded-For`` from 127.0.0.1, so any
    local client could send a new address with every login and never be slowed down; forwarded headers
    are the app's business, believed only from ``kassa serve --trusted-proxy`` (:func:`create_app`).
    ``ws="none"``: the dashboard has no websockets, so no websocket library is imported.
    """
    import uvicorn

    return uvicorn.Config(
        web, host=host, port=port, log_level="warning", ws="none", proxy_headers=False, **options
    )


def trusted_proxies(values: list[str] | None, lang: str = "en") -> list[str]:
    """``--trusted-proxy`` values as addresses or networks; a clear error naming the option otherwise."""
    out = []
    for v in values or []:
        try:
            out.append(str(ipaddress.ip_network(v.strip(), strict=False)))
        except ValueError:
            raise KassaError(
                _(
                    "--trusted-proxy: {value} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)",
                    lang,
                    value=v,
                )
            ) from None
    return out


def run_dashboard(web: FastAPI, host: str, port: int, sock: socket.socket | None = None) -> None:
    """Serve the dashboard until Ctrl+C; on the way out its lifespan closes the warehouse (the write lock).

    ``sock`` is a socket from :func:`open_port`; without one uvicorn binds ``host:port`` itself.
    """
    import uvicorn

    # Stopping waits at most 3 s for requests still open (an upload being sent), then the import under
    # way is cancelled and rolled back (at most 5 s): the server is gone within the 10 s a service
    # manager allows.
    server = uvicorn.Server(dashboard_config(web, host, port, timeout_graceful_shutdown=3))
    try:
        server.run(sockets=None if sock is None else [sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down gracefully, then re-raised the Ctrl+C it caught: stopping is the normal end
    finally:
        if sock is not None:
            sock.close()


@COMMANDS.register(name="serve")
def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        host: Annotated[
            str, typer.Option("--host", help="Address to listen on; beyond 127.0.0.1 only with users.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
        max_upload_mb: Annotated[
            float,
            typer.Option("--max-upload-mb", min=0.001, help="Largest file the Data page takes, in MiB."),
        ] = 50,
        trusted_proxy: Annotated[
            list[str] | None,
            typer.Option(
                "--trusted-proxy",
                help="Address (or network) of a reverse proxy whose X-Forwarded-For is believed (repeat it).",
            ),
        ] = None,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Start the web dashboard on the warehouse (it holds the warehouse's write lock while it runs).

        Example: kassa user add anna --role owner --db kassa.duckdb && kassa serve --db kassa.duckdb
        """
        from kassa.web import create_app

        required = check_can_listen(db, host, lang)
        proxies = trusted_proxies(trusted_proxy, lang)
        try:
            sock = open_port(host, port)  # before opening the warehouse: a taken port is said plainly
        except OSError as exc:
            raise KassaError(
                _(
                    "Cannot listen on {host}:{port}: {reason}. Stop what uses it, or choose another port: "
                    "kassa serve --port {other}",
                    lang,
                    host=host,
                    port=port,
                    reason=exc.strerror,
                    other=port + 1,
                )
            ) from None
        web = create_app(
            db,
            settings_for(db, config),
            users_required=required,
            max_upload_bytes=int(max_upload_mb * 1024 * 1024),
            port=port,
            trusted_proxies=proxies,
            config_path=config,
        )
        print_prose(
            console,
            _(
                "Dashboard of {db} at http://{host}:{port}/ (Ctrl+C stops it)",
                lang,
                db=db,
                host=host,
                port=port,
            ),
        )
        if not required:
            print_prose(
                console,
                _(
                    "No users yet: anyone on this machine can open it. Add one: kassa user add NAME --role owner",
                    lang,
                ),
            )
        run_dashboard(web, host, port, sock)

    users = typer.Typer(help="Who may log in to the dashboard (kassa serve).", no_args_is_help=True)
    app.add_typer(users, name="user")

    @users.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="Login name.")],
        role: Annotated[str, typer.Option("--role", help="owner, marketer, agency or viewer.")],
        scope: Annotated[
            list[str] | None, typer.Option("--scope", help="Channel an agency may see (repeat it).")
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
        ] = False,
        db: DbOption = Path(DEFAULT_DB),
        lang: LangOption = Lang.EN,
    ) -> None:
        """Add a dashboard user (or set a new password and role); the password is stored as an argon2 hash.

        Example: kassa user add agency1 --role agency --scope vk_ads --db kassa.duckdb
        """
        from kassa.web.users import ROLES, UserStore

        if role not in ROLES:
            raise typer.BadParameter(f"use one of {', '.join(ROLES)}", param_hint="--role")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt(_("Password", lang), hide_input=True, confirmation_prompt=True)
        store = UserStore.for_db(db)
        user = store.add(name, password, role, scope, lang)
        console.print(
            _("User {name} ({role}) saved in {path}", lang, name=user.name, role=user.role, path=store.path),
            highlight=False,
        )

    @users.command("list")
    def list_users(db: DbOption = Path(DEFAULT_DB), lang: LangOption = Lang.EN) -> None:
        """List dashboard users: name, role and the channels of an agency.

        Example: kassa user list --db kassa.duckdb
        """
        from kassa.web.users import UserStore

        found = UserStore.for_db(db).users()
        if not found:
            console.print(_("No dashboard users yet.", lang))
        for u in found:
            console.print(f"{u.name}\t{u.role}\t{','.join(u.scope)}", highlight=False)

    @users.command("remove")
    def remove(
        name: Annotated[str, typer.Argument(help="Login name.")],
        db: DbOption = Path(DEFAULT_DB),
        lang: LangOption = Lang.EN,
    ) -> None:
        """Remove a dashboard user (their open sessions end at their next request).

        Example: kassa user remove agency1 --db kassa.duckdb
        """
        from kassa.web.users import UserStore

        if not UserStore.for_db(db).remove(name):
            raise KassaError(_("No dashboard user {name}.", lang, name=name))
        console.print(_("User {name} removed.", lang, name=name), highlight=False)
