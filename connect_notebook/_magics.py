"""`_magics`: the IPython extension: ``%load_ext connect_notebook`` and what it starts.

Loading starts the callback server on a fixed port (the Connect App has one
registered Authorize URL), makes the app active for the loaders, and prints the
two URLs the app must have. On the sandbox (or when asked) it registers them
itself; on a real app it never changes anything without ``app.register_callback()``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from . import _active
from ._active import active_app, is_embedded_sandbox, revocation_listeners, use_app
from ._callback import CallbackServer
from ._client import APIClient
from ._config import ConnectApp, check_sid
from ._exceptions import ConfigError, ConnectNotebookError
from ._redact import shown
from ._session import ConnectedAccount, Session, default_session_file
from ._widget import ConnectButton

__all__ = [
    "DEFAULT_CALLBACK_PORT",
    "connect_button",
    "load_ipython_extension",
    "register_callback",
    "session",
    "start",
    "stop",
    "unload_ipython_extension",
]

log = logging.getLogger("connect_notebook")
DEFAULT_CALLBACK_PORT = 8791


@dataclass
class _Extension:
    app: ConnectApp
    session: Session
    server: CallbackServer
    on_sandbox: bool


_lock = threading.Lock()
_ext: _Extension | None = None


def _verifier(app: ConnectApp) -> Any:
    def verify(sid: str) -> ConnectedAccount:
        """Check with Twilio that the owner's token works for ``sid``, and find the customer behind it."""
        check_sid(sid, "AC", "AccountSid")
        from ._family import customer  # polars comes with it: imported when a customer connects, not at %load_ext

        return customer(sid, app=app)

    return verify


def _public_url(port: int) -> str | None:
    """The proxied URL of the callback server behind JupyterHub / Binder, if that is where we run."""
    explicit = os.environ.get("CONNECT_NOTEBOOK_PUBLIC_URL")
    if explicit:
        return explicit.rstrip("/")
    if not os.environ.get("JUPYTERHUB_SERVICE_PREFIX"):
        return None
    # The stable form: the hub redirects it to this user's server, whose proxy forwards to our port.
    origin = (
        os.environ.get("JUPYTERHUB_PUBLIC_URL")
        or os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL")
        or os.environ.get("JUPYTERHUB_HOST")
        or ""
    ).rstrip("/")
    if not origin.startswith(("http://", "https://")):
        # Without the hub's public address the URL would be relative: unusable on a Connect App.
        log.warning("behind JupyterHub, but its public URL is unknown: set CONNECT_NOTEBOOK_PUBLIC_URL")
        return None
    base = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
    if origin.endswith("/hub"):
        origin = origin[: -len("/hub")]
    return f"{origin}{base}/hub/user-redirect/proxy/{port}"


def _port() -> int:
    raw = os.environ.get("CONNECT_NOTEBOOK_CALLBACK_PORT")
    if not raw:
        return DEFAULT_CALLBACK_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        msg = f"CONNECT_NOTEBOOK_CALLBACK_PORT must be a port number, got {shown(raw)}"
        raise ConfigError(msg)
    return int(raw)


def register_callback(
    app: ConnectApp, *, authorize_url: str | None = None, deauthorize_url: str | None = None
) -> dict[str, Any]:
    """Set the Connect App's Authorize URL and Deauthorize Callback URL (one POST, as the owner).

    Defaults to this kernel's callback server; returns the updated ConnectApp resource.
    """
    if authorize_url is None or deauthorize_url is None:
        ext = _ext
        if ext is None:
            msg = "load the extension first (%load_ext connect_notebook), or pass both URLs"
            raise RuntimeError(msg)
        authorize_url = authorize_url or ext.server.authorize_callback_url
        deauthorize_url = deauthorize_url or ext.server.deauthorize_callback_url
    form = {
        "AuthorizeRedirectUrl": authorize_url,
        "DeauthorizeCallbackUrl": deauthorize_url,
        "DeauthorizeCallbackMethod": "POST",
    }
    with APIClient(app, app.account_sid) as client:
        result: dict[str, Any] = client.fetch(
            client.api(f"ConnectApps/{app.connect_app_sid}.json"), json.loads, what="Connect App update", form=form
        )
    return result


