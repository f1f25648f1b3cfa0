"""`_report`: run a report notebook (one customer's calls, or the portfolio) headless into one self-contained HTML file.

The notebook is executed with nbclient (its ``parameters`` cell overridden, the
papermill convention), and the HTML is assembled here from the outputs: markdown
as HTML, charts as the inline SVG the kernel drew with vl-convert, the KPI card as
HTML. Nothing refers to a CDN, so the file renders offline. It is written to a
temporary file and renamed into place, so a failed run leaves no partial report.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._atomic import atomic_write
from ._config import check_sid
from ._exceptions import ConfigError

__all__ = ["DEFAULT_DAYS", "DEFAULT_NOTEBOOK", "PORTFOLIO_NOTEBOOK", "ReportError", "ReportParams", "render_report"]

# Package data (notebooks/ links to both, so nbval runs the very notebooks the command does).
DEFAULT_NOTEBOOK = Path(__file__).resolve().parent / "call_report.ipynb"
PORTFOLIO_NOTEBOOK = Path(__file__).resolve().parent / "portfolio_report.ipynb"
DEFAULT_DAYS = 30


class ReportError(Exception):
    """The report could not be produced; the message says why (a cell's error, or a bad parameter)."""


@dataclass(frozen=True)
class ReportParams:
    """The report's parameters, checked before any kernel starts.

    ``portfolio`` chooses the portfolio report (every customer of ``dataset``, or every
    connected one) instead of the call report of ``account``.
    """

    account: str | None
    start: date
    end: date
    tz: str
    portfolio: bool = False
    dataset: Path | None = None

    @classmethod
    def parse(
        cls,
        *,
        account: str | None,
        start: str | None,
        end: str | None,
        tz: str,
        now: datetime | None = None,
        portfolio: bool = False,
        dataset: str | None = None,
    ) -> ReportParams:
        """Check the command line's values; raises ``ConfigError`` with the reason.

        The days are days in ``tz``, like the charts'. Without ``start`` and ``end`` the
        report covers the last 30 full days before today (``now`` in ``tz``); with only
        one of them, the 30 days after ``start`` or before ``end``. The portfolio report
        compares them with as many days just before.
        """
        if account is not None and portfolio:
            msg = "--account names the one customer of the call report; the portfolio report covers every customer"
            raise ConfigError(msg)
        if dataset is not None and not portfolio:
            msg = "--dataset is the portfolio report's: add --portfolio (the call report asks Twilio)"
            raise ConfigError(msg)
        if account is not None:
            check_sid(account, "AC", "--account")
        folder = _dataset(dataset) if dataset is not None else None
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"--tz must be an IANA time zone such as America/New_York, got {tz!r}"
            raise ConfigError(msg) from None
        try:
            first = date.fromisoformat(start) if start is not None else None
            after = date.fromisoformat(end) if end is not None else None
        except ValueError as exc:
            msg = f"--start and --end must be dates such as 2026-10-01 ({exc})"
            raise ConfigError(msg) from None
        span = timedelta(days=DEFAULT_DAYS)
        if after is None:
            after = first + span if first is not None else (now or datetime.now(UTC)).astimezone(zone).date()
        if first is None:
            first = after - span
        if after <= first:
            msg = f"--end ({after}) must be after --start ({first})"
            raise ConfigError(msg)
        return cls(account, first, after, tz, portfolio, folder)

    @property
    def notebook(self) -> Path:
        """The notebook this report runs unless ``--notebook`` names another."""
        return PORTFOLIO_NOTEBOOK if self.portfolio else DEFAULT_NOTEBOOK

    @property
    def title(self) -> str:
        return "Portfolio report" if self.portfolio else "Call report"

    @property
    def subject(self) -> str:
        """Whom the report covers, before the notebook has said it better."""
        if self.portfolio:
            return f"the customers of {self.dataset}" if self.dataset else "the connected customers"
        return self.account or "the default account"

    @property
    def days(self) -> str:
        """The report's days, as its header line shows them."""
        days = f"{self.start} to {self.end} (end excluded)"
        if self.portfolio:
            days += f" against the {(self.end - self.start).days} days before"
        return days

    def assignments(self) -> str:
        """The injected-parameters cell."""
        first = (
            f"dataset = {str(self.dataset) if self.dataset else None!r}"
            if self.portfolio
            else (f"account = {self.account!r}")
        )
        return f"{first}\nstart = {self.start.isoformat()!r}\nend = {self.end.isoformat()!r}\ntimezone = {self.tz!r}\n"


def _dataset(text: str) -> Path:
    """``--dataset``: an existing folder that ``cn.sync`` wrote (its ``families/`` or ``calls/`` folder), made absolute.

    Absolute, because the notebook's kernel runs in the report's folder, not in this one.
    """
    folder = Path(text).expanduser().resolve()
    if not folder.is_dir():
        msg = f"--dataset must be a folder written by cn.sync(), got {text!r}: there is no such folder"
        raise ConfigError(msg)
    if not (folder / "families").is_dir() and not (folder / "calls").is_dir():
        msg = f"--dataset {text!r} holds no cn.sync() dataset (no families/ or calls/ folder); pass sync's to="
        raise ConfigError(msg)
    return folder


def _inject(nb: Any, params: ReportParams) -> None:
    import nbformat

    cell = nbformat.v4.new_code_cell(params.assignments())  # type: ignore[no-untyped-call]
    cell.metadata["tags"] = ["injected-parameters"]
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), -1)
    nb.cells.insert(index + 1, cell)


