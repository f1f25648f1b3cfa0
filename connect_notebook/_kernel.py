"""`_kernel`: the one owner of a kernel's state.

A ``Kernel`` is built from a frozen ``Settings`` value and owns everything the
notebook session shares: the active Connect App, the embedded sandbox (started
on first use when no credentials are set), the session of connected accounts and
the callback server. ``start`` / ``stop`` are idempotent. The package's public
functions (``cn.active_app()``, ``cn.session()``, ``cn.connect_button()``, the
loaders' default ``app=``) are one-line delegates to ``current()``, the kernel of
this process; a test builds its own ``Kernel`` and makes it current with
``swap``, instead of patching module state.

This module is the one place where the client side meets the sandbox.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from ._callback import CallbackServer
from ._config import ConnectApp, Settings
from ._exceptions import ConfigError, ConnectNotebookError
from ._family import describe_customer, register_callback
from ._relay import Guest, key_file
from ._session import ConnectedAccount, Session

if TYPE_CHECKING:
    from ._widget import ConnectButton
    from .sandbox import Sandbox

__all__ = ["Connection", "Kernel", "app_for_sandbox", "current", "swap"]

log = logging.getLogger("connect_notebook")


def app_for_sandbox(sandbox: Sandbox) -> ConnectApp:
    """The ConnectApp of a running sandbox (its owner's credentials and its URLs)."""
    return ConnectApp(
        account_sid=sandbox.owner_account_sid,
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        api_url=sandbox.api_url,
        monitor_url=sandbox.monitor_url,
        insights_url=sandbox.insights_url,
        bulkexports_url=sandbox.bulkexports_url,
        authorize_base_url=sandbox.url,
        call_retention_days=sandbox.call_retention_days,
    )


@dataclass(frozen=True)
class Connection:
    """What ``Kernel.start`` started: the app's callback server and the session it fills."""

    app: ConnectApp
    session: Session
    server: CallbackServer
    on_sandbox: bool
    guest: Guest | None = None  # set when another kernel holds the shared port


class Kernel:
    """A notebook kernel's Connect state: the active app, the embedded sandbox, the session, the callback server.

    Parameters
    ----------
    settings
        What the environment says (``Settings.from_env()`` when omitted).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self._lock = threading.RLock()
        self._app: ConnectApp | None = None
        self._sandbox: Sandbox | None = None
        self._connection: Connection | None = None

    # -- which app --

    def active_app(self) -> ConnectApp:
        """The app loaders use by default: the one made active (``use_app``, ``start``), else the
        environment's, else the embedded sandbox's."""
        with self._lock:
            if self._app is not None:
                return self._app
        app = self.settings.app()  # ConfigError when the credentials are half set
        return app if app is not None else app_for_sandbox(self.embedded_sandbox())

    def use_app(self, app: ConnectApp | None) -> None:
        """Make ``app`` the default of every loader (None goes back to the environment / sandbox)."""
        with self._lock:
            self._app = app

    def use_sandbox(self, sandbox: Sandbox | None = None) -> ConnectApp:
        """Make a sandbox the active app: the one given, or the embedded one. Returns its ConnectApp."""
        app = app_for_sandbox(sandbox if sandbox is not None else self.embedded_sandbox())
        self.use_app(app)
        return app

    def resolve_app(self, app: object) -> ConnectApp:
        """``app`` if it is a ConnectApp, the active app for None; anything else is a TypeError (before any request)."""
        if app is None:
            return self.active_app()
        if not isinstance(app, ConnectApp):
            msg = (
                f"app must be a ConnectApp (or None for the active one), got {type(app).__name__}; "
                "build one with cn.ConnectApp(...) or cn.ConnectApp.from_env()"
            )
            raise TypeError(msg)
        return app

    def embedded_sandbox(self) -> Sandbox:
        """The embedded sandbox, started on first use with every customer authorized."""
        with self._lock:
            if self._sandbox is None:
                from .sandbox import Sandbox

                # Pinned by CONNECT_NOTEBOOK_SANDBOX_NOW for reproducible runs (CI), else the current time.
                sandbox = Sandbox(now=self.settings.sandbox_now).start()
                for sid in sandbox.customer_account_sids:
                    sandbox.authorize(sid)
                log.info("no Twilio credentials are set: using the embedded sandbox at %s", sandbox.url)
                self._sandbox = sandbox
            return self._sandbox

    @property
    def started_sandbox(self) -> Sandbox | None:
        """The embedded sandbox if it was started (None: never needed yet)."""
        return self._sandbox

    def is_embedded_sandbox(self, app: ConnectApp) -> bool:
        """Whether ``app`` is the embedded sandbox's (so the kernel may configure it freely)."""
        with self._lock:
            sandbox = self._sandbox
        return sandbox is not None and app.api_url == sandbox.api_url and app.account_sid == sandbox.owner_account_sid

    # -- the callback server and the session --

    @property
    def connection(self) -> Connection | None:
        """The running callback server and its session, or None before ``start``."""
        return self._connection

    def start(self, app: ConnectApp | None = None) -> Connection:
        """Start the callback server for ``app`` (default: the active app) unless it runs already."""
        with self._lock:
            if self._connection is not None:
                return self._connection
            app = app if app is not None else self.active_app()
            on_sandbox = self.is_embedded_sandbox(app)
            remembered = self.settings.session_file(app)
            session = Session(path=remembered if remembered.exists() else None)
            port = self.settings.callback_port
            server, guest = self._serve(app, session, port)
            if on_sandbox or self.settings.register_callback:
                try:
                    # The same URL whichever kernel holds the port: registering it again changes nothing.
                    register_callback(
                        app,
                        authorize_url=server.authorize_callback_url,
                        deauthorize_url=server.deauthorize_callback_url,
                    )
                except ConnectNotebookError:
                    if guest is not None:
                        guest.stop()
                    server.stop()
                    raise
            self._app = app
            self._connection = Connection(app, session, server, on_sandbox, guest)
            return self._connection

    def _serve(self, app: ConnectApp, session: Session, port: int) -> tuple[CallbackServer, Guest | None]:
        """The callback server on the shared ``port``, or, when another kernel holds it, a guest of that kernel."""

        def server_on(listen: int) -> CallbackServer:
            return CallbackServer(
                session=session,
                verify=lambda sid: describe_customer(app, sid),
                auth_token=app.auth_token,
                connect_app_sid=app.connect_app_sid,
                port=listen,
            )

        key = key_file(self.settings.config_home, port)
        server = server_on(port)
        try:
            server.start()
        except OSError as exc:
            taken = exc
        else:
            server.public_url = self.settings.callback_public_url(server.port)
            if port:
                server.relay.hold(key)
            return server, None
        if not port:
            raise taken
        # Another notebook holds the port (the Connect App's one Authorize URL): share it.
        server = server_on(0).start()
        server.public_url = self.settings.callback_public_url(port) or f"http://127.0.0.1:{port}"
        try:
            guest = Guest(server, port, key, on_hold=lambda: server.relay.hold(key)).join()
        except ConfigError:
            server.stop()
            raise
        return server, guest

    def stop(self) -> None:
        """Stop the callback server and forget the app it made active; idempotent."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                self._app = None
        if connection is not None:
            if connection.guest is not None:
                connection.guest.stop()
            connection.server.stop()
            connection.server.relay.release(key_file(self.settings.config_home, self.settings.callback_port))

    def close(self) -> None:
        """``stop``, and stop the embedded sandbox too; idempotent."""
        self.stop()
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def session(self) -> Session:
        """The session of connected accounts (starts the callback server if needed)."""
        return self.start().session

    def register_callback(
        self, app: ConnectApp | None = None, *, authorize_url: str | None = None, deauthorize_url: str | None = None
    ) -> dict[str, Any]:
        """Set the Connect App's Authorize and Deauthorize Callback URLs on Twilio, in one call.

        Defaults to this kernel's app and callback server. It changes the app for every
        user of it, which is why it is never done silently on a real app.
        """
        if authorize_url is None or deauthorize_url is None:
            connection = self.start(app)
            authorize_url = authorize_url or connection.server.authorize_callback_url
            deauthorize_url = deauthorize_url or connection.server.deauthorize_callback_url
        return register_callback(self.resolve_app(app), authorize_url=authorize_url, deauthorize_url=deauthorize_url)

    def connect_button(self, app: ConnectApp | None = None) -> ConnectButton:
        """A Connect button for ``app`` (default: the kernel's app), with a live status line."""
        connection = self.start(app)
        if app is not None and app != connection.app:
            msg = "the extension already runs for another Connect App; %unload_ext connect_notebook first"
            raise RuntimeError(msg)
        app = connection.app
        server = connection.server

        def authorize_url() -> str:
            return f"{app.authorize_url}?{urlencode({'state': server.tokens.issue()})}"

        try:
            from ._widget import ConnectButton  # ipywidgets: imported when a button is made
        except ImportError:
            how = " ".join(self._how_it_comes_back(connection)).replace(
                "in the box above", "into connect_notebook.connect_pasted()"
            )
            msg = (
                "ipywidgets is not installed in this kernel, so there is no Connect button "
                f"(pip install ipywidgets, then restart the kernel). Without it: open {authorize_url()} "
                f"in a browser. {how}"
            )
            raise ConfigError(msg) from None
        button = ConnectButton(
            session=connection.session,
            authorize_url=authorize_url,
            paste=server.accept_pasted,
            notes=self._how_it_comes_back(connection),
        )
        who = self.settings.sandbox_autoconnect
        if connection.on_sandbox and who:
            # Headless runs (CI): when a cell waits, the sandbox plays the customer's browser on its own page.
            sandbox = self.embedded_sandbox()
            customer = None if who in ("1", "first") else who

            def click_through(change: dict[str, Any]) -> None:
                if change["new"]:
                    threading.Thread(
                        target=sandbox.click_through,
                        args=(authorize_url(), customer),
                        name="connect_notebook-autoconnect",
                        daemon=True,
                    ).start()

            button.observe(click_through, names="waiting")
        return button

    def _how_it_comes_back(self, connection: Connection) -> list[str]:
        """The button's notes: how the browser returns after approving, and which fallback applies."""
        server = connection.server
        url = server.authorize_callback_url
        if self.settings.callback_public_url(server.port) is None:
            notes = [
                f"After approving, the browser comes back to {url}, on the machine this kernel runs on. "
                "If the browser runs on another machine (a remote kernel, VS Code over SSH), that page will not "
                "load: paste its address, or the AccountSid, in the box above."
            ]
        else:
            notes = [
                f"After approving, the browser comes back through {url}. If it cannot, paste the address it "
                "landed on, or the AccountSid, in the box above."
            ]
        if not connection.on_sandbox and not self.settings.register_callback:
            notes.append(f"The Connect App's Authorize URL must be {url} (cn.register_callback() sets it)")
        return notes

    def connect_pasted(self, text: str, app: ConnectApp | None = None) -> ConnectedAccount:
        """Complete a Connect from the address the browser landed on after approving, or the AccountSid."""
        return self.start(app).server.accept_pasted(text)

    # -- what the rest of the package tells the kernel, and asks it --

    def notify_revoked(self, account_sid: str) -> None:
        """Twilio refused the owner's token for ``account_sid``: mark it revoked in the session."""
        connection = self._connection
        if connection is not None:
            connection.session.revoke(account_sid)

    def connected(self) -> ConnectedAccount | None:
        """The account connected last in this kernel, if any."""
        connection = self._connection
        return connection.session.current if connection is not None else None

    def default_customer(self) -> str:
        """The account a report uses when none is given.

        The account connected last in this kernel; else, on a sandbox, its first
        customer (pre-authorized there). Raises ``ConfigError`` on a real Twilio app
        with nothing connected, where guessing would be wrong.
        """
        connected = self.connected()
        if connected is not None:
            return connected.sid
        app = self.active_app()
        if self.is_embedded_sandbox(app):
            return self.embedded_sandbox().connected_account_sids[0]
        if self.settings.sandbox_customers:
            return self.settings.sandbox_customers[0]
        msg = "pass account='AC…' (a customer that authorized the Connect App); there is no default on real Twilio"
        raise ConfigError(msg)

    def default_customers(self) -> list[str]:
        """The accounts a portfolio report covers when none are given.

        The accounts connected in this kernel's session (revoked ones left out); else,
        on a sandbox, every customer it holds (all pre-authorized there). Raises
        ``ConfigError`` on a real Twilio app with nothing connected.
        """
        connection = self._connection
        if connection is not None:
            sids = [a.sid for a in connection.session.accounts if not a.revoked]
            if sids:
                return sids
        app = self.active_app()
        if self.is_embedded_sandbox(app):
            return self.embedded_sandbox().connected_account_sids
        if self.settings.sandbox_customers:
            return list(self.settings.sandbox_customers)
        msg = (
            "there are no connected customers to report on: connect them first (cn.connect_button()), "
            "or pass a dataset written by cn.sync()"
        )
        raise ConfigError(msg)

    def today(self, tz: str = "UTC") -> date:
        """The day reports count their default days back from, in ``tz``.

        On the embedded sandbox it is the sandbox's day, so a notebook run with its clock
        pinned (``CONNECT_NOTEBOOK_SANDBOX_NOW``, as under nbval) covers the same days
        every time; elsewhere it is the real one.
        """
        app = self.active_app()
        now = self.embedded_sandbox().now if self.is_embedded_sandbox(app) else datetime.now(UTC)
        return now.astimezone(ZoneInfo(tz)).date()


_lock = threading.Lock()
_current: Kernel | None = None


def current() -> Kernel:
    """This process's kernel, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Kernel()
        return _current


def swap(kernel: Kernel | None) -> Kernel | None:
    """Make ``kernel`` the current one (None: build a fresh one from the environment on next use).

    Returns the kernel it replaces, which keeps running: stop it with ``close()``.
    """
    global _current
    with _lock:
        previous, _current = _current, kernel
        return previous
