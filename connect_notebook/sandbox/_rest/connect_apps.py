"""`sandbox._rest.connect_apps`: the owner's ``ConnectApps`` and a customer's ``AuthorizedConnectApps``.

An authorized app shows under the customer's main account, the account that
authorized it (``twilio-api-notes.md`` §2.2).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .._errors import SandboxError, bad_request, not_found
from .._query import list_page
from .._state import PERMISSIONS, SandboxState
from .base import APIHandler

__all__ = ["AuthorizedConnectAppHandler", "AuthorizedConnectAppsHandler", "ConnectAppHandler", "ConnectAppsHandler"]


_APP_FIELDS = {
    "AuthorizeRedirectUrl": "authorize_redirect_url",
    "CompanyName": "company_name",
    "DeauthorizeCallbackMethod": "deauthorize_callback_method",
    "DeauthorizeCallbackUrl": "deauthorize_callback_url",
    "Description": "description",
    "FriendlyName": "friendly_name",
    "HomepageUrl": "homepage_url",
    "Permissions": "permissions",
}


class ConnectAppsHandler(APIHandler):
    """``/Accounts/{AC}/ConnectApps.json``: the owner's Connect Apps (customers have none)."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(())
        app = self.state.connect_app
        items = [app] if app.account_sid == account_sid else []
        self.write_list("connect_apps", params, list_page(params, items), lambda a: a.to_json())


class ConnectAppHandler(APIHandler):
    """``/Accounts/{AC}/ConnectApps/{CN}.json``: fetch, or update with a form POST."""

    def _app(self, account_sid: str, sid: str) -> Any:
        app = self.state.connect_app
        if app.account_sid != account_sid or app.sid != sid:
            raise not_found(self.request.path)
        return app

    def get(self, account_sid: str, sid: str) -> None:
        self.write_json(self._app(account_sid, sid).to_json())

    def post(self, account_sid: str, sid: str) -> None:
        self._app(account_sid, sid)
        changes: dict[str, Any] = {}
        for name, value in self.form().items():
            if name not in _APP_FIELDS:
                continue
            field = _APP_FIELDS[name]
            if name.endswith("Url") and value and not _is_http_url(value):
                raise SandboxError(400, 21502, f"{name} must be an absolute http or https URL, got {value[:80]!r}")
            if name == "DeauthorizeCallbackMethod":
                value = value.upper()
                if value not in ("GET", "POST"):
                    msg = f"DeauthorizeCallbackMethod must be GET or POST, got {value[:10]!r}"
                    raise bad_request(msg)
            if name == "FriendlyName" and len(value) > 64:
                msg = "FriendlyName must be at most 64 characters"
                raise bad_request(msg)
            if name == "Permissions":
                perms = tuple(p.strip() for p in value.split(",") if p.strip())
                if not perms or any(p not in PERMISSIONS for p in perms):
                    msg = f"Permissions must be get-all and/or post-all, got {value[:40]!r}"
                    raise bad_request(msg)
                changes[field] = tuple(p for p in PERMISSIONS if p in perms)
                continue
            changes[field] = value or None if name.endswith("Url") else value
        self.write_json(self.state.update_app(**changes).to_json())


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class AuthorizedConnectAppsHandler(APIHandler):
    """``/Accounts/{AC}/AuthorizedConnectApps.json``: the apps this account authorized."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(())
        items = [self.state.connect_app] if account_sid in self.state.authorizations else []
        self.write_list(
            "authorized_connect_apps",
            params,
            list_page(params, items),
            lambda a: _authorized_json(self.state, account_sid),
        )


class AuthorizedConnectAppHandler(APIHandler):
    """``/Accounts/{AC}/AuthorizedConnectApps/{CN}.json``: one authorized app."""

    def get(self, account_sid: str, sid: str) -> None:
        if account_sid not in self.state.authorizations or sid != self.state.connect_app.sid:
            raise not_found(self.request.path)
        self.write_json(_authorized_json(self.state, account_sid))


def _authorized_json(state: SandboxState, account_sid: str) -> dict[str, Any]:
    app = state.connect_app
    return {
        "account_sid": account_sid,
        "connect_app_company_name": app.company_name,
        "connect_app_description": app.description,
        "connect_app_friendly_name": app.friendly_name,
        "connect_app_homepage_url": app.homepage_url,
        "connect_app_sid": app.sid,
        "permissions": list(state.authorizations.get(account_sid, ())),
        "uri": f"/2010-04-01/Accounts/{account_sid}/AuthorizedConnectApps/{app.sid}.json",
    }