def start(app: ConnectApp | None = None) -> _Extension:
    """Start the callback server for ``app`` (default: the active app) unless it runs already."""
    global _ext
    with _lock:
        if _ext is not None:
            return _ext
        app = app or active_app()
        on_sandbox = is_embedded_sandbox(app)
        remembered = default_session_file(app.account_sid, app.connect_app_sid)
        session = Session(path=remembered if remembered.exists() else None)
        port = _port()
        server = CallbackServer(
            session=session,
            verify=_verifier(app),
            auth_token=app.auth_token,
            connect_app_sid=app.connect_app_sid,
            port=port,
        )
        try:
            server.start()
        except OSError as exc:
            msg = (
                f"the Connect callback server cannot listen on 127.0.0.1:{port} ({exc.strerror}); another "
                "kernel probably has it. Stop that kernel, or set CONNECT_NOTEBOOK_CALLBACK_PORT to another "
                "port (and register the new Authorize URL), then load the extension again"
            )
            raise ConfigError(msg) from None
        server.public_url = _public_url(server.port)
        if on_sandbox or os.environ.get("CONNECT_NOTEBOOK_REGISTER_CALLBACK") == "1":
            try:
                register_callback(
                    app, authorize_url=server.authorize_callback_url, deauthorize_url=server.deauthorize_callback_url
                )
            except ConnectNotebookError:
                server.stop()
                raise
        use_app(app)
        revocation_listeners.append(session.revoke)
        _active.connected_account = lambda: session.current
        _ext = _Extension(app, session, server, on_sandbox)
        return _ext


def stop() -> None:
    """Stop the callback server and forget the extension's app; idempotent."""
    global _ext
    with _lock:
        ext, _ext = _ext, None
    if ext is None:
        return
    ext.server.stop()
    if ext.session.revoke in revocation_listeners:
        revocation_listeners.remove(ext.session.revoke)
    _active.connected_account = None
    use_app(None)


def session() -> Session:
    """The kernel's session of connected accounts (starts the extension if needed)."""
    return start().session


def connect_button(app: ConnectApp | None = None) -> ConnectButton:
    """A Connect button for ``app`` (default: the extension's app), with a live status line."""
    ext = start(app)
    if app is not None and app != ext.app:
        msg = "the extension already runs for another Connect App; %unload_ext connect_notebook first"
        raise RuntimeError(msg)
    app = ext.app

    def authorize_url() -> str:
        return f"{app.authorize_url}?{urlencode({'state': ext.server.tokens.issue()})}"

    note = None
    if not ext.on_sandbox and os.environ.get("CONNECT_NOTEBOOK_REGISTER_CALLBACK") != "1":
        note = (
            f"The Connect App's Authorize URL must be {ext.server.authorize_callback_url} "
            "(app.register_callback() sets it)"
        )
    autoconnect = None
    if ext.on_sandbox and os.environ.get("CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT"):
        autoconnect = _sandbox_click_through(authorize_url, os.environ["CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT"])
    return ConnectButton(
        session=ext.session, authorize_url=authorize_url, verify=_verifier(app), note=note, autoconnect=autoconnect
    )


def _sandbox_click_through(authorize_url: Any, who: str) -> Any:
    """What a customer's browser does on the sandbox's authorize page, for headless runs (CI)."""

    def run() -> None:
        import httpx

        from ._active import embedded_sandbox

        sandbox = embedded_sandbox()
        customer = sandbox.customer_account_sids[0] if who in ("1", "first") else who
        page, _, query = authorize_url().partition("?")
        state = dict(parse_qsl(query))["state"]
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            browser.post(page, data={"decision": "authorize", "AccountSid": customer, "state": state})

    return run


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext connect_notebook``: start the callback server and print the app's URLs."""
    ext = start()
    if ext.on_sandbox:
        print("connect_notebook: no Twilio credentials are set, so this uses the embedded Twilio sandbox.")
    print(f"Authorize URL:             {ext.server.authorize_callback_url}")
    print(f"Deauthorize Callback URL:  {ext.server.deauthorize_callback_url} (POST)")
    if not ext.on_sandbox and os.environ.get("CONNECT_NOTEBOOK_REGISTER_CALLBACK") != "1":
        print("Register both on the Connect App, or run connect_notebook.active_app().register_callback().")
    if os.environ.get("JUPYTERHUB_SERVICE_PREFIX") and ext.server.public_url.startswith("http://127.0.0.1"):
        print(
            "Behind JupyterHub, but its public URL is unknown: set CONNECT_NOTEBOOK_PUBLIC_URL to the proxied "
            "address of this port, or paste the AccountSid under the button."
        )


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext connect_notebook``: stop the callback server and free its port."""
    stop()
