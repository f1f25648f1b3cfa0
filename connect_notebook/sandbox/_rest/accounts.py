"""`sandbox._rest.accounts`: ``/Accounts.json`` and ``/Accounts/{AC}.json``, the account family.

With a Connect subaccount's credentials the list is the customer's whole family
(the main account, its subaccounts, the Connect subaccount), as Twilio's Connect
guide describes for ``get-all`` (``twilio-api-notes.md`` §8.1). With the owner's
credentials it is the owner's own account.
"""

from __future__ import annotations

from typing import Any

from .._families import Account
from .._query import list_page
from .._render import account_json
from .base import APIHandler

__all__ = ["AccountHandler", "AccountsHandler"]


class AccountsHandler(APIHandler):
    """``/Accounts.json``: the accounts these credentials can see, main account first."""

    def get(self) -> None:
        params = self.list_params(("FriendlyName", "Status"))
        name, status = params.get("FriendlyName"), params.get("Status")
        items = [
            a
            for a in self._visible()
            if (name is None or a.friendly_name == name) and (status is None or a.status == status)
        ]
        self.write_list("accounts", params, list_page(params, items), self._render)

    def _visible(self) -> list[Account]:
        own = self.state.account(self.principal.account_sid)
        assert own is not None  # authenticated above
        if self.principal.is_owner:
            return [own]
        return self.state.family(own.parent_sid)

    def _render(self, account: Any) -> dict[str, Any]:
        token = self.state.owner_auth_token if self.principal.is_owner else None
        return account_json(account, auth_token=token)


class AccountHandler(APIHandler):
    """``/Accounts/{AC}.json``: one account of the family; its Auth Token only to its own owner."""

    def get(self, account_sid: str) -> None:
        account = self.state.account(account_sid)
        assert account is not None  # authenticated above: the path names a family member
        token = self.state.owner_auth_token if self.principal.is_owner else None
        self.write_json(account_json(account, auth_token=token))
