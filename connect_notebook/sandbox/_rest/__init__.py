"""`sandbox._rest`: the REST API (2010-04-01 and Monitor v1), one module per resource family.

``base`` holds what every resource shares (auth as Twilio Connect does it,
faults, JSON bodies and errors); ``ROUTES`` below is the table ``_app`` serves.
"""

from __future__ import annotations

from .accounts import AccountHandler, AccountsHandler
from .base import APIHandler, NotFoundHandler, route
from .bulkexports import DayFileHandler, DayHandler, DaysHandler, ExportHandler
from .calls import CallHandler, CallsHandler
from .connect_apps import (
    AuthorizedConnectAppHandler,
    AuthorizedConnectAppsHandler,
    ConnectAppHandler,
    ConnectAppsHandler,
)
from .events import EventHandler, EventsHandler
from .export_jobs import JobHandler, JobsHandler
from .insights import CallSummariesHandler, CallSummaryHandler
from .messages import MessageHandler, MessagesHandler
from .monitor import AlertHandler, AlertsHandler
from .usage import UsageRecordsHandler

__all__ = ["ROUTES", "APIHandler", "NotFoundHandler"]

_EXPORT = r"/v1/Exports/(?P<resource>Calls|Messages)"
_ACC = "/2010-04-01/Accounts/{account_sid}"
ROUTES: list[tuple[str, type[APIHandler]]] = [
    (r"/2010-04-01/Accounts\.json", AccountsHandler),
    (route(_ACC + r"\.json", account_sid="AC"), AccountHandler),
    (route(_ACC + r"/Calls\.json", account_sid="AC"), CallsHandler),
    (route(_ACC + r"/Calls/{sid}\.json", account_sid="AC", sid="CA"), CallHandler),
    (route(_ACC + r"/Messages\.json", account_sid="AC"), MessagesHandler),
    (route(_ACC + r"/Messages/(?P<sid>(?:SM|MM)[0-9a-fA-F]{32})\.json", account_sid="AC"), MessageHandler),
    (route(_ACC + r"/Usage/Records(?:/(?P<kind>[A-Za-z]+))?\.json", account_sid="AC"), UsageRecordsHandler),
    (route(_ACC + r"/ConnectApps\.json", account_sid="AC"), ConnectAppsHandler),
    (route(_ACC + r"/ConnectApps/{sid}\.json", account_sid="AC", sid="CN"), ConnectAppHandler),
    (route(_ACC + r"/AuthorizedConnectApps\.json", account_sid="AC"), AuthorizedConnectAppsHandler),
    (
        route(_ACC + r"/AuthorizedConnectApps/{sid}\.json", account_sid="AC", sid="CN"),
        AuthorizedConnectAppHandler,
    ),
    (r"/v1/Alerts", AlertsHandler),
    (route(r"/v1/Alerts/{sid}", sid="NO"), AlertHandler),
    (r"/v1/Events", EventsHandler),
    (route(r"/v1/Events/{sid}", sid="AE"), EventHandler),
    (r"/v1/Voice/Summaries", CallSummariesHandler),
    (route(r"/v1/Voice/{sid}/Summary", sid="CA"), CallSummaryHandler),
    (_EXPORT, ExportHandler),
    (_EXPORT + r"/Days", DaysHandler),
    (_EXPORT + r"/Days/(?P<day>[^/]+)", DayHandler),
    (_EXPORT + r"/Files/(?P<day>[0-9-]{10})", DayFileHandler),
    (_EXPORT + r"/Jobs", JobsHandler),
    (route(r"/v1/Exports/Jobs/{sid}", sid="JS"), JobHandler),
]
