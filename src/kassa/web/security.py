"""Signed session cookies with server-side ids, CSRF tokens and the login throttle of the dashboard.

* The session cookie holds ``{"u": user name, "csrf": token, "s": stamp, "sid": session id}`` signed with
  itsdangerous (HMAC-SHA1 over a key kept in the users file) and expires after :data:`SESSION_SECONDS`; it
  is HttpOnly and SameSite=Lax, so page scripts cannot read it and other sites cannot send it with a POST.
* The session id must also be listed in :class:`SessionStore` (``<db>.sessions.json``): logging out
  removes it, so a cookie replayed after ``POST /logout`` is no session (a signature alone cannot be
  taken back).
* Every form carries the session's CSRF token (before login: a random token also set as a cookie, the
  "double submit" pattern); a POST whose token differs is refused.
* Login: :class:`LoginLimiter` slows guessing down with a growing delay per (address, user name) and, more
  gently, per user name from every address; it never locks an account for good (see its docstring).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "kassa_session"
LOGIN_CSRF_COOKIE = "kassa_login_csrf"
LOCAL_CSRF_COOKIE = "kassa_local_csrf"  # the form token of a dashboard without users (loopback only)
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000  # open sessions kept in the sessions file; the oldest go first beyond it
MAX_FAILURES = 5  # failed logins per (address, user name) before each further try has to wait
ACCOUNT_FAILURES = 20  # failed logins per user name from every address before its own delay starts
MAX_DELAY = 15 * 60  # the longest wait of one address for one user name
ACCOUNT_MAX_DELAY = 60  # the longest wait a user name's delay puts on everyone: never a lock-out
WINDOW_SECONDS = 15 * 60  # a key without failures for this long (after its delay) is forgotten
KNOWN_SECONDS = 30 * 24 * 3600  # an address that logged in to an account is known to it this long
MAX_KEYS = 10_000  # limiter entries kept in memory (least recently failed go first)
MAX_NAME = 200  # characters of a user name a login form may carry
MAX_PASSWORD = 1024


class SessionStore:
    """The ids of open sessions, in ``<db>.sessions.json`` beside the users file (mode 0600).

    Only a SHA-256 of each id is kept, with its user and expiry, so the file does not hold cookies. It is
    bounded (:data:`MAX_SESSIONS`, the oldest dropped first) and expired ids are pruned on every write.
    Read again whenever it changes on disk: deleting it ends every session.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self.clock = path, clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._ids: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _digest(sid: str) -> str:
        return hashlib.sha256(sid.encode()).hexdigest()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._ids = None, {}
            return self._ids
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                ids = data["sessions"]
                assert isinstance(ids, dict)
            except (OSError, ValueError, KeyError, TypeError, AssertionError):
                ids = {}  # unreadable: no session survives it, everybody logs in again
            self._stamp, self._ids = stamp, ids
        return self._ids

    def _save(self, ids: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"sessions": ids}, f)
        os.replace(tmp, self.path)
        self._ids, self._stamp = ids, None  # re-read the stamp on the next look

    def add(self, user: str) -> str:
        """A new session id of ``user``, valid :data:`SESSION_SECONDS`."""
        sid = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            ids = {k: v for k, v in self._load().items() if float(v.get("exp", 0)) > now}
            ids[self._digest(sid)] = {"u": user, "exp": now + SESSION_SECONDS}
            if len(ids) > MAX_SESSIONS:
                ids = dict(sorted(ids.items(), key=lambda kv: float(kv[1]["exp"]))[-MAX_SESSIONS:])
            self._save(ids)
        return sid

    def alive(self, sid: str, user: str) -> bool:
        with self._lock:
            got = self._load().get(self._digest(sid))
        return got is not None and got.get("u") == user and float(got.get("exp", 0)) > self.clock()

    def revoke(self, sid: str) -> None:
        with self._lock:
            ids = dict(self._load())
            if ids.pop(self._digest(sid), None) is not None:
                self._save(ids)

    def __len__(self) -> int:
        with self._lock:
            return len(self._load())


