"""`_widget`: the Connect button and its live status line; UI only, collaborators injected.

The button is a link (an ``<a target=_blank>`` styled after Twilio's button): a
widget button cannot open a tab without custom front-end code. Its URL carries a
fresh single-use ``state``; no trait ever holds a token or any other secret.
Status changes arrive from the callback server's thread through the session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]  # ipywidgets ships no type information
import traitlets

from ._exceptions import AuthorizationRevoked, CallbackTimeout, ConnectDeclined, ConnectNotebookError
from ._session import ConnectedAccount, Session

__all__ = ["ConnectButton"]

_TWILIO_RED = "#F22F46"
_LINK_STYLE = (
    f"display:inline-block;background:{_TWILIO_RED};color:#fff;font-weight:600;font-size:14px;"
    "padding:8px 16px;border-radius:4px;text-decoration:none;font-family:system-ui,sans-serif"
)


class ConnectButton(widgets.VBox):  # type: ignore[misc]  # VBox is untyped (Any)
    """A Connect button, a status line and a field to paste an AccountSid.

    Parameters
    ----------
    session
        The kernel's session: the button shows its changes and ``wait()`` watches it.
    authorize_url
        Returns the authorize URL with a fresh ``state`` (called for every new link).
    paste
        ``paste(text) -> ConnectedAccount``: completes a Connect from the pasted address the
        browser landed on, or an AccountSid, and adds the account to the session.
    notes
        Lines shown under the button: how the browser comes back, the Authorize URL to register.
    """

    waiting = traitlets.Bool(False, help="True while wait() blocks; observe it to act when a cell starts waiting")

    def __init__(
        self,
        *,
        session: Session,
        authorize_url: Callable[[], str],
        paste: Callable[[str], ConnectedAccount],
        notes: Sequence[str] = (),
    ) -> None:
        self._session = session
        self._authorize_url = authorize_url
        self._paste = paste
        self._lock = threading.RLock()
        self._event = threading.Event()
        self._result: ConnectedAccount | None = None
        self._failure: ConnectNotebookError | None = None
        self._status_text = "Not connected"
        self.link = widgets.HTML()
        self.link.add_class("cn-connect")
        self.status = widgets.HTML()
        self.status.add_class("cn-status")
        self.paste = widgets.Text(
            placeholder="or paste the address you landed on, or the AccountSid", layout=widgets.Layout(width="420px")
        )
        self.paste.add_class("cn-paste")
        self.use_pasted = widgets.Button(description="Use this account", layout=widgets.Layout(width="auto"))
        self.use_pasted.add_class("cn-paste-button")
        self.use_pasted.on_click(lambda _button: self._use_pasted())
        rows: list[widgets.Widget] = [
            widgets.HBox([self.link, self.status], layout=widgets.Layout(align_items="center")),
            widgets.HBox([self.paste, self.use_pasted]),
        ]
        for note in notes:
            hint = widgets.HTML(f"<span style='color:#606b85;font-size:12px'>{escape(note)}</span>")
            hint.add_class("cn-note")
            rows.append(hint)
        super().__init__(rows)
        self._new_link("Connect with Twilio")
        self._show("Not connected")
        self._unsubscribe = session.subscribe(self._on_session)

    def __repr__(self) -> str:
        return f"ConnectButton(status={self._status_text!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, and for a front end that cannot render it, text that says how to connect without it.

        A front end with no ipywidgets 8 manager (ipywidgets 7, a plain notebook viewer)
        shows ``text/plain``; a blank output would leave the user stuck.
        """
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = (
            f"{self!r}: if no Connect button shows here, this front end cannot display ipywidgets 8 widgets. "
            "print(<this button>.url) gives the Connect link; if the page you land on after approving does not "
            "load, pass its address to connect_notebook.connect_pasted()."
        )
        return bundle

    @property
    def url(self) -> str:
        """A fresh Connect link (Twilio's authorize page, with a new single-use state), for use without the widget."""
        return self._authorize_url()

    # -- state shown --

    def _new_link(self, label: str) -> None:
        url = escape(self._authorize_url(), quote=True)
        self.link.value = (
            f'<a class="cn-connect-link" href="{url}" target="_blank" '
            f'rel="noopener noreferrer" style="{_LINK_STYLE}">{escape(label)}</a>'
        )

    def _show(self, text: str, color: str = "#606b85") -> None:
        with self._lock:
            self._status_text = text
            self.status.value = (
                f"<span class='cn-status-text' style='margin-left:12px;color:{color};"
                f"font-family:system-ui,sans-serif'>{escape(text)}</span>"
            )

    def _on_session(self, event: str, account: ConnectedAccount | None) -> None:
        """Runs on the callback server's thread: trait updates from there reach the browser at once."""
        with self._lock:
            if event == "connected" and account is not None:
                self._result, self._failure = account, None
                self._show(f"Connected: {account.label}", "#14b053")
                self._new_link("Connect another account")
                self._event.set()
            elif event == "declined":
                self._failure = ConnectDeclined(
                    "the customer declined on Twilio's authorize page; nothing was connected"
                )
                self._show("Declined: the customer did not authorize", _TWILIO_RED)
                self._new_link("Connect with Twilio")
                self._event.set()
            elif event in ("revoked", "removed") and account is not None:
                self._show(f"Revoked: {account.label} removed access; connect again", _TWILIO_RED)
                self._new_link("Connect with Twilio")

    def _use_pasted(self) -> None:
        text = self.paste.value.strip()
        # The box is synced widget state (and saved in notebooks): never keep what was pasted.
        self.paste.value = ""
        if not text:
            self._show("Paste the address the browser landed on after approving, or the AccountSid", _TWILIO_RED)
            return
        self._show("Checking the account with Twilio…")
        try:
            self._paste(text)
        except ConnectDeclined:
            pass  # the session said so: the status line shows the decline
        except AuthorizationRevoked as exc:
            last4 = exc.account_sid[-4:]
            self._show(f"Twilio does not accept the authorization for AC…{last4}: connect it first", _TWILIO_RED)
        except ConnectNotebookError as exc:
            self._show(f"Could not use what was pasted: {exc}", _TWILIO_RED)

    # -- waiting --

    def wait(self, timeout: float = 300.0) -> ConnectedAccount:
        """Block until a customer connects (or declines); return the connected account.

        Raises ``CallbackTimeout`` after ``timeout`` seconds and ``ConnectDeclined``
        if the customer declined. The callback server keeps serving meanwhile.
        """
        with self._lock:
            if self._result is None and self._failure is None:
                self._show("Waiting for the customer to authorize…", "#0263e0")
        self.waiting = True
        try:
            arrived = self._event.wait(timeout)
        finally:
            self.waiting = False
        if not arrived:
            self._show("Not connected (timed out)", _TWILIO_RED)
            msg = (
                f"no customer connected within {timeout:g}s; click Connect (or paste an AccountSid) "
                "and call wait() again"
            )
            raise CallbackTimeout(msg)
        with self._lock:
            self._event.clear()
            failure, result = self._failure, self._result
            self._failure = None
        if failure is not None:
            raise failure
        assert result is not None
        return result

    def close(self) -> None:
        """Stop following the session and close the widget."""
        self._unsubscribe()
        super().close()
