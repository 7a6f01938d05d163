"""What a page's route takes from the request, as FastAPI dependencies: the dashboard, the session, the
user and the channels they may see, the language and the period.

A page's GET route takes :data:`Page` (a :class:`PageVisit`): the session is checked first, so a request
without one gets the login page before its language or period is looked at. A form's POST route takes
:data:`Visitor` (a :class:`Visit`), checks the form's CSRF token with :meth:`Visit.allowed` and reads the
language or period (:func:`lang_of`, :func:`period_of`) only after it, so a forged form is refused before
anything else about it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from kassa.errors import KassaError
from kassa.i18n import LANGS, Translator
from kassa.period import Period
from kassa.web.render import link_of, page_response, wants_json
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

Action = Literal["upload", "edit_contracts", "edit_schedule"]


def allowed(session: tuple[User, str], csrf: str, action: Action | None = None) -> User:
    """The session's user if the form's token is the session's and the user may do ``action``; else 403."""
    user, token = session
    if not same_token(csrf, token) or (action is not None and not user.can(action)):
        raise Forbidden()
    return user


@dataclass(frozen=True)
class Visit:
    """A request with a session: the signed-in user's (or, on a dashboard without users, the local one's)."""

    request: Request
    dash: Dashboard
    session: tuple[User, str]

    @property
    def user(self) -> User:
        return self.session[0]

    @property
    def scope(self) -> list[str] | None:
        """The channels the user may see (an agency's), or ``None`` for all of them."""
        return self.user.channel_filter

    def allowed(self, csrf: str, action: Action | None = None) -> User:
        """The user, if the form's token is the session's and the user may do ``action``; else 403."""
        return allowed(self.session, csrf, action)

    def render(self, template: str, data: dict[str, Any], status: int = 200) -> Response:
        """``data`` as the JSON twin, or ``template`` filled with it."""
        return page_response(self.request, self.dash, template, data, self.session, status)

    def done(self, data: dict[str, Any], then: str, *, status: int = 200, anchor: str = "") -> Response:
        """The answer to a form that changed something: ``data`` as JSON, or a redirect to the page ``then``
        (at ``anchor``) with the request's period and language kept."""
        if wants_json(self.request):
            return JSONResponse(data, status_code=status)
        return RedirectResponse(link_of(self.request, then) + anchor, status_code=303)


@dataclass(frozen=True)
class PageVisit(Visit):
    """A visit to a page: also the period it shows and its language."""

    period: Period
    lang: str


def visit_of(request: Request, session: Session) -> Visit:
    return Visit(request, dashboard_of(request), session)


Visitor = Annotated[Visit, Depends(visit_of)]


def page_visit_of(visit: Visitor, period: PeriodParam, lang: Lang) -> PageVisit:
    return PageVisit(visit.request, visit.dash, visit.session, period, lang)


Page = Annotated[PageVisit, Depends(page_visit_of)]
