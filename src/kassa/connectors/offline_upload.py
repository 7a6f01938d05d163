"""What the three offline-conversion uploads share: one POST through the retry loop, errors scrubbed.

A conversion upload is a POST that changes the platform's statistics, so a timeout or a connection
dropped mid-answer is **not** retried (it may have been delivered; the platforms' dedup keys make the
next ``kassa conversions --upload`` safe instead): :class:`kassa.connectors.http.Retry` with
``idempotent=False``. 5xx answers are retried (nothing was accepted), 4xx fail at once, 401/403 name
the connection to re-authorise. The rows handed in are plain dicts (:func:`kassa.link.conversions.to_row`):
``key``, ``target``, ``id_type``, ``id_value``, ``unix``, ``at``, ``value``, ``currency``,
``hashed_email``, ``hashed_phone``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Retry, Verdict, done, excerpt, fail, retry
from kassa.connectors.pacing import Sleep
from kassa.errors import ServiceError


@dataclass(frozen=True)
class Target:
    """Where one upload goes: the connection's name, token and base URL, and the platform's account ids."""

    connection: str
    token: str = field(repr=False)
    base_url: str
    account: str  # Metrica counter, Google customer id, Meta pixel (dataset) id
    action: str = ""  # Google: the conversion action's id
    login_customer_id: str | None = None  # Google: the manager account, when the customer is under one
    developer_token: str = field(default="", repr=False)  # Google


def post(
    service: str,
    target: Target,
    url: str,
    request: str,
    send: Callable[[httpx.Client], httpx.Response],
    read: Callable[[httpx.Response], Any],
    *,
    sleep: Sleep = time.sleep,
    attempts: int = 3,
    timeout: float = 60.0,
) -> Any:
    """``send(client)`` once (retried only on 5xx and failed connections); ``read(answer)`` of a 2xx."""
    secrets = [s for s in (target.token, target.developer_token) if s]

    def scrub(text: str) -> str:
        for s in secrets:
            text = text.replace(s, "***")
        return text

    def error(problem: str) -> ServiceError:
        return m.service_error(service, target.connection, request, problem, scrub)

    def judge(resp: httpx.Response) -> Verdict:
        status = resp.status_code
        if status < 300:
            try:
                return done(read(resp))
            except ServiceError as exc:
                return fail(exc)
        problem = f"HTTP {status} {excerpt(resp.content, 300)}"
        if status in (401, 403):
            return fail(error(f"{problem}; connect again: kassa connect … --name {target.connection}"))
        if status >= 500:
            return retry(problem)
        return fail(error(problem))

    policy = Retry(attempts=attempts, backoff=1.0, jitter=False, idempotent=False, sleep=sleep)
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}) as client:
        return policy.send(lambda: send(client), judge, error, timeout=timeout)
