"""`sandbox._rest.export_jobs`: BulkExport v1 custom jobs.

``POST``/``GET /v1/Exports/{ResourceType}/Jobs`` create (201) and list (v1 ``meta``
envelope, creation order) a family's jobs; ``GET``/``DELETE /v1/Exports/Jobs/{JS…}``
fetch and delete one (204). Creating and deleting are writes, so Connect
credentials need ``post-all`` like every other write (§8.1; UNCONFIRMED for the
real service). A job is its family's: the customer's (any of its credentials
see it) or the owner's. The rules (2-day end, 366-day quota, completion at once,
7 days of files) are in ``sandbox._export_jobs``.
"""

from __future__ import annotations

from .._errors import not_found
from .._export_jobs import parse_job
from .._query import list_page
from .bulkexports import BulkExportHandler, family_key

__all__ = ["JobHandler", "JobsHandler"]


class JobsHandler(BulkExportHandler):
    """``/v1/Exports/{ResourceType}/Jobs``: create a custom job, or list the family's jobs."""

    def post(self, resource: str) -> None:
        """Create a job (201, ``export_custom_job``), or refuse it as 400 / 20001."""
        fields = parse_job(self.form(), self.state.now)
        key = family_key(self, self.principal.account_sid)
        job = self.state.export_jobs.create(self.state.seed, key, resource, self.state.now, fields)
        self.write_json(job.to_json(queued=self.state.export_jobs.queued(job.sid)), status=201)

    def get(self, resource: str) -> None:
        """The family's jobs of this resource type, in creation order, v1 envelope."""
        params = self.list_params(())
        jobs = self.state.export_jobs.of(family_key(self, self.principal.account_sid), resource)
        page = list_page(params, jobs)
        base = f"{self._origin()}/v1/Exports/{resource}/Jobs"
        jobs_json = [j.to_json(queued=self.state.export_jobs.queued(j.sid)) for j in page.items]
        self.write_json({"jobs": jobs_json, "meta": self.v1_meta("jobs", base, params, page)})


class JobHandler(BulkExportHandler):
    """``/v1/Exports/Jobs/{JS…}``: one of the family's jobs; another family's is 404."""

    def get(self, sid: str) -> None:
        """The job (``job``, with its ``url``)."""
        job = self.state.export_jobs.get(family_key(self, self.principal.account_sid), sid)
        if job is None:
            raise not_found(self.request.path)
        url = f"{self._origin()}/v1/Exports/Jobs/{sid}"
        self.write_json(job.to_json(url, queued=self.state.export_jobs.queued(sid)))

    def delete(self, sid: str) -> None:
        """Delete the job (204); its days leave ``Days`` unless the automatic files hold them."""
        if not self.state.export_jobs.delete(family_key(self, self.principal.account_sid), sid):
            raise not_found(self.request.path)
        self.set_status(204)
        self.finish()