class Sessions:
    def __init__(self, secret: str, store: SessionStore) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="kassa-session")
        self.store = store

    def issue(self, user: str, stamp: str = "") -> tuple[str, str]:
        """(cookie value, CSRF token) of a new session; ``stamp`` ties it to the user's current password
        (:func:`password_stamp`), so a new password or role ends the sessions opened before it."""
        csrf = secrets.token_urlsafe(24)
        sid = self.store.add(user)
        return self._signer.dumps({"u": user, "csrf": csrf, "s": stamp, "sid": sid}), csrf

    def _signed(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # also SignatureExpired, its subclass
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("u", "csrf", "sid")):
            return None  # also a cookie signed before sessions had ids: its holder logs in again
        return data

    def read(self, cookie: str | None) -> dict[str, Any] | None:
        """The session of a cookie: signed by this server, not expired, and not logged out."""
        data = self._signed(cookie)
        if data is None or not self.store.alive(data["sid"], data["u"]):
            return None
        return data

    def revoke(self, cookie: str | None) -> None:
        """Log the cookie's session out: the same cookie is no session from now on."""
        data = self._signed(cookie)
        if data is not None:
            self.store.revoke(data["sid"])


def password_stamp(password_hash: str, role: str) -> str:
    """A short digest of the stored password hash and role: changes whenever either changes."""
    return hashlib.sha256(f"{role}\0{password_hash}".encode()).hexdigest()[:16]


def same_token(a: str | None, b: str | None) -> bool:
    # As bytes: compare_digest refuses non-ASCII str (a forged "é" token must be a 403, not a 500).
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


@dataclass
class _Failures:
    count: int
    last: float  # when the last counted failure happened


def backoff(failures: int, free: int, cap: float) -> float:
    """Seconds a key must wait after ``failures`` failed logins: none for the first ``free`` ones, then
    1, 2, 4 … seconds, at most ``cap``."""
    return 0.0 if failures < free else float(min(cap, 2 ** min(failures - free, 32)))


class LoginLimiter:
    """Failed logins in memory (one server process holds the warehouse), bounded and forgotten in time.

    Two keys per attempt: (address, user name) waits 1 s, 2 s, 4 s … up to :data:`MAX_DELAY` after
    :data:`MAX_FAILURES` failures; the user name from every address waits up to :data:`ACCOUNT_MAX_DELAY`
    after :data:`ACCOUNT_FAILURES`, so guessing from many addresses is slowed too. A try during the wait
    is refused without being counted, so nobody's wait grows past its cap, and an address that logged in
    to the account before (within :data:`KNOWN_SECONDS`) does not wait for the account's delay: an attack
    on an account slows its owner by :data:`ACCOUNT_MAX_DELAY` at most, and never locks them out.

    At most :data:`MAX_KEYS` failure keys and as many known addresses are kept (the least recent go
    first); a key with no failure for :data:`WINDOW_SECONDS` after its delay is dropped.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.clock, self.max_keys = clock, max_keys
        self._failures: OrderedDict[tuple[str, ...], _Failures] = OrderedDict()
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(ip: str, user: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("ip", ip, user), ("user", user)

    def _delay(self, key: tuple[str, ...], f: _Failures) -> float:
        if key[0] == "ip":
            return backoff(f.count, MAX_FAILURES, MAX_DELAY)
        return backoff(f.count, ACCOUNT_FAILURES, ACCOUNT_MAX_DELAY)

    def _prune(self, now: float) -> None:
        while self._failures:  # oldest failure first: stop at the first entry still remembered
            key, f = next(iter(self._failures.items()))
            if now - f.last <= self._delay(key, f) + WINDOW_SECONDS:
                break
            del self._failures[key]
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        while self._known and (
            len(self._known) > self.max_keys or now - next(iter(self._known.values())) > KNOWN_SECONDS
        ):
            self._known.popitem(last=False)

    def wait(self, ip: str, user: str) -> float:
        """Seconds until ``ip`` may try ``user``'s password again (0: now)."""
        now = self.clock()
        by_ip, by_user = self._keys(ip, user)
        with self._lock:
            self._prune(now)
            keys = [by_ip] if (ip, user) in self._known else [by_ip, by_user]
            waits = [0.0]
            for key in keys:
                f = self._failures.get(key)
                if f is not None:
                    waits.append(f.last + self._delay(key, f) - now)
            return max(waits)

    def failed(self, ip: str, user: str) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(ip, user):
                f = self._failures.pop(key, None) or _Failures(0, now)
                f.count, f.last = f.count + 1, now
                self._failures[key] = f  # to the end: the most recent failure
            self._prune(now)

    def succeeded(self, ip: str, user: str) -> None:
        """The right password from ``ip``: its own failures are forgotten, and it is known to the account
        (the account's failures from elsewhere stay: they are someone else's guesses)."""
        now = self.clock()
        with self._lock:
            self._failures.pop(self._keys(ip, user)[0], None)
            self._known.pop((ip, user), None)
            self._known[(ip, user)] = now
            self._prune(now)

    def __len__(self) -> int:
        """Entries held in memory: failure keys and known addresses."""
        with self._lock:
            return len(self._failures) + len(self._known)


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header of a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
