"""`sandbox._pages`: the browser side of Connect: authorize page, revoke page, index.

These stand in for www.twilio.com's pages. The person "logs in" by picking a
sandbox customer account; Authorize or Deny then redirects to the Connect App's
Authorize URL exactly as Twilio does (``AccountSid=AC…`` naming the app's Connect
subaccount under the chosen account, or ``error=unauthorized_client``, with
``state`` echoed).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

import tornado.web

from ._state import SandboxState

__all__ = ["PAGE_ROUTES"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f4f6;color:#121c2d;margin:0}
main{max-width:560px;margin:48px auto;background:#fff;border-radius:8px;padding:32px;
box-shadow:0 2px 8px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 4px}.brand{color:#f22f46;font-weight:700;letter-spacing:.02em}
.muted{color:#606b85;font-size:14px}ul.perm li{margin:4px 0}
label.acct{display:block;border:1px solid #cacdd8;border-radius:6px;padding:10px 12px;margin:8px 0;
cursor:pointer}
button{font-size:15px;border-radius:6px;padding:10px 18px;border:1px solid #cacdd8;background:#fff;
cursor:pointer}
button.primary{background:#f22f46;border-color:#f22f46;color:#fff}
.actions{display:flex;gap:12px;margin-top:20px}.error{color:#d61f1f}
code{background:#f4f4f6;padding:1px 4px;border-radius:3px}
"""

_PERMISSION_TEXT = {
    "get-all": "Read all account data (call logs, messages, usage and other records)",
    "post-all": "Charge your account for usage (place calls, send messages, buy numbers)",
}


class PageHandler(tornado.web.RequestHandler):
    """Base for HTML pages: shared state, page layout, HTML error pages."""

    def initialize(self, state: SandboxState) -> None:
        """Receive the shared sandbox state from the route table."""
        self.state = state

    def set_default_headers(self) -> None:
        """Pages are never cached and never leak the query string onwards."""
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")

    def page(self, title: str, body: str, status: int = 200) -> None:
        """Send a complete HTML page."""
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{_STYLE}</style></head>"
            f"<body><main><div class=brand>twilio · sandbox</div>{body}</main></body></html>"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Render errors as small HTML pages with the reason."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(exc, "log_message", None) or self._reason
        self.page(
            f"{status_code} {self._reason}",
            f"<h1>{status_code} {escape(self._reason)}</h1><p class=error>{escape(str(reason))}</p>",
            status_code,
        )

    def argument(self, name: str, default: str | None = None, limit: int = 2048) -> str | None:
        """One form or query argument, at most ``limit`` characters; twice is an error."""
        values = self.get_arguments(name, strip=False)
        if len(values) > 1:
            raise tornado.web.HTTPError(400, f"{name} was given more than once")
        if not values:
            return default
        if len(values[0]) > limit:
            raise tornado.web.HTTPError(400, f"{name} is longer than {limit} characters")
        return values[0]


