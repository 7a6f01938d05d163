"""Signed session cookies, CSRF tokens and a login rate limit for the dashboard.

* The session cookie holds ``{"u": user name, "csrf": token}`` signed with itsdangerous (HMAC-SHA1 over a
  key kept in the users file) and expires after :data:`SESSION_SECONDS`; it is HttpOnly and SameSite=Lax,
  so page scripts cannot read it and other sites cannot send it with a POST.
* Every form carries the session's CSRF token (before login: a random token also set as a cookie, the
  "double submit" pattern); a POST whose token differs is refused.
* Login: at most :data:`MAX_FAILURES` failed attempts per (client address, user name) in
  :data:`WINDOW_SECONDS`; then 429 until the oldest failure leaves the window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "kassa_session"
LOGIN_CSRF_COOKIE = "kassa_login_csrf"
LOCAL_CSRF_COOKIE = "kassa_local_csrf"  # the form token of a dashboard without users (loopback only)
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class Sessions:
    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="kassa-session")

    def issue(self, user: str, stamp: str = "") -> tuple[str, str]:
        """(cookie value, CSRF token) of a new session; ``stamp`` ties it to the user's current password
        (:func:`password_stamp`), so a new password or role ends the sessions opened before it."""
        csrf = secrets.token_urlsafe(24)
        return self._signer.dumps({"u": user, "csrf": csrf, "s": stamp}), csrf

    def read(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # also SignatureExpired, its subclass
            return None
        return data if isinstance(data, dict) and "u" in data and "csrf" in data else None


def password_stamp(password_hash: str, role: str) -> str:
    """A short digest of the stored password hash and role: changes whenever either changes."""
    return hashlib.sha256(f"{role}\0{password_hash}".encode()).hexdigest()[:16]


def same_token(a: str | None, b: str | None) -> bool:
    # As bytes: compare_digest refuses non-ASCII str (a forged "é" token must be a 403, not a 500).
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


class LoginLimiter:
    """Failed logins per key in a sliding window (in memory: one server process holds the warehouse)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.max_failures, self.window = max_failures, window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.max_failures

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(key, now).append(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)
