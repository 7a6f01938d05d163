"""Connections to web services: their settings beside the warehouse, their secrets in a file of their own.

``<db>.connections.json`` holds each connection's service, name, options, base URL, look-back window,
where its secret is (``file`` or ``env:VAR``) and its cursor (the last day synced). ``<db>.secrets.json``
holds the tokens given with ``--token-stdin`` and, under ``oauth``, the access/refresh token pairs kassa
obtained itself (VK Ads, Google Ads, amoCRM), replaced atomically the moment a refresh returns a new pair. Both are written atomically (a temporary file, then a
rename) and created ``0600``; the secrets file only under its lock (``<db>.secrets.json.lock``,
:meth:`Connections.locked`), so two processes saving pairs at once never write back a retired one.

Why beside the warehouse and not in it (as the users file, docs/architecture.md): a running
``kassa serve`` holds DuckDB's one write lock, and ``kassa connect`` must work meanwhile; and a secret
must never enter the warehouse, whose file is copied into backups and handed to accountants. The
connection's history is in the warehouse anyway: every sync is an import batch named after it.

Why the secrets have a file apart from the settings: ``kassa connections`` and the settings file can be
shown, diffed and backed up without handing out a token; the secrets file is the one to keep private.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kassa.errors import ConfigError, KassaError
from kassa.store.places import beside

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_held = threading.local()  # the secrets locks this thread holds (Connections.locked)


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # as typed: yandex-direct
    title: str  # as people know it
    look_back: int  # days re-read by every sync (platforms revise recent statistics)


SERVICES = {
    "yandex-direct": ServiceSpec("yandex-direct", "Yandex Direct", look_back=7),
    # ~99 % of sessions are complete within three days (Logs API docs): re-read those.
    "yandex-metrica": ServiceSpec("yandex-metrica", "Yandex Metrica", look_back=3),
    "vk-ads": ServiceSpec("vk-ads", "VK Ads", look_back=7),
    "google-ads": ServiceSpec("google-ads", "Google Ads", look_back=7),
    # Meta revises conversions for its attribution window (up to 28 days; 7 by default): a week.
    "meta-ads": ServiceSpec("meta-ads", "Meta Ads", look_back=7),
    # Banks post an operation days after it happened (a late credit, a correction): re-read five.
    "tbank": ServiceSpec("tbank", "T-Bank", look_back=5),
    "tochka": ServiceSpec("tochka", "Tochka", look_back=5),
    # Leads are read by the day they were last changed, in Moscow time: two days more cover an account
    # set to another zone and a sync that ran while the day was still being worked.
    "amocrm": ServiceSpec("amocrm", "amoCRM", look_back=3),
}
PLANNED: tuple[str, ...] = ()


@dataclass
class Connection:
    name: str
    service: str
    options: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    secret: str = "file"  # "file" (<db>.secrets.json) or "env:VAR"
    look_back: int = 7
    synced_through: str | None = None  # ISO day: the cursor
    last_sync: dict[str, Any] | None = None  # when, outcome, days: for `kassa connections`

    @property
    def spec(self) -> ServiceSpec:
        return SERVICES[self.service]

    @property
    def cursor(self) -> dt.date | None:
        return dt.date.fromisoformat(self.synced_through) if self.synced_through else None


def connections_path(db: Path) -> Path:
    return beside(db, ".connections.json")


def secrets_path(db: Path) -> Path:
    return beside(db, ".secrets.json")


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Atomically replace ``path`` with ``data`` as JSON, the file created 0600 (never briefly wider)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read(path: Path, key: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a kassa {key} file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise ConfigError(f"{path}: field {key!r} is missing")
    found: dict[str, Any] = data[key]
    return found


class Connections:
    """The connections of one warehouse (read afresh on every call: another command may have changed them)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = connections_path(db)
        self.secrets = secrets_path(db)

    def all(self) -> list[Connection]:
        out = []
        for name, raw in sorted(_read(self.path, "connections").items()):
            try:
                out.append(Connection(name=name, **{k: v for k, v in raw.items() if k != "name"}))
            except TypeError as exc:
                raise ConfigError(f"{self.path}: connection {name!r}: {exc}") from None
        return out

    def get(self, name: str) -> Connection:
        found = {c.name: c for c in self.all()}
        if name not in found:
            known = ", ".join(found) or "none yet (kassa connect SERVICE --name NAME …)"
            raise KassaError(f"no connection {name!r}; connections: {known}")
        return found[name]

    def _save_all(self, conns: list[Connection]) -> None:
        data = {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in conns}
        _write_private(self.path, {"connections": data})

    def save(self, conn: Connection, token: str | None) -> None:
        """Add or replace ``conn``; ``token`` (with ``secret == "file"``) goes to the secrets file."""
        if not NAME.match(conn.name):
            raise KassaError(
                f"connection name {conn.name!r}: use 1–40 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        others = [c for c in self.all() if c.name != conn.name]
        if conn.secret == "file" and not token:
            raise KassaError(f"connection {conn.name!r}: no token given (--token-stdin or --token-env VAR)")
        with self.locked():
            tokens = _read(self.secrets, "tokens")
            oauth = self._oauth_all()
            oauth.pop(conn.name, None)  # connecting again is re-authorising: the old pair is not reused
            if conn.secret == "file":
                tokens[conn.name] = token
            else:
                tokens.pop(conn.name, None)
            # The secret first: a connection saved without its token would fail its first sync.
            _write_private(self.secrets, {"tokens": tokens, "oauth": oauth})
        self._save_all([*others, conn])

    def remove(self, name: str) -> None:
        self.get(name)
        self._save_all([c for c in self.all() if c.name != name])
        with self.locked():
            tokens, oauth = _read(self.secrets, "tokens"), self._oauth_all()
            if tokens.pop(name, None) is not None or oauth.pop(name, None) is not None:
                _write_private(self.secrets, {"tokens": tokens, "oauth": oauth})

    def token(self, conn: Connection) -> str:
        """The connection's secret, from the secrets file or the environment variable it names."""
        if conn.secret.startswith("env:"):
            var = conn.secret[4:]
            value = os.environ.get(var, "").strip()
            if not value:
                raise KassaError(f"connection {conn.name!r}: the environment variable {var} is not set")
            return value
        stored = _read(self.secrets, "tokens").get(conn.name)
        if not isinstance(stored, str) or not stored:
            raise KassaError(
                f"connection {conn.name!r}: no token in {self.secrets}; run `kassa connect {conn.service} "
                f"--name {conn.name} --token-stdin …` again"
            )
        return stored

    def _oauth_all(self) -> dict[str, Any]:
        if not self.secrets.exists():
            return {}
        data = json.loads(self.secrets.read_text(encoding="utf-8"))
        oauth = data.get("oauth") if isinstance(data, dict) else None
        return oauth if isinstance(oauth, dict) else {}

    def oauth(self, name: str) -> dict[str, Any] | None:
        """The token pair kassa obtained for connection ``name`` (VK Ads), or None before its first sync."""
        found = self._oauth_all().get(name)
        return found if isinstance(found, dict) else None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the secrets file's lock (``<db>.secrets.json.lock``, an exclusive ``flock``) meanwhile.

        A connector whose refresh token is single-use (amoCRM) refreshes and saves under it, after
        re-reading the pair: two syncs at once then refresh once, the second taking the first's pair
        instead of sending a retired token. The kernel lets go of it when a killed process dies.
        Every write of the secrets file takes it too (a read, a change, a rename): without it, another
        connection's pair saved at the same moment from a copy read a moment earlier would put back the
        retired one. Re-entrant within a thread, so a refresh holding it can save."""
        path = str(self.secrets.with_name(self.secrets.name + ".lock"))
        held: set[str] = _held.__dict__.setdefault("paths", set())
        if path in held:
            yield
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.add(path)
            yield
        finally:
            held.discard(path)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def save_oauth(self, name: str, pair: dict[str, Any]) -> None:
        """Replace ``name``'s token pair, atomically (a refresh retires the old pair at once)."""
        with self.locked():
            tokens, oauth = _read(self.secrets, "tokens"), self._oauth_all()
            oauth[name] = pair
            _write_private(self.secrets, {"tokens": tokens, "oauth": oauth})

    def record(self, name: str, *, through: dt.date | None, outcome: dict[str, Any]) -> None:
        """After a sync: move the cursor forward to ``through`` (never back) and keep its outcome."""
        conns = self.all()
        for c in conns:
            if c.name == name:
                if through is not None and (c.cursor is None or through > c.cursor):
                    c.synced_through = through.isoformat()
                c.last_sync = outcome
        self._save_all(conns)
