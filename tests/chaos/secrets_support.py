"""What the secrets properties scan, and the machinery that makes a token reach connect_notebook as a real one would.

A ``Scan`` counts, per place, the items scanned and the occurrences of the owner's
token in them (``chaos.needles.Needles``: whole, any 12-character slice, hex, base64 in
any alignment), and keeps each hit's context, masked, for the failure message. The
token comes from a sandbox (it derives from the seed) and reaches the package only
through ``CONNECT_NOTEBOOK_*`` variables (``connect_env``). ``world(seed)`` is one
in-process run of that: a sandbox, its environment set, a kernel built from it and
every record of the package's, httpx's, httpcore's and tornado's loggers at DEBUG.
The rest runs what a user runs (a notebook in a kernel, the report CLI, pytest) as
child processes, and plays the customer's browser on the Connect pages.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chaos.figures import Table
from chaos.needles import Needles
from chaos.truth import NOW
from connect_notebook._kernel import Kernel, swap
from connect_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DAY, NEXT_DAY = "2026-10-31", "2026-11-01"  # one settled day before the pinned clock (truth.NOW)
TIMEOUT = 300  # seconds; a hang guard for a cell, a page or a process, never a measurement
LOGGERS = ("connect_notebook", "httpx", "httpcore", "tornado")
PYTEST_SUBSET = ("tests/test_loaders.py", "tests/test_callback.py")
_LINK = re.compile(r'class="cn-connect-link" href="([^"]+)"')

# The places of the table. "(info)" rows are reported, not required to be 0; "(control)" rows must see the token.
PLACE_NOTEBOOKS = "(a) notebooks (outputs, widget state, kernel output, callback pages)"
PLACE_FILES = "(a, c) files written (cache, config)"
PLACE_REPORT = "(b) report CLI (HTML, stdout, stderr)"
PLACE_LOGS = "(c) log records at DEBUG"
PLACE_ERRORS = "(d) exceptions and tracebacks"
PLACE_SID_PASTE = "(d) token pasted into a SID field"
PLACE_OTHER_PASTE = "(d) token pasted into a URL or port setting"
PLACE_REPRS = "(e) reprs, HTML reprs, widget state, frames, callback pages"
PLACE_PASTE_BOX = "(e) token pasted into the AccountSid box"
PLACE_SESSION = "(f) session file and its folder"
PLACE_PYTEST = "(g) pytest output (subset)"
PLACE_VERBOSE = "(info) IPython %xmode Verbose tracebacks"
PLACE_USERINFO = "(info) token inside the API URL (https://AC…:token@host)"
PLACE_CONTROL_BANNER = "(control) the sandbox's banner"
PLACE_CONTROL_HEADER = "(control) Authorization header of a real request"
PLACES = (
    PLACE_NOTEBOOKS,
    PLACE_FILES,
    PLACE_REPORT,
    PLACE_LOGS,
    PLACE_ERRORS,
    PLACE_SID_PASTE,
    PLACE_OTHER_PASTE,
    PLACE_REPRS,
    PLACE_PASTE_BOX,
    PLACE_SESSION,
    PLACE_PYTEST,
    PLACE_VERBOSE,
    PLACE_USERINFO,
    PLACE_CONTROL_BANNER,
    PLACE_CONTROL_HEADER,
)


# --------------------------------------------------------------------------------------
# What was scanned, and what was found
# --------------------------------------------------------------------------------------


@dataclass
class Place:
    """One place: how many items were scanned there, how many occurrences, and where (masked)."""

    name: str
    items: int = 0
    occurrences: int = 0
    hits: list[str] = field(default_factory=list)

    @property
    def required(self) -> bool:
        """Whether this place must hold no occurrence (informational rows and controls need not)."""
        return not self.name.startswith(("(info)", "(control)"))


class Scan:
    """Places and what was found in them, for one token."""

    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.places: dict[str, Place] = {}

    def add(self, place: str, label: str, text: str | bytes) -> int:
        """Scan one item; return its occurrences (and remember where, masked)."""
        row = self.places.setdefault(place, Place(place))
        found = self.needles.count(text)
        row.items += 1
        row.occurrences += found
        if found:
            shown = text.decode("latin-1") if isinstance(text, bytes) else text
            at = self.needles.first(shown)
            context = self.needles.mask(shown[max(0, at - 80) : at + 120])
            row.hits.append(f"{label}: {found} × …{context!r}…")
        return found

    def row(self, place: str) -> Place:
        """The place's row; it must have been scanned."""
        assert place in self.places, f"nothing was scanned for {place!r}"
        return self.places[place]

    def record(self, table: Table) -> None:
        """Add every place's items and occurrences to the figures, places in the order of the table (a)…(g)."""
        order = {name: i for i, name in enumerate(PLACES)}
        for row in sorted(self.places.values(), key=lambda r: order.get(r.name, len(order))):
            table.add(f"{row.name}: items scanned", row.items)
            table.add(f"{row.name}: occurrences", row.occurrences)

    def assert_clean(self, *places: str) -> None:
        """Each of ``places`` was scanned, and every required place holds no occurrence."""
        for place in places:
            assert self.row(place).items > 0, f"{place}: no item was scanned"
        leaks = [row for row in self.places.values() if row.required and row.occurrences]
        assert not leaks, f"the owner token ({self.needles.hint}) showed:\n" + "\n".join(
            f"{row.occurrences} occurrence(s) in {row.name}:\n  " + "\n  ".join(row.hits[:8]) for row in leaks
        )

    def mask(self, text: str) -> str:
        return self.needles.mask(text)


