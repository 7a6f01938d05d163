"""Dashboard users: a sidecar JSON file next to the warehouse, passwords hashed with argon2id.

Why a sidecar and not a table in the DuckDB file: DuckDB allows one writer per file and the running
``kassa serve`` is that writer, so ``kassa user add`` could not add a user while the dashboard runs.
The sidecar ``<warehouse>.users.json`` (mode 0600) is small, is read again whenever it changes on disk,
and also keeps the random key that signs session cookies, so sessions survive a restart of the server
and end when the file (the key) is replaced.

Roles (issue 7): ``owner`` everything; ``marketer`` uploads data and edits contracts; ``agency`` sees only
the channels in its ``scope``; ``viewer`` reads.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kassa.errors import ConfigError
from kassa.i18n import Translator
from kassa.store.places import beside

_ = Translator("web")

Role = Literal["owner", "marketer", "agency", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "marketer", "agency", "viewer")
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" defaults
# Verifying against this keeps a login for an unknown name as slow as one for a known name.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    scope: tuple[str, ...] = ()  # channels an agency may see; empty for the other roles
    password_hash: str = field(default="", repr=False)

    @property
    def channel_filter(self) -> list[str] | None:
        """The channels this user may see, or ``None`` for all of them."""
        return list(self.scope) if self.role == "agency" else None

    def can(self, action: Literal["read", "upload", "edit_contracts", "edit_schedule", "see_totals"]) -> bool:
        if action == "read":
            return True
        if action == "edit_schedule":  # what runs and who is sent what: the owner's call
            return self.role == "owner"
        if action in ("upload", "edit_contracts"):
            return self.role in ("owner", "marketer")
        return self.role != "agency"  # see_totals: the company's totals cover channels outside a scope


def users_path(db: Path) -> Path:
    """``kassa.duckdb`` -> ``kassa.duckdb.users.json``."""
    return beside(db, ".users.json")


def sessions_path(db: Path) -> Path:
    """``kassa.duckdb`` -> ``kassa.duckdb.sessions.json``: the open sessions' ids (written by the server
    on every login and logout, so apart from the users file, which ``kassa user add`` writes)."""
    return beside(db, ".sessions.json")


class UserStore:
    """Users of one warehouse; every read checks the file's modification time, so edits apply at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = {"secret": "", "users": {}}

    @classmethod
    def for_db(cls, db: Path) -> UserStore:
        return cls(users_path(db))

    def _load(self) -> dict[str, Any]:
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._data = None, {"secret": "", "users": {}}
                return self._data
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"{self.path}: not a kassa users file ({exc})") from None
                if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
                    raise ConfigError(f"{self.path}: field 'users' is missing")
                self._stamp, self._data = stamp, data
            return self._data

    def _save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        # Created 0600: the file holds password hashes and the session key.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
        os.replace(tmp, self.path)

    def users(self) -> list[User]:
        return [self._user(n, u) for n, u in sorted(self._load()["users"].items())]

    def has_users(self) -> bool:
        return bool(self._load()["users"])

    @staticmethod
    def _user(name: str, raw: dict[str, Any]) -> User:
        role = raw.get("role")
        if role not in ROLES:
            raise ConfigError(f"user {name!r}: field 'role' must be one of {', '.join(ROLES)}, not {role!r}")
        return User(name, role, tuple(raw.get("scope") or ()), str(raw.get("password_hash", "")))

    def get(self, name: str) -> User | None:
        raw = self._load()["users"].get(name)
        return None if raw is None else self._user(name, raw)

    def secret(self) -> str:
        """The key that signs session cookies; created with the file."""
        data = self._load()
        if not data.get("secret"):
            data = {**data, "secret": secrets.token_urlsafe(32)}
            self._save(data)
            self._load()
        return str(self._load()["secret"])

    def add(
        self, name: str, password: str, role: str, scope: list[str] | None = None, lang: str = "en"
    ) -> User:
        """Add or replace a user. An agency needs a scope; the other roles must not have one."""
        name = name.strip()
        if not name:
            raise ConfigError(_("user name: must not be empty", lang))
        if role not in ROLES:
            raise ConfigError(
                _("--role: use one of {roles}, not {role}", lang, roles=", ".join(ROLES), role=role)
            )
        scope = [s.strip() for s in scope or [] if s.strip()]
        if role == "agency" and not scope:
            raise ConfigError(
                _("--scope: an agency user needs the channels it may see (e.g. --scope vk_ads)", lang)
            )
        if role != "agency" and scope:
            raise ConfigError(
                _("--scope: only an agency user has a scope; a {role} sees every channel", lang, role=role)
            )
        if len(password) < MIN_PASSWORD:
            raise ConfigError(_("password: at least {n} characters", lang, n=MIN_PASSWORD))
        data = self._load()
        users = dict(data["users"])
        users[name] = {"role": role, "scope": scope, "password_hash": _hasher.hash(password)}
        self._save({"secret": data.get("secret") or secrets.token_urlsafe(32), "users": users})
        user = self.get(name)
        assert user is not None
        return user

    def remove(self, name: str) -> bool:
        data = self._load()
        if name not in data["users"]:
            return False
        users = {k: v for k, v in data["users"].items() if k != name}
        self._save({**data, "users": users})
        return True

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches; ``None`` otherwise (in about the same time either way)."""
        user = self.get(name)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user
