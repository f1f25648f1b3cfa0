"""`sandbox._export_jobs`: BulkExport custom jobs: creation rules, the daily quota, the days they export.

The sandbox's rules (``twilio-api-notes.md`` §8.3; deterministic from the seed and
the sandbox's clock):

- A job's ``EndDay`` must be at least 2 days before today (the sandbox's UTC day),
  and ``StartDay`` not after ``EndDay``.
- At most 366 requested days per UTC day for a parent and its subaccounts: the
  quota is kept per *family key* (the customer's main account for Connect
  credentials, the owner for the owner) and per day of creation. Deleting a job
  does not give its days back. A refusal is 400 / 20001 (Twilio's status and code
  for it are UNCONFIRMED; the sandbox's assumption).
- A job completes at once, or, in a sandbox made with ``export_job_polls=n``,
  after ``n`` reads of it (``GET /v1/Exports/Jobs/{JS…}``), until then ``Running``
  with a queue position: real jobs take minutes to hours, and a pinned clock
  cannot pass them. Once complete its ``details`` has one ``Completed`` status
  with all its days, and those days appear in ``Days`` (and ``Days/{Day}`` serves
  them) for 7 days after the job's creation, until the job is deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ._errors import SandboxError, bad_request
from ._formats import DAY, day_of, iso8601
from ._sids import plain_sid

__all__ = [
    "DAILY_DAY_QUOTA",
    "JOB_FILE_LIFETIME_DAYS",
    "MIN_END_DAY_AGE",
    "ExportJob",
    "ExportJobs",
    "parse_day",
    "parse_job",
]

DAILY_DAY_QUOTA = 366
MIN_END_DAY_AGE = 2  # EndDay at least this many days before today
JOB_FILE_LIFETIME_DAYS = 7
_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class ExportJob:
    """One custom export job, as created."""

    sid: str
    key: str  # the family key: the customer's main account SID, or the owner's SID
    resource: str
    start: int  # day ordinals, inclusive
    end: int
    friendly_name: str
    webhook_url: str | None
    webhook_method: str | None
    email: str | None
    created: int  # epoch seconds (the sandbox's clock)

    @property
    def days(self) -> list[int]:
        """The job's day ordinals, oldest first."""
        return list(range(self.start, self.end + 1))

    def exports_at(self, now: int) -> bool:
        """Whether the job's files still exist at ``now`` (7 days after creation)."""
        return now < self.created + JOB_FILE_LIFETIME_DAYS * DAY

    def to_json(self, url: str | None = None, *, queued: int = 0) -> dict[str, Any]:
        """Render as ``export_custom_job``; with ``url``, as ``job`` (the instance resource).

        ``queued``: the job's position in the queue while it runs (0: completed).
        """
        out: dict[str, Any] = {
            "start_day": date.fromordinal(self.start).isoformat(),
            "job_sid": self.sid,
            "friendly_name": self.friendly_name,
            "webhook_method": self.webhook_method,
            "details": [
                {
                    "status": "Running" if queued else "Completed",
                    "count": len(self.days),
                    "days": [date.fromordinal(d).isoformat() for d in self.days],
                }
            ],
            "end_day": date.fromordinal(self.end).isoformat(),
            "webhook_url": self.webhook_url,
            "email": self.email,
            "resource_type": self.resource,
            "job_queue_position": str(queued) if queued else None,  # completed: no longer queued
            "estimated_completion_time": iso8601(self.created),
        }
        if url is not None:
            out["url"] = url
        return out


def parse_day(name: str, value: str) -> int:
    """A ``YYYY-MM-DD`` field (StartDay, EndDay, a Days path) as a day ordinal; 400 / 20001 otherwise."""
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value).toordinal()
    except ValueError:
        msg = f"{name} must be a date like 2026-10-30 (YYYY-MM-DD), got {value[:40]!r}"
        raise bad_request(msg) from None