def scan_files(scan: Scan, place: str, folder: Path) -> None:
    """Every file under ``folder``, as bytes (parquet included), with its path."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        scan.add(place, str(path.relative_to(folder)), path.read_bytes() + b"\n" + str(path).encode())


# --------------------------------------------------------------------------------------
# Where the token comes from: a sandbox, and the environment that points at it
# --------------------------------------------------------------------------------------


@dataclass
class Credentials:
    """A sandbox's address and its owner's credentials, as a user would configure them.

    ``customers`` are the customers' main accounts (what a customer picks on the authorize
    page); ``connected`` the AccountSids the Connect App holds for them, its Connect
    subaccounts (what requests authenticate as, ``twilio-api-notes.md`` §8.1).
    """

    url: str
    owner_sid: str
    token: str = field(repr=False)
    connect_app_sid: str
    customers: list[str]
    connected: list[str]

    @classmethod
    def of(cls, sb: Sandbox) -> Credentials:
        """The sandbox's credentials; authorizes every customer (as ``--authorize all`` does) to learn its SID."""
        connected = [sb.authorize(sid) for sid in sb.customer_account_sids]
        return cls(
            sb.url, sb.owner_account_sid, sb.owner_auth_token, sb.connect_app_sid, sb.customer_account_sids, connected
        )

    def needles(self) -> Needles:
        """The token's forms, with a Basic header for every user name a request may carry."""
        return Needles(self.token, (self.owner_sid, *self.customers, *self.connected))


