"""Connector errors a person acts on, in English and Russian (``locale/ru/LC_MESSAGES/connectors.po``).

A connector's error is built in English (logs, ``--json``, tests read it) from a :class:`Said`: the
English text that also keeps its message id and parameters, so ``kassa sync --lang ru`` can say it in
Russian (:func:`in_lang`). What the server said (an error body, an HTTP status) stays as it came.
Parameters are scrubbed of the secrets before the error exists, so neither language can show one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kassa.errors import ServiceError
from kassa.i18n import Translator

_ = Translator("connectors")


class Said(str):
    """A message: reads as its English text, keeps ``msgid`` and ``params`` (which may be Saids)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Said:
        said = super().__new__(cls, msgid.format(**params))
        said.msgid, said.params = msgid, params
        return said

    def scrubbed(self, scrub: Callable[[str], str]) -> Said:
        return Said(self.msgid, **{k: _scrub(v, scrub) for k, v in self.params.items()})

    def in_lang(self, lang: str) -> str:
        params = {k: v.in_lang(lang) if isinstance(v, Said) else v for k, v in self.params.items()}
        return _(self.msgid, lang, **params)


def _scrub(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, Said):
        return value.scrubbed(scrub)
    return scrub(value) if isinstance(value, str) else value


def in_lang(error: BaseException | str, lang: str) -> str:
    """The error's message in ``lang`` (English when it was not built from a :class:`Said`)."""
    said = getattr(error, "said", None) if not isinstance(error, Said) else error
    return said.in_lang(lang) if isinstance(said, Said) else str(error)


# Every connector's errors start so: "Yandex Direct (connection 'd'): POST …/reports (2026-10-01…): …".
WHERE = _("{service} (connection {name}): {request}: {problem}")
# What to do when the deadline of a sync is reached.
LATER = _("sync again later, or a shorter period (--since/--until)")
LATER_REPORT = _("for one report; sync again later, or a shorter period (--since/--until)")
PAST_DEADLINE = _("{why}, and waiting {seconds} s more would pass the deadline of {deadline} s; {hint}")
PAST_DEADLINE_BARE = _("{why}, and waiting {seconds} s more would pass the deadline of {deadline} s")
NO_RESULT = _("no result within the deadline of {deadline} s")
# Why it waited.
NOT_READY = _("the report is still {state} (HTTP {status})")
QUEUED = _("queued")  # Direct's 201
BEING_BUILT = _("being built")  # Direct's 202
LOG_NOT_READY = _("the log is still being prepared (status {status})")
RUN_NOT_READY = _("the report is still running ({state}, {pct} %)")
QUOTA = _("a {service} quota is exhausted ({problem})")
RATE_LIMIT = _("a Meta rate limit is reached ({problem})")
TOO_MANY = _("too many requests ({problem})")
# Refused tokens.
REAUTH_DIRECT = _(
    "{problem}; connection {name} needs re-authorising: get a new token (docs/connections.md) and run "
    "`kassa connect yandex-direct --name {connection} --token-stdin …` again"
)
REAUTH_METRICA = _(
    "access refused ({problem}); connection {name} needs re-authorising: get a new token with the "
    "Metrica read right (docs/connections.md) and run `kassa connect yandex-metrica --name {connection} "
    "--counter {counter} --token-stdin …` again"
)
REAUTH_VK = _(
    "{problem}; connection {name} needs re-authorising: run `kassa connect vk-ads --name {connection} "
    "--client-id {client_id} --token-stdin …` again with the app's client secret (docs/connections.md)"
)
REAUTH_GOOGLE = _(
    "{problem}; connection {name} needs re-authorising: get a new refresh token (docs/connections.md) "
    "and run `kassa connect google-ads --name {connection} … --token-stdin` again"
)
REAUTH_META = _(
    "{problem}; connection {name} needs re-authorising: get a new token with ads_read "
    "(docs/connections.md) and run `kassa connect meta-ads --name {connection} --account act_{account} "
    "--token-stdin …` again"
)
REAUTH_BANK = _(
    "{problem}; connection {name} needs re-authorising: get a new token with the statements right "
    "(docs/connections.md) and run `kassa connect {service} --name {connection} --account {account} "
    "--token-stdin …` again"
)
STATEMENT_NOT_READY = _("the statement is still {state}")
REAUTH_AMO = _(
    "{problem}; connection {name} needs re-authorising: make a new authorization code in the amoCRM "
    "integration (docs/connections.md) and run `kassa connect amocrm --name {connection} --subdomain "
    "{subdomain} --client-id {client_id} --client-secret-stdin --auth-code CODE --redirect-uri URI` again"
)
REAUTH_AMO_TOKEN = _(
    "{problem}; connection {name} needs re-authorising: make a new long-lived token in the amoCRM "
    "integration (docs/connections.md) and run `kassa connect amocrm --name {connection} --subdomain "
    "{subdomain} --token-stdin` again"
)
AMO_REFUSED = _("amoCRM refused the {what} ({problem})")
AMO_BLOCKED = _(
    "HTTP {status}: an HTML page instead of JSON, as amoCRM shows for a blocked or unpaid account "
    "({excerpt}); check the account in amoCRM, then sync again"
)
# Unknown accounts.
NOT_A_COUNTER = _(
    "counter {counter} is not a counter number; run `kassa connect yandex-metrica --counter NUMBER …` again"
)
NEEDS_MANAGER = _("{problem}; through a manager account, connect with --login-customer-id MANAGER_ID")


def service_error(
    service: str, connection: str, request: str, problem: str, scrub: Callable[[str], str]
) -> ServiceError:
    """The error of one request of one connection, scrubbed of its secrets, sayable in either language."""
    said = Said(WHERE, service=service, name=repr(connection), request=request, problem=problem).scrubbed(
        scrub
    )
    error = ServiceError(str(said))
    error.said = said  # type: ignore[attr-defined]
    return error
