"""`sandbox._rest.bulkexports`: BulkExport v1 ``/v1/Exports/{Calls|Messages}``, ``…/Days`` and ``…/Days/{Day}``.

BulkExport has no account in its path. The sandbox accepts the same credentials
as every other API (§8.1) and serves the accounts they may read: the owner's own,
or the customer's whole family for Connect credentials (``get-all``, as Voice
Insights does; UNCONFIRMED for the real service). ``Days/{Day}`` answers 307 with
``{"redirect_to": …}`` (as the spec says) pointing at a signed, short-lived link
on the sandbox itself, which serves the day's gzip JSON-lines file without auth,
as an S3 presigned URL does. Which days exist: see ``sandbox._bulkexports``, plus
the days of the family's custom jobs for 7 days after each job's creation
(``sandbox._export_jobs``; the Jobs resources are in ``export_jobs``).
"""

from __future__ import annotations

import dataclasses
import hmac
from datetime import date
from urllib.parse import urlencode

from .._bulkexports import (
    LINK_LIFETIME,
    ResourceType,
    available_days,
    created_of,
    link_signature,
)
from .._data import AccountData
from .._errors import SandboxError, bad_request, not_found
from .._export_jobs import parse_day
from .._formats import iso8601
from .._query import list_page
from .base import APIHandler

__all__ = ["BulkExportHandler", "DayFileHandler", "DayHandler", "DaysHandler", "ExportHandler", "family_key"]

DAYS_DEFAULT_PAGE_SIZE = 10  # "only 10 listed unless PageSize is set" (§8.3, twilio-python#650)
DAYS_MAX_PAGE_SIZE = 400  # §6


class BulkExportHandler(APIHandler):
    """What BulkExport's resources share: the origin, the link secret, the days that exist."""

    async def prepare(self) -> None:
        """Authenticate as every API does; a sandbox made with ``bulkexport_for_connect=False`` refuses Connect."""
        await super().prepare()
        if not self.principal.is_owner and not self.state.bulkexport_for_connect:
            msg = "BulkExport is available to an account's own credentials only, not to a Connect App's"
            raise SandboxError(403, 20403, msg)

    def _origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def _secret(self) -> str:
        return f"bulkexports:{self.state.owner_auth_token}"

    def _days(self, resource: str, account_sid: str) -> dict[int, str | None]:
        """Days whose file exists now, newest first -> the name of the job that made it (None: automatic)."""
        jobs = self.state.export_jobs.days(family_key(self, account_sid), resource, self.state.now)
        out: dict[int, str | None] = dict.fromkeys(available_days(self.state.now))
        for ordinal, job in jobs.items():
            out.setdefault(ordinal, job.friendly_name)
        return dict(sorted(out.items(), reverse=True))

    def _create_date(self, resource: str, account_sid: str, ordinal: int) -> str:
        if ordinal in available_days(self.state.now):
            return created_of(ordinal)
        job = self.state.export_jobs.days(family_key(self, account_sid), resource, self.state.now)[ordinal]
        return iso8601(job.created)[:10]


def family_key(handler: APIHandler, account_sid: str) -> str:
    """Whose quota and jobs these credentials use: the customer's main account, or the account itself."""
    connected = handler.state.connected_family(account_sid)
    return account_sid if connected is None else connected[0].sid


def _accounts(handler: APIHandler, account_sid: str) -> list[AccountData]:
    """The accounts whose records these credentials export, main account first."""
    connected = handler.state.connected_family(account_sid)
    sids = [account_sid] if connected is None else [a.sid for a in connected[2]]
    return [handler.state.data(sid) for sid in sids]


class ExportHandler(BulkExportHandler):
    """``/v1/Exports/{ResourceType}``: the export resource and its links."""

    def get(self, resource: ResourceType) -> None:
        base = f"{self._origin()}/v1/Exports/{resource}"
        self.write_json(
            {
                "resource_type": resource,
                "url": base,
                "links": {
                    "days": f"{base}/Days",
                    "export_custom_jobs": f"{base}/Jobs",
                    "jobs": f"{base}/Jobs",
                },
            }
        )


