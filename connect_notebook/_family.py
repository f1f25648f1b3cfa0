"""`_family`: the accounts behind one Connect authorization, read through ``/Accounts.json``.

The AccountSid Twilio hands a Connect App names the app's own subaccount under
the customer's main account; the customer's calls live in the main account and
its other subaccounts. With the owner's token and that SID, ``/Accounts.json``
lists them all (``twilio-api-notes.md`` §8.1), and each one's resources are read
under its own path with the same credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import polars as pl

from ._arguments import strings
from ._client import APIClient
from ._config import ConnectApp, check_sid
from ._exceptions import NotFoundError
from ._frames import ACCOUNTS_SCHEMA, decode_accounts_page, empty, type_accounts
from ._redact import shown
from ._session import ConnectedAccount

__all__ = [
    "account_sid_of",
    "check_accounts",
    "customer_of",
    "describe_customer",
    "list_accounts",
    "read_family",
    "register_callback",
    "select_accounts",
]


def account_sid_of(account: object) -> str:
    """An AccountSid, or a connected-account object's ``sid``.

    A malformed SID (or None: nothing connected yet) is a ``ConfigError``; a value of
    another type altogether (an int, bytes, a dict) is a ``TypeError`` that names the type.
    """
    if isinstance(account, str) or account is None:
        sid: object = account
    elif hasattr(account, "sid") or hasattr(account, "account_sid"):
        sid = getattr(account, "sid", None) if hasattr(account, "sid") else getattr(account, "account_sid", None)
    else:
        msg = (
            f"account must be an AccountSid string such as 'AC…' (or a connected account), "
            f"got {type(account).__name__}; pass the SID the Connect App received"
        )
        raise TypeError(msg)
    return check_sid(sid, "AC", "account")


def check_accounts(accounts: object) -> list[str] | None:
    """The ``accounts=`` argument as a list of well-formed SIDs (None: every account), checked before any request."""
    wanted = strings(
        accounts,
        "accounts",
        expected="an AccountSid or a list of them (from cn.accounts(account))",
        every="every account of the family",
        each="AccountSid strings such as 'AC…'",
    )
    for sid in wanted or ():
        check_sid(sid, "AC", "accounts")
    return wanted


def read_family(client: APIClient) -> pl.DataFrame:
    """Every account the client's credentials can see (ACCOUNTS_SCHEMA), main account first."""
    url = f"{client.app.api_url}/2010-04-01/Accounts.json?PageSize=1000"
    pages = list(client.iter_pages(url, decode_accounts_page, what="accounts page"))
    frame = type_accounts(pl.concat(pages) if pages else pl.DataFrame(), client.account_sid)
    if client.account_sid not in frame["sid"]:
        # Twilio always lists the authenticating account; if not, still load what the SID itself holds.
        return empty(ACCOUNTS_SCHEMA)
    # The main account first, then the others by age, so a frame lists the family the same way every time.
    main = pl.col("sid") == pl.col("owner_account_sid")
    return frame.sort([main, "date_created", "sid"], descending=[True, False, False], maintain_order=True)


def customer_of(family: pl.DataFrame, connected_sid: str) -> tuple[str, str]:
    """The customer behind a connected SID: its main account's (SID, friendly name)."""
    row = family.filter(pl.col("sid") == connected_sid)
    owner = row["owner_account_sid"][0] if row.height else connected_sid
    main = family.filter(pl.col("sid") == owner)
    if main.height == 0:
        return connected_sid, row["friendly_name"][0] if row.height else connected_sid
    return owner, main["friendly_name"][0] or owner


def select_accounts(family: pl.DataFrame, connected_sid: str, accounts: str | Iterable[str] | None) -> list[str]:
    """The family SIDs a load covers: all of them, or the subset asked for (each must belong to the family)."""
    sids = family["sid"].to_list() or [connected_sid]
    wanted = check_accounts(accounts)
    if wanted is None:
        return sids
    unknown = [s for s in wanted if s not in sids]
    if unknown:
        # SIDs by their last four, as everywhere in messages (a token pasted after "AC" is SID-shaped).
        msg = (
            f"accounts must belong to the family of {shown(connected_sid)}: {', '.join(map(shown, unknown))} "
            f"{'is' if len(unknown) == 1 else 'are'} not among {', '.join(map(shown, sids))} (see cn.accounts())"
        )
        raise ValueError(msg)
    return [s for s in sids if s in wanted]


def list_accounts(app: ConnectApp, sid: str) -> pl.DataFrame:
    """The family behind the connected ``sid`` (see ``cn.accounts``)."""
    with APIClient(app, sid) as client:
        return read_family(client)


def describe_customer(app: ConnectApp, sid: str) -> ConnectedAccount:
    """Who is behind the connected ``sid``, checked with Twilio (see ``cn.customer``); the callback's verifier."""
    with APIClient(app, check_sid(sid, "AC", "AccountSid")) as client:
        family = read_family(client)
        if family.height:
            main_sid, name = customer_of(family, sid)
        else:  # not listed: describe the account itself
            record = client.get_json(client.api("").rstrip("/") + ".json")
            main_sid, name = record.get("owner_account_sid") or sid, record.get("friendly_name") or sid
        try:
            # The authorization is recorded on the account that gave it: the customer's main account.
            authorized = client.get_json(
                client.api(f"AuthorizedConnectApps/{app.connect_app_sid}.json", account_sid=main_sid)
            )
            permissions = tuple(authorized.get("permissions") or ())
        except NotFoundError:
            permissions = ()
    return ConnectedAccount(sid=sid, friendly_name=name, permissions=permissions, customer_sid=main_sid)


def register_callback(app: ConnectApp, *, authorize_url: str, deauthorize_url: str) -> dict[str, Any]:
    """Set the Connect App's Authorize URL and Deauthorize Callback URL (one POST, as the owner).

    This changes the app for every user of it, which is why the kernel does it only on
    the sandbox or when asked. Returns the updated ConnectApp resource.
    """
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