def connect_env(creds: Credentials, workdir: Path) -> dict[str, str]:
    """The CONNECT_NOTEBOOK_* variables pointing at the sandbox, the token among them.

    The callback server takes a free port (0); config and cache go under ``workdir``.
    """
    return {
        "CONNECT_NOTEBOOK_ACCOUNT_SID": creds.owner_sid,
        "CONNECT_NOTEBOOK_AUTH_TOKEN": creds.token,
        "CONNECT_NOTEBOOK_CONNECT_APP_SID": creds.connect_app_sid,
        "CONNECT_NOTEBOOK_API_URL": creds.url,
        "CONNECT_NOTEBOOK_MONITOR_URL": creds.url,
        "CONNECT_NOTEBOOK_INSIGHTS_URL": creds.url,
        "CONNECT_NOTEBOOK_BULKEXPORTS_URL": creds.url,
        "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL": creds.url,
        "CONNECT_NOTEBOOK_REGISTER_CALLBACK": "1",
        "CONNECT_NOTEBOOK_CALLBACK_PORT": "0",
        "CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS": ",".join(creds.connected),  # as `connect-notebook lab` sets it
        "CONNECT_NOTEBOOK_CACHE_DIR": str(workdir / "cache"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
    }


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without credentials or hub/pytest variables, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_", "JUPYTERHUB_", "PYTEST_"))
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------
# The logs, captured at DEBUG
# --------------------------------------------------------------------------------------


class Records(logging.Handler):
    """Every record it receives, formatted as a log file would hold it (with the traceback, if any)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(threadName)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def captured_logs(names: tuple[str, ...] = LOGGERS) -> Iterator[Records]:
    """Every record of ``names`` at DEBUG, formatted; they reach nobody else meanwhile.

    Not propagated: pytest's own log capture would otherwise print the records of a
    failing example unmasked, and keep every DEBUG record of hundreds of examples.
    """
    handler = Records()
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
        lg.propagate = False
    try:
        yield handler
    finally:
        for lg, (level, propagated) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagated


# --------------------------------------------------------------------------------------
# One in-process run: a sandbox of its own, its environment, a kernel, the logs
# --------------------------------------------------------------------------------------


@dataclass
class World:
    """One example's sandbox (its owner token derives from the example's seed), environment and kernel."""

    sb: Sandbox
    creds: Credentials
    scan: Scan
    kernel: Kernel
    workdir: Path
    logs: Records

    @property
    def token(self) -> str:
        return self.creds.token

    def connected(self, customer: str) -> str:
        """The AccountSid the Connect App holds for ``customer`` (every customer is authorized)."""
        sid = self.sb.connected_sid(customer)
        assert sid is not None, f"{customer} never authorized the Connect App"
        return sid


@contextlib.contextmanager
def world(seed: int, calls: int = 300) -> Iterator[World]:
    """A sandbox seeded with ``seed``, the CONNECT_NOTEBOOK_* variables pointing at it, a kernel built from them.

    Every customer is authorized. On exit the kernel closes (its callback server stops),
    and the log records and the files written (cache, config) are added to the scan.
    """
    with (
        Sandbox(seed=seed, calls_per_customer=calls, now=NOW) as sb,
        tempfile.TemporaryDirectory(prefix="chaos-secrets-") as tmp,
        pytest.MonkeyPatch.context() as mp,
    ):
        workdir = Path(tmp)
        creds = Credentials.of(sb)
        for name in [n for n in os.environ if n.startswith(("CONNECT_NOTEBOOK_", "TWILIO_"))]:
            mp.delenv(name)
        for name, value in connect_env(creds, workdir).items():
            mp.setenv(name, value)
        scan = Scan(creds.needles())
        with captured_logs() as logs:
            kernel = Kernel()  # this example's own kernel, from the variables just set
            previous = swap(kernel)
            try:
                yield World(sb, creds, scan, kernel, workdir, logs)
            finally:
                kernel.close()
                swap(previous)
        for i, line in enumerate(logs.lines):
            scan.add(PLACE_LOGS, f"log record {i}", line)
        for folder in ("cache", "config"):
            if (workdir / folder).exists():
                scan_files(scan, PLACE_FILES, workdir / folder)


# --------------------------------------------------------------------------------------
# The customer's browser: authorize page, then the kernel's callback server
# --------------------------------------------------------------------------------------


def click_through(link: str, customer: str) -> list[tuple[str, str]]:
    """Do what a browser does after the Connect link: authorize ``customer``, follow the redirects.

    Returns (label, text) of every answer of the callback server (status, headers, body).
    """
    page, _, query = html.unescape(link).partition("?")
    state = parse_qs(query)["state"][0]
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False) as browser:
        final = browser.post(page, data={"decision": "authorize", "AccountSid": customer, "state": state})
    answers = []
    for response in [*final.history, final]:
        if urlsplit(str(response.url)).path.startswith("/connect/"):
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            answers.append((f"{response.status_code} {response.url.path}", f"{headers}\n\n{response.text}"))
    assert final.status_code == 200 and answers, f"the click-through ended on {final.status_code} {final.url.path}"
    return answers


def links_in(states: list[dict[str, Any]]) -> list[str]:
    """The Connect links in widget states (the HTML model's ``value``)."""
    return [m for s in states if isinstance(s.get("value"), str) for m in _LINK.findall(s["value"])]


# --------------------------------------------------------------------------------------
# (a) a notebook in a kernel, (b) the report CLI, (g) pytest: child processes
# --------------------------------------------------------------------------------------


@dataclass
class NotebookRun:
    """An executed notebook, what its kernel printed and what the browser got from the callback server."""

    path: Path
    nb: Any
    kernel_stdout: str
    kernel_stderr: str
    browser: list[tuple[str, str]]
    error: str | None


def run_notebook(path: Path, env: Mapping[str, str], customer: str, workdir: Path) -> NotebookRun:
    """Execute ``path`` in a fresh kernel with ``env``; click Connect for ``customer`` when a button appears."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    browser: list[tuple[str, str]] = []

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if "connect_button(" in cell.source:
            links = links_in(list(client.widget_state.values()))
            assert links, f"cell {cell_index} made no Connect link"
            browser.extend(click_through(links[-1], customer))

    client.on_cell_executed = on_cell_executed
    out_path, err_path = workdir / f"{path.stem}.kernel.out", workdir / f"{path.stem}.kernel.err"
    error = None
    with out_path.open("w") as out, err_path.open("w") as err:
        try:
            client.execute(env=dict(env), stdout=out, stderr=err, cwd=str(workdir))
        except CellExecutionError as exc:
            error = str(exc).strip().splitlines()[-1]
    if error is None:
        client.set_widgets_metadata()
    return NotebookRun(path, nb, out_path.read_text(), err_path.read_text(), browser, error)


def widget_models(nb: Any) -> dict[str, Any]:
    """The widget models nbclient stored in the notebook's ``metadata.widgets``."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return dict(state.get("state", {}))


def scan_notebook(scan: Scan, place: str, run: NotebookRun) -> None:
    """Every cell output, every stored widget model, the whole notebook, the kernel's output, the callback pages."""
    import nbformat

    name = run.path.name
    for i, cell in enumerate(run.nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            scan.add(place, f"{name} cell {i} output {j}", json.dumps(output))
    for model_id, model in widget_models(run.nb).items():
        scan.add(place, f"{name} widget {model_id}", json.dumps(model))
    scan.add(place, f"{name} notebook JSON", nbformat.writes(run.nb))  # type: ignore[no-untyped-call]
    scan.add(place, f"{name} kernel stdout", run.kernel_stdout)
    scan.add(place, f"{name} kernel stderr", run.kernel_stderr)
    for label, text in run.browser:
        scan.add(place, f"{name} callback page {label}", text)


def run_report_cli(env: Mapping[str, str], out: Path, start: str, end: str) -> subprocess.CompletedProcess[str]:
    """``python -m connect_notebook._cli report`` over ``[start, end)`` with ``env``, writing ``out``."""
    command = [sys.executable, "-m", "connect_notebook._cli", "report", "--start", start, "--end", end]
    command += ["--tz", "America/New_York", "--out", str(out)]
    return subprocess.run(
        command, env=child_env(env), cwd=out.parent, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def run_pytest(env: Mapping[str, str], paths: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """pytest on ``paths`` with ``env``; ``-rP`` prints what passing tests captured, so it is scanned too."""
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-x", "-rP"]
    return subprocess.run(
        command, env=child_env(env), cwd=ROOT, capture_output=True, text=True, timeout=6 * TIMEOUT, check=False
    )
