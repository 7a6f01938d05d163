"""The digest's secrets (the bot token, the SMTP password): environment variables, or a file beside the
warehouse.

``<warehouse>.notify.json`` (``{"telegram_token": "…", "smtp_password": "…"}``) is the digest's own file,
apart from the other sidecars (the connections' ``<warehouse>.secrets.json`` belongs to them), so each
file has one writer. It must be readable by its owner only (mode 0600): a file that others may read is
refused, with the command that fixes it. An environment variable wins over the file. The values go
nowhere but the request that needs them: not into the warehouse, a log, the report or an error.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Literal

from kassa.errors import ConfigError
from kassa.store.places import beside

Secret = Literal["telegram_token", "smtp_password"]
ENV: dict[Secret, str] = {"telegram_token": "KASSA_TELEGRAM_TOKEN", "smtp_password": "KASSA_SMTP_PASSWORD"}


def notify_path(db: Path) -> Path:
    """``shop.duckdb`` → ``shop.duckdb.notify.json``."""
    return beside(db, ".notify.json")


def read_secret(db: Path, name: Secret) -> str | None:
    """The secret ``name`` from its environment variable, else from the file beside ``db``; ``None`` if neither."""
    if env := os.environ.get(ENV[name], "").strip():
        return env
    path = notify_path(db)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: others may read this file of secrets; run: chmod 600 {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # The reason only: a JSON error's message quotes the text around it, which may be the secret.
        raise ConfigError(f"{path}: not a JSON object ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a JSON object")
    unknown = sorted(set(data) - set(ENV))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(ENV)}")
    raw = data.get(name)
    if raw is not None and not isinstance(raw, str):
        raise ConfigError(f"{path}: field {name!r} must be text")
    return raw.strip() or None if raw else None


def require_secret(db: Path, name: Secret, why: str) -> str:
    value = read_secret(db, name)
    if value is None:
        raise ConfigError(
            f"{why} needs the {name.replace('_', ' ')}: set {ENV[name]} or put "
            f'{{"{name}": "…"}} in {notify_path(db)} (chmod 600)'
        )
    return value