class AuthorizePage(PageHandler):
    """``/authorize/{CN}``: the page a customer sees after clicking Connect."""

    def _app(self, sid: str) -> Any:
        app = self.state.connect_app
        if sid != app.sid:
            raise tornado.web.HTTPError(404, f"There is no Connect App {sid}")
        return app

    def get(self, sid: str) -> None:
        app = self._app(sid)
        state = self.argument("state")
        perms = "".join(f"<li>{escape(_PERMISSION_TEXT[p])}</li>" for p in app.permissions)
        accounts = "".join(
            f"<label class=acct><input type=radio name=AccountSid value='{a.sid}'"
            f"{' checked' if i == 0 else ''}> <b>{escape(a.friendly_name)}</b>"
            f"<br><span class=muted>{a.sid}</span></label>"
            for i, a in enumerate(self.state.customers)
        )
        hidden = f"<input type=hidden name=state value='{escape(state)}'>" if state is not None else ""
        homepage = escape(app.homepage_url or "")
        self.page(
            f"Authorize {app.friendly_name}",
            f"""
<h1>Authorize {escape(app.friendly_name)}</h1>
<p class=muted>by {escape(app.company_name or "")} · <a href="{homepage}" rel=noreferrer>{homepage}</a></p>
<p>{escape(app.description or "")}</p>
<p>This app is asking for permission to:</p><ul class=perm>{perms}</ul>
<form method=post action="/authorize/{app.sid}">
<p class=muted>You are logged in to the sandbox. Choose the account to connect:</p>{accounts}{hidden}
<div class=actions>
<button class=primary type=submit name=decision value=authorize id=authorize>Authorize</button>
<button type=submit name=decision value=deny id=deny>Deny</button></div></form>""",
        )

    def post(self, sid: str) -> None:
        app = self._app(sid)
        decision = self.argument("decision")
        state = self.argument("state")
        if decision not in ("authorize", "deny"):
            raise tornado.web.HTTPError(400, "decision must be authorize or deny")
        if not app.authorize_redirect_url:
            raise tornado.web.HTTPError(
                400, f"Connect App {app.sid} has no Authorize URL; set AuthorizeRedirectUrl on it first"
            )
        if decision == "authorize":
            account_sid = self.argument("AccountSid") or ""
            try:
                connect = self.state.authorize(account_sid, app.permissions)
            except ValueError as exc:
                raise tornado.web.HTTPError(400, str(exc)) from None
            # As on Twilio, the app receives its Connect subaccount's SID, not the main account's.
            params = [("AccountSid", connect.sid)]
        else:
            params = [("error", "unauthorized_client")]
        if state is not None:
            params.append(("state", state))
        url = app.authorize_redirect_url
        self.redirect(url + ("&" if urlsplit(url).query else "?") + urlencode(params))


class AuthorizedAppsPage(PageHandler):
    """``/console/authorized-apps``: where a customer sees and revokes authorized apps."""

    def get(self) -> None:
        rows = []
        app = self.state.connect_app
        for account in self.state.customers:
            perms = self.state.authorizations.get(account.sid)
            if perms is None:
                action = "<span class=muted>not authorized</span>"
            else:
                action = (
                    f"<form method=post><input type=hidden name=AccountSid value='{account.sid}'>"
                    f"<button type=submit id='revoke-{account.sid}'>Revoke</button></form>"
                )
            rows.append(
                f"<label class=acct><b>{escape(account.friendly_name)}</b> "
                f"<span class=muted>{account.sid}</span><br>{escape(app.friendly_name)}: "
                f"{escape(', '.join(perms or ()))} {action}</label>"
            )
        self.page("Authorized Connect Apps", "<h1>Authorized Connect Apps</h1>" + "".join(rows))

    async def post(self) -> None:
        account_sid = self.argument("AccountSid") or ""
        try:
            had = self.state.revoke(account_sid)
        except ValueError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        if not had:
            raise tornado.web.HTTPError(400, f"{account_sid} has not authorized this Connect App")
        result = await self.state.notify_deauthorized(account_sid)
        if result.callback_url is None:
            outcome = "The app has no Deauthorize Callback URL, so it was not told."
        elif result.delivered:
            outcome = f"The app was told (its callback answered {result.status})."
        else:
            outcome = f"Telling the app failed: {escape(result.error or str(result.status))}."
        self.page(
            "Revoked",
            f"<h1>Access revoked</h1><p id=outcome>{outcome}</p><p><a href='/console/authorized-apps'>Back</a></p>",
        )


class IndexPage(PageHandler):
    """``/``: what this sandbox is and where to start."""

    def get(self) -> None:
        app = self.state.connect_app
        customers = "".join(f"<li>{escape(a.friendly_name)} <code>{a.sid}</code></li>" for a in self.state.customers)
        self.page(
            "Twilio sandbox",
            f"""
<h1>Twilio sandbox</h1>
<p>A local stand-in for Twilio's REST API and Connect pages, for connect_notebook.</p>
<p>REST API: <code>/2010-04-01</code> · Monitor: <code>/v1/Alerts</code></p>
<p>Connect App <code>{app.sid}</code>: <a href="/authorize/{app.sid}">authorize page</a> ·
<a href="/console/authorized-apps">revoke access</a></p>
<p>Customer accounts:</p><ul>{customers}</ul>""",
        )


PAGE_ROUTES: list[tuple[str, type[PageHandler]]] = [
    (r"/", IndexPage),
    (r"/authorize/(?P<sid>[^/]+)", AuthorizePage),
    (r"/console/authorized-apps", AuthorizedAppsPage),
]
