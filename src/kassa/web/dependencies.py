"""What a page's route takes from the request, as FastAPI dependencies: the dashboard, the session, the
user and the channels they may see, the language and the period.

A GET route declares them in the order they are checked (``session`` first: a request without one gets
the login page before its language or period is looked at). A POST route calls :func:`allowed` first and
:func:`lang_of` / :func:`period_of` only after it, as plain functions, so a forged form is refused before
anything else about it is read.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request

from kassa.errors import KassaError
from kassa.i18n import LANGS, Translator
from kassa.period import Period
from kassa.web.security import same_token
from kassa.web.state import Dashboard
from kassa.web.users import User

_ = Translator("web")


class NotAuthenticated(Exception):
    """No session: 401 as JSON, else a redirect to the login page."""


class Forbidden(Exception):
    """403: a wrong CSRF token, or a user whose role may not do this."""


class NotFound(Exception):
    """404: no such thing, or one outside the user's channels."""


def dashboard_of(request: Request) -> Dashboard:
    dash: Dashboard = request.app.state.dashboard
    return dash


DashboardState = Annotated[Dashboard, Depends(dashboard_of)]


def require_user(request: Request) -> tuple[User, str]:
    """(user, CSRF token) of the request's session; :class:`NotAuthenticated` (401 or login page) if none."""
    got = dashboard_of(request).session_of(request)
    if got is None:
        raise NotAuthenticated()
    return got


Session = Annotated[tuple[User, str], Depends(require_user)]


def current_user(session: Session) -> User:
    return session[0]


CurrentUser = Annotated[User, Depends(current_user)]


def scope_of(user: CurrentUser) -> list[str] | None:
    """The channels the user may see (an agency's), or ``None`` for all of them."""
    return user.channel_filter


Scope = Annotated[list[str] | None, Depends(scope_of)]


def lang_of(request: Request) -> str:
    """The ``lang`` query parameter (English without one); 400 for a language kassa does not speak."""
    lang = request.query_params.get("lang", "en")
    if lang not in LANGS:
        raise KassaError(
            _("Unknown language {name}; use one of {langs}.", "en", name=lang, langs=", ".join(LANGS))
        )
    return lang


Lang = Annotated[str, Depends(lang_of)]


def period_of(request: Request) -> Period:
    """The ``period`` query parameter, or the month of the latest data."""
    return Period.parse(request.query_params.get("period") or dashboard_of(request).default_period())


PeriodParam = Annotated[Period, Depends(period_of)]

Action = Literal["upload", "edit_contracts"]


def allowed(session: tuple[User, str], csrf: str, action: Action | None = None) -> User:
    """The session's user if the form's token is the session's and the user may do ``action``; else 403."""
    user, token = session
    if not same_token(csrf, token) or (action is not None and not user.can(action)):
        raise Forbidden()
    return user
