"""`sandbox._app`: the route table: REST API, Monitor, Connect pages, and a JSON 404."""

from __future__ import annotations

import tornado.web

from ._pages import PAGE_ROUTES
from ._rest import ROUTES, NotFoundHandler
from ._state import SandboxState

__all__ = ["make_app"]


def make_app(state: SandboxState) -> tornado.web.Application:
    """Return the sandbox's Tornado application over ``state``."""
    routes = [(pattern, handler, {"state": state}) for pattern, handler in [*ROUTES, *PAGE_ROUTES]]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args={"state": state},
        compress_response=False,
        log_function=_quiet_log,
    )


def _quiet_log(handler: tornado.web.RequestHandler) -> None:
    """Log requests at debug level only: a load of 10,000 pages should not flood stderr."""
    import logging

    status = handler.get_status()
    logging.getLogger("connect_notebook.sandbox").debug(
        "%d %s %s %.1fms",
        status,
        handler.request.method,
        handler.request.uri,
        1000 * handler.request.request_time(),
    )
