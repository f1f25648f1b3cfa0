"""`_bulkexport`: days of calls or messages older than the list APIs serve, read from BulkExport.

The list APIs stop at their retention (messages 400 days, calls about 13 months;
``twilio-api-notes.md`` §8.3). BulkExport has every day as one gzip JSON-lines
file for an account and its subaccounts. For the days a load needs, ``Exporter``

1. lists the files that exist (``Days``, 400 a page): Twilio keeps a file 7 days
   after making it, so a load repeated within a week asks for nothing new;
2. waits for the family's unfinished jobs that cover missing days, and creates a
   custom job for each run of the others (newest first, at most 366 days a job):
   Twilio allows 366 requested days per UTC day for a parent and its subaccounts,
   and what it refuses is reported after the rest is loaded (and cached);
3. polls the jobs, saying which one it waits for and where it is in the queue;
4. fetches each day: ``Days/{Day}`` answers 307 with a short-lived signed link,
   which is fetched without credentials (it is its own credential).

Every BulkExport request is the Connect App's: if Twilio refuses those
credentials (whether it serves them is unconfirmed), the message says so and
names the oldest day the list API still serves.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import polars as pl

from ._client import APIClient
from ._config import ConnectApp
from ._exceptions import (
    APIError,
    AuthorizationRevoked,
    BulkExportError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._frames import read_export_file

__all__ = ["DAILY_DAY_QUOTA", "Exporter", "check_region"]

DAILY_DAY_QUOTA = 366  # days requested per UTC day for a parent and its subaccounts (§8.3)
DAYS_PAGE_SIZE = 400  # the most ``Days`` lists a page (§6); it lists 10 unless told
JOB_NAME = "connect_notebook"
_RESOURCES = {"calls": "Calls", "messages": "Messages"}
# Job statuses (the spec's enum; its description writes them upper-case, so compared without case).
_DONE = frozenset({"completed", "completedemptyrecords"})
_FAILED = frozenset({"failed", "errorduringrun", "runningtobedeleted", "deletedbyuserrequest"})
_REGION = re.compile(r"\.([a-z]{2}\d)\.twilio\.com$")
_FIRST_POLL, _LAST_POLL = 2.0, 60.0  # seconds between reads of a running job: doubling up to a minute
_DAY = timedelta(days=1)
_CREATING = "creating an export job"


def check_region(app: ConnectApp, kind: str, listed_from: date) -> None:
    """Refuse, before any request, an app whose REST API is in a region other than US1: BulkExport is US1 only."""
    host = (urlsplit(app.api_url).hostname or "").lower()
    match = _REGION.search(host)
    if match is not None and match.group(1) != "us1":
        msg = (
            f"{kind.capitalize()} before {listed_from} are only in BulkExport, which serves accounts in Twilio's US1 "
            f"region only; this app's REST API is in {match.group(1)} ({host}). Load from {listed_from} "
            f"(start={listed_from.isoformat()!r}), what the list API still serves."
        )
        raise BulkExportError(msg, listed_from=listed_from)


@dataclass(frozen=True)
class _Job:
    """A custom job as the loader follows it."""

    sid: str
    first: date
    last: date
    statuses: dict[str, list[date]]  # status (lower-case) -> its days
    queue_position: str | None

    @classmethod
    def parse(cls, job: dict[str, Any]) -> _Job:
        statuses: dict[str, list[date]] = {}
        for detail in job.get("details") or []:
            if isinstance(detail, dict):
                days = [date.fromisoformat(d) for d in detail.get("days") or [] if isinstance(d, str)]
                statuses.setdefault(str(detail.get("status", "")).lower(), []).extend(days)
        return cls(
            sid=str(job["job_sid"]),
            first=date.fromisoformat(job["start_day"]),
            last=date.fromisoformat(job["end_day"]),
            statuses=statuses,
            queue_position=job.get("job_queue_position"),
        )

    @property
    def days(self) -> set[date]:
        return {self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)}

    @property
    def failed(self) -> bool:
        return any(s in _FAILED for s in self.statuses)

    @property
    def done(self) -> bool:
        return bool(self.statuses) and all(s in _DONE for s in self.statuses)

    @property
    def empty_days(self) -> set[date]:
        """Days the job found no records for (they may have no file)."""
        return set(self.statuses.get("completedemptyrecords", []))


def _runs(days_newest_first: Iterable[date], longest: int) -> list[tuple[date, date]]:
    """Consecutive days as ``(first, last)`` runs of at most ``longest`` days, newest first."""
    runs: list[tuple[date, date]] = []
    for day in days_newest_first:
        if runs and runs[-1][0] - _DAY == day and (runs[-1][1] - day).days < longest:
            runs[-1] = (day, runs[-1][1])
        else:
            runs.append((day, day))
    return runs


def _decode_list(key: str) -> Callable[[bytes], tuple[list[dict[str, Any]], str | None]]:
    def decode(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
        page = json.loads(body)
        records = page[key]
        if not isinstance(records, list):
            msg = f"{key} is not a list"
            raise ValueError(msg)
        return records, (page.get("meta") or {}).get("next_page_url")

    return decode


class Exporter:
    """BulkExport for one load of one kind: which days have files, the jobs for the others, each day's records.

    Parameters
    ----------
    client
        The load's client, authenticated as the connected account.
    kind
        ``"calls"`` or ``"messages"``.
    listed_from
        The oldest day the list API serves: what the messages name as the way out.
    note
        Called with a line for the progress bar while jobs run.
    """

    def __init__(self, client: APIClient, kind: str, listed_from: date, note: Callable[[str], None]) -> None:
        self.client = client
        self.kind = kind
        self.listed_from = listed_from
        self.note = note
        self.base = f"{client.app.bulkexports_url}/v1/Exports/{_RESOURCES[kind]}"
        self.jobs_url = f"{client.app.bulkexports_url}/v1/Exports/Jobs"
        self.empty_days: set[date] = set()
        self.refused: str | None = None  # why some days were not exported (the quota), said after the load

    # -- requests, with Twilio's refusals said in BulkExport's terms --

    def _call(self, what: str, request: Callable[[], Any]) -> Any:
        try:
            return request()
        except AuthorizationRevoked as exc:
            raise self._connect_refused(401, 20003, what) from exc
        except APIError as exc:
            if exc.status_code in (401, 403):
                raise self._connect_refused(exc.status_code, exc.code, what) from exc
            raise

    def _connect_refused(self, status: int, code: int | None, what: str) -> BulkExportError:
        answer = f"{status}{f' / {code}' if code else ''}"
        if what == _CREATING:
            why = (
                f"BulkExport refused to create an export job for {self.client.account_sid} ({answer}): a job is a "
                "POST, which Twilio lets a Connect App send only where the customer granted post-all (read and "
                "write), not get-all alone. Ask the customer to connect again with that permission"
            )
        else:
            why = (
                f"BulkExport refused the Connect App's credentials for {self.client.account_sid} ({answer}, for "
                f"{what}), though the list API accepts them: Twilio may serve BulkExport to an account's own "
                "credentials only. Ask the customer for an export of the older days"
            )
        msg = (
            f"{why}, or load from {self.listed_from} (start={self.listed_from.isoformat()!r}): "
            f"{self.kind} before {self.listed_from} are only in BulkExport."
        )
        return BulkExportError(msg, listed_from=self.listed_from)

    def _list(self, url: str, key: str, what: str) -> list[dict[str, Any]]:
        pages = self._call(what, lambda: list(self.client.iter_pages(url, _decode_list(key), what=what)))
        return [record for page in pages for record in page]

    # -- 1 to 3: files for every day asked --

    def prepare(self, days: Sequence[date]) -> list[date]:
        """Make sure each of ``days`` has a file; return the days that do (or are known empty), newest first.

        Days the family's daily quota leaves out are not returned; ``refused`` says why.
        """
        wanted = set(days)
        listed = self._list(f"{self.base}/Days?{urlencode({'PageSize': DAYS_PAGE_SIZE})}", "days", "export days")
        ready = {date.fromisoformat(d["day"]) for d in listed} & wanted
        missing = wanted - ready
        waiting: list[_Job] = []
        if missing:
            jobs = self._list(f"{self.base}/Jobs?{urlencode({'PageSize': 1000})}", "jobs", "export jobs")
            for job in map(_Job.parse, jobs):
                if job.days & missing and not job.failed and not job.done:
                    waiting.append(job)  # an unfinished job of an earlier load: wait for it, spend no quota
                    missing -= job.days
        for first, last in _runs(sorted(missing, reverse=True), DAILY_DAY_QUOTA):
            created = self._create(first, last, len(wanted - ready))
            if created is None:
                break
            waiting.append(created)
        for job in waiting:
            finished = self._wait(job)
            self.empty_days |= finished.empty_days & wanted
            ready |= (finished.days & wanted) - self.empty_days
        return sorted(ready | self.empty_days, reverse=True)

    def _create(self, first: date, last: date, needed: int) -> _Job | None:
        """Create a job for ``first`` … ``last``; None when Twilio refuses it (the quota), with ``refused`` set.

        A creation whose answer was lost may still have made the job, and another would
        spend the family's quota twice: before trying again, the family's jobs are read
        for this one's name (unique to this load), and a job found is the answer.
        """
        name = f"{JOB_NAME} {first} to {last} {secrets.token_hex(4)}"
        form = {"StartDay": first.isoformat(), "EndDay": last.isoformat(), "FriendlyName": name}
        url, retry = f"{self.base}/Jobs", self.client.retry
        for attempt in range(1, retry.attempts + 1):
            try:
                job = self._call(
                    _CREATING,
                    lambda: self.client.fetch(url, json.loads, what="export job", form=form, ok=(200, 201), once=True),
                )
                return _Job.parse(job)
            except (ServerError, TransportError) as exc:
                made = [
                    j
                    for j in self._list(f"{url}?PageSize=1000", "jobs", "export jobs")
                    if j.get("friendly_name") == name
                ]
                if made:
                    return _Job.parse(made[0])
                if attempt == retry.attempts:
                    raise
                retry.sleep(retry.delay(attempt, getattr(exc, "retry_after", None)))
            except RateLimitError as exc:  # refused before anything was made: try again after the wait
                if attempt == retry.attempts:
                    raise
                retry.sleep(retry.delay(attempt, exc.retry_after))
            except APIError as exc:
                self.refused = (
                    f"BulkExport refused a job for the {self.kind} of {first} to {last} ({exc.status_code}"
                    f"{f' / {exc.code}' if exc.code else ''}: {exc.message}). Twilio exports at most "
                    f"{DAILY_DAY_QUOTA} days per UTC day for an account and its subaccounts, and this load needs "
                    f"{needed:,} days before {self.listed_from}. The days exported so far are cached (and Twilio "
                    f"keeps their files 7 days): run the load again after midnight UTC to go on, or load from "
                    f"{self.listed_from} (start={self.listed_from.isoformat()!r}), what the list API still serves."
                )
                return None
        return None  # not reached: the last attempt returns or raises

    def _wait(self, job: _Job) -> _Job:
        """Poll ``job`` until it is done; its days then have files (or none, when empty)."""
        delay = _FIRST_POLL
        while not job.done:
            if job.failed:
                statuses = ", ".join(sorted(job.statuses))
                msg = (
                    f"BulkExport job {job.sid} for the {self.kind} of {job.first} to {job.last} ended as "
                    f"{statuses}; run the load again to ask for a new one"
                )
                raise BulkExportError(msg, listed_from=self.listed_from)
            where = f", queue position {job.queue_position}" if job.queue_position else ""
            self.note(f"{self.kind}: BulkExport job {job.sid[-6:]} ({job.first} to {job.last}) running{where}")
            self.client.retry.sleep(delay)
            delay = min(delay * 2, _LAST_POLL)
            url = f"{self.jobs_url}/{job.sid}"
            record = self._call("an export job", lambda: self.client.get_json(url))  # noqa: B023 - called at once
            job = _Job.parse(record)
        return job

    # -- 4: one day's records --

    def fetch(self, day: date) -> pl.DataFrame:
        """The day's records of every account in the file, typed like the list API's (empty for an empty day)."""
        if day in self.empty_days:
            return read_export_file(b"", self.kind)
        what = f"{self.kind} export of {day}"
        try:
            link = self._call(
                what, lambda: self.client.fetch(f"{self.base}/Days/{day}", _redirect, what=what, ok=(307, 200))
            )
            body = self.client.fetch(link, lambda b: b, what=f"{what} (file)", credentials=False)
        except NotFoundError as exc:
            msg = (
                f"BulkExport no longer has the {self.kind} file of {day} ({exc.status_code}): Twilio removes "
                "files 7 days after making them. Run the load again: it exports the day anew"
            )
            raise BulkExportError(msg, listed_from=self.listed_from) from exc
        except APIError as exc:
            if exc.status_code != 403:
                raise
            # The Days request's 403 is a refusal of the credentials (``_call``); this one is the file's link.
            msg = f"BulkExport's link to the {self.kind} file of {day} was refused ({exc.message}); run the load again"
            raise BulkExportError(msg, listed_from=self.listed_from) from exc
        try:
            return read_export_file(body, self.kind)
        except ValueError as exc:
            msg = f"BulkExport's {self.kind} file of {day} could not be read: {exc}"
            raise BulkExportError(msg, listed_from=self.listed_from) from exc


def _redirect(body: bytes) -> str:
    """The signed link of a ``Days/{Day}`` answer (``redirect_to``, as twilio-python reads it)."""
    link = json.loads(body)["redirect_to"]
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        msg = "redirect_to is not an http(s) link"
        raise ValueError(msg)
    return link