def parse_job(form: Mapping[str, str], now: int) -> dict[str, Any]:
    """Check a create request's fields; return them as ``ExportJob`` keyword arguments (no sid/key/created)."""
    for name in ("StartDay", "EndDay", "FriendlyName"):
        if not form.get(name):
            msg = f"Missing required parameter {name} in the post body"
            raise bad_request(msg)
    start, end = parse_day("StartDay", form["StartDay"]), parse_day("EndDay", form["EndDay"])
    if start > end:
        msg = f"StartDay {form['StartDay']} is after EndDay {form['EndDay']}"
        raise bad_request(msg)
    latest = day_of(now) - MIN_END_DAY_AGE
    if end > latest:
        msg = (
            f"EndDay must be at least {MIN_END_DAY_AGE} days before the current UTC day; "
            f"the latest allowed is {date.fromordinal(latest).isoformat()}, got {form['EndDay']}"
        )
        raise bad_request(msg)
    url, method = form.get("WebhookUrl") or None, form.get("WebhookMethod") or None
    if (url is None) != (method is None):
        msg = "WebhookUrl and WebhookMethod must be given together"
        raise bad_request(msg)
    if method is not None and method.upper() not in _METHODS:
        msg = f"WebhookMethod must be GET or POST, got {method[:20]!r}"
        raise bad_request(msg)
    return {
        "start": start,
        "end": end,
        "friendly_name": form["FriendlyName"],
        "webhook_url": url,
        "webhook_method": None if method is None else method.upper(),
        "email": form.get("Email") or None,
    }


@dataclass
class ExportJobs:
    """Every job the sandbox holds, and the days each family requested on each UTC day."""

    jobs: dict[str, ExportJob] = field(default_factory=dict)  # in creation order
    requested: dict[tuple[str, int], int] = field(default_factory=dict)  # (family key, day of creation) -> days
    made: int = 0  # jobs ever created since the last clear, for deterministic SIDs
    polls: int = 0  # reads of a job before it completes (the sandbox's ``export_job_polls``)
    reads: dict[str, int] = field(default_factory=dict)  # job SID -> reads so far
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, seed: int, key: str, resource: str, now: int, fields: dict[str, Any]) -> ExportJob:
        """Create a job, or refuse it (400 / 20001) when it would pass the family's daily quota."""
        wanted = fields["end"] - fields["start"] + 1
        with self.lock:
            used = self.requested.get((key, day_of(now)), 0)
            if used + wanted > DAILY_DAY_QUOTA:
                msg = (
                    f"At most {DAILY_DAY_QUOTA} days may be requested per UTC day for an account and its "
                    f"subaccounts; {used} were requested today and this job asks for {wanted}"
                )
                raise SandboxError(400, 20001, msg)
            self.made += 1
            sid = plain_sid("JS", seed, key, self.made)
            job = ExportJob(sid=sid, key=key, resource=resource, created=now, **fields)
            self.jobs[sid] = job
            self.requested[(key, day_of(now))] = used + wanted
            return job

    def get(self, key: str, sid: str) -> ExportJob | None:
        """The job with this SID if the family ``key`` made it; a read that brings it nearer completion."""
        with self.lock:
            job = self.jobs.get(sid)
            if job is None or job.key != key:
                return None
            self.reads[sid] = self.reads.get(sid, 0) + 1
            return job

    def queued(self, sid: str) -> int:
        """The job's queue position while it runs (reads left before it completes); 0 once complete."""
        with self.lock:
            return max(0, self.polls - self.reads.get(sid, 0))

    def delete(self, key: str, sid: str) -> bool:
        """Delete a job of the family ``key``; return whether there was one."""
        with self.lock:
            job = self.jobs.get(sid)
            if job is None or job.key != key:
                return False
            del self.jobs[sid]
            return True

    def of(self, key: str, resource: str) -> list[ExportJob]:
        """The family's jobs for one resource type, in creation order."""
        with self.lock:
            return [j for j in self.jobs.values() if j.key == key and j.resource == resource]

    def days(self, key: str, resource: str, now: int) -> dict[int, ExportJob]:
        """Day ordinal -> the (first) job whose file for that day exists at ``now``."""
        out: dict[int, ExportJob] = {}
        for job in self.of(key, resource):
            if job.exports_at(now) and not self.queued(job.sid):
                for ordinal in job.days:
                    out.setdefault(ordinal, job)
        return out

    def clear(self) -> None:
        """Forget every job and every day's quota (``Sandbox.reset()``)."""
        with self.lock:
            self.jobs.clear()
            self.requested.clear()
            self.reads.clear()
            self.made = 0
