"""One module per page of the dashboard, each holding its router (the HTML page and its JSON twin) and
the builder of what the page shows: the Funnel page is ``kassa.web.pages.funnel``, and so on.

:data:`ROUTERS` is the order :func:`kassa.web.app.create_app` includes them in.
"""

from kassa.web.pages import (
    alerts,
    channels,
    customers,
    data,
    data_connections,
    funnel,
    kpi,
    login,
    overview,
    plan,
    reports,
    schedule,
    static,
)

ROUTERS = (
    login.router,
    static.router,
    overview.router,
    funnel.router,
    channels.router,
    customers.router,
    reports.router,
    data.router,
    data_connections.router,
    kpi.router,
    plan.router,
    alerts.router,
    schedule.router,
)

__all__ = ["ROUTERS"]