class DaysHandler(BulkExportHandler):
    """``/v1/Exports/{ResourceType}/Days``: the day files that exist now, newest first, v1 envelope."""

    def get(self, resource: ResourceType) -> None:
        pairs = self.query_pairs()
        params = self.list_params(())
        if not any(key == "PageSize" for key, _ in pairs):
            params = dataclasses.replace(params, page_size=DAYS_DEFAULT_PAGE_SIZE)
        if params.page_size > DAYS_MAX_PAGE_SIZE:
            msg = f"PageSize must be between 1 and {DAYS_MAX_PAGE_SIZE}, got {params.page_size}"
            raise bad_request(msg)
        sid = self.principal.account_sid
        accounts = _accounts(self, sid)
        existing = self._days(resource, sid)
        page = list_page(params, list(existing))
        base = f"{self._origin()}/v1/Exports/{resource}/Days"

        def link(page_number: int, token: str | None) -> str:
            return f"{base}{params.uri('', page_number, token)}"

        own = link(params.page, params.token)
        following = link(params.page + 1, page.next_token) if page.next_token else None
        days = []
        for ordinal in page.items:
            day = date.fromordinal(ordinal).isoformat()
            days.append(
                {
                    "day": day,
                    "size": len(self.state.day_files.get(resource, ordinal, accounts)),
                    "create_date": self._create_date(resource, sid, ordinal),
                    "friendly_name": existing[ordinal],
                    "resource_type": resource,
                }
            )
        self.write_json(
            {
                "days": days,
                "meta": {
                    "first_page_url": link(0, None),
                    "key": "days",
                    "next_page_url": self.next_link(own, following),
                    "page": params.page,
                    "page_size": params.page_size,
                    "previous_page_url": link(params.page - 1, page.previous_token) if page.previous_token else None,
                    "url": own,
                },
            }
        )


class DayHandler(BulkExportHandler):
    """``/v1/Exports/{ResourceType}/Days/{Day}``: 307 to the day file's signed, short-lived link."""

    def get(self, resource: ResourceType, day: str) -> None:
        ordinal = parse_day("Day", day)
        sid = self.principal.account_sid
        if ordinal not in self._days(resource, sid):
            raise not_found(self.request.path)
        expires = self.state.now + LINK_LIFETIME
        query = urlencode(
            {
                "Account": sid,
                "Expires": str(expires),
                "Signature": link_signature(self._secret(), resource, day, sid, expires),
            }
        )
        target = f"{self._origin()}/v1/Exports/{resource}/Files/{day}?{query}"
        self.set_header("Location", target)
        self.write_json({"redirect_to": target}, status=307)


class DayFileHandler(BulkExportHandler):
    """The signed link's target: the gzip JSON-lines file; no Basic auth, the signature is the credential."""

    async def prepare(self) -> None:
        """Check the signature and expiry instead of Basic auth (faults do not apply here)."""

    def get(self, resource: ResourceType, day: str) -> None:
        sid = self.get_query_argument("Account", "")
        expires_text = self.get_query_argument("Expires", "")
        signature = self.get_query_argument("Signature", "")
        expires = int(expires_text) if expires_text.isdigit() and len(expires_text) < 12 else -1
        expected = link_signature(self._secret(), resource, day, sid, expires)
        if expires < 0 or not _same(signature, expected):
            raise SandboxError(403, 20403, "The file link's signature does not match; fetch the Day again")
        if expires <= self.state.now:
            raise SandboxError(403, 20403, "The file link has expired; fetch the Day again for a new one")
        ordinal = parse_day("Day", day)
        account = self.state.account(sid)
        if account is None or (not account.is_owner and self.state.connected_family(sid) is None):
            raise SandboxError(403, 20403, "The credentials that made this link are no longer authorized")
        if ordinal not in self._days(resource, sid):
            msg = f"The {resource} file for {day} has been deleted (files are kept 7 days after creation)"
            raise SandboxError(404, 20404, msg)
        body = self.state.day_files.get(resource, ordinal, _accounts(self, sid))
        self.set_header("Content-Type", "application/gzip")
        self.set_header("Content-Disposition", f'attachment; filename="{day}.json.gz"')
        self.finish(body)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