def _execute(nb: Any, workdir: Path, log: Callable[[str], None]) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    done = 0

    def on_cell_complete(cell: Any, cell_index: int, **_: Any) -> None:
        nonlocal done
        if cell.cell_type == "code":
            done += 1
            log(f"  cell {done}/{len(code_cells)} done")

    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        on_cell_complete=on_cell_complete,
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        failed = next(
            (
                o
                for c in nb.cells
                if c.cell_type == "code"
                for o in c.get("outputs", [])
                if o.get("output_type") == "error"
            ),
            None,
        )
        reason = f"{failed['ename']}: {failed['evalue']}" if failed else str(exc).splitlines()[-1]
        msg = f"the report notebook failed: {reason}"
        raise ReportError(msg) from None


def _markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    # Drop the "¶" heading anchors nbconvert adds: they point nowhere in a standalone page.
    return re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", str(markdown2html_mistune(text)))


def _outputs_html(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(f"<pre class=stream>{html.escape(output.get('text', ''))}</pre>")
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "image/svg+xml" in data:
                parts.append(f"<figure class=chart>{data['image/svg+xml']}</figure>")
            elif "text/html" in data:
                parts.append(f"<div class=html-output>{data['text/html']}</div>")
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(data['text/plain'])}</pre>")
    return "".join(parts)


_STYLE = """
body{font-family:"Helvetica Neue",Helvetica,Arial,sans-serif;color:#121c2d;max-width:980px;margin:32px auto;
padding:0 16px;line-height:1.45}h1{margin-bottom:4px}
h2{margin-top:36px;border-bottom:1px solid #e1e3ea;padding-bottom:4px}
.meta{color:#606b85}pre{background:#f4f4f6;padding:8px 12px;border-radius:4px;overflow-x:auto}
figure.chart{margin:12px 0}figure.chart svg{max-width:100%;height:auto}
"""


def _customer(nb: Any, fallback: str) -> str:
    """Whom the report is about: the first line the notebook's ``customer`` cell printed (a name, or "3 customers")."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "customer" in cell.metadata.get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("text", "").strip():
                    return str(output["text"]).strip().splitlines()[0]
    return fallback


def _html(nb: Any, params: ReportParams, subject: str) -> str:
    body = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            body.append(_markdown(cell.source))
        elif "parameters" not in tags and "injected-parameters" not in tags:
            body.append(_outputs_html(cell))
    meta = f"{html.escape(subject)} · {params.days}, days and times in {html.escape(params.tz)}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{params.title} · {html.escape(subject)}</title><style>{_STYLE}</style></head><body>"
        f"<p class=meta>{meta}</p>{''.join(body)}</body></html>"
    )


def render_report(
    params: ReportParams, out: Path, *, notebook: Path | None = None, log: Callable[[str], None] | None = None
) -> Path:
    """Execute the report notebook with ``params`` and write the HTML report to ``out``.

    ``notebook`` defaults to the report's own (``params.notebook``). Raises
    ``ReportError`` when the notebook fails; ``out`` is then left as it was.
    """
    import nbformat

    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    notebook = notebook if notebook is not None else params.notebook
    if not notebook.exists():
        msg = f"no report notebook at {notebook}; pass --notebook"
        raise ReportError(msg)
    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    _inject(nb, params)
    say(f"running {notebook.name} for {params.subject}, {params.start} to {params.end}")
    _execute(nb, out.resolve().parent, say)  # the kernel's folder: the report's, not the (read-only) package
    subject = _customer(nb, params.subject)
    out = out.resolve()
    atomic_write(out, _html(nb, params, subject).encode("utf-8"))  # an ordinary file: 0o666 & ~umask
    say(f"wrote {out} ({out.stat().st_size // 1024} KB) at {datetime.now().astimezone():%Y-%m-%d %H:%M}")
    return out
