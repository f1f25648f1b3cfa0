"""Secrets: everything connect_notebook shows, writes or logs, scanned for a recognisable owner Auth Token.

Run: ``python bench/chaos_secrets.py [--quick] [--full-suite] [--seed N] [--json]``.

The owner token is the sandbox's, derived from ``--seed`` (default 31337): a real-looking
32-hex-digit Auth Token that no other run uses. It reaches connect_notebook only the way
a real one would: through ``CONNECT_NOTEBOOK_AUTH_TOKEN`` and the other
``CONNECT_NOTEBOOK_*`` variables, read by ``ConnectApp.from_env()``. Then:

(a) every notebook in ``notebooks/`` runs headless (nbclient) in a kernel whose
    environment points at a sandbox process (``python -m connect_notebook.sandbox
    --seed …``). The quickstart's Connect button is clicked by this script, acting as
    the customer's browser (sandbox authorize page, then the kernel's callback server).
    Scanned: every cell output, every widget model nbclient stored (it does store them,
    in ``metadata.widgets``), the whole notebook JSON, the kernel's stdout and stderr,
    the callback pages the browser got, and every file the run wrote (parquet cache,
    config folder);
(b) ``python -m connect_notebook._cli report`` with the same environment: the HTML,
    stdout and stderr;
(c) in process, against a sandbox with the same seed: loads with faults injected (429,
    503, resets, truncated bodies), a Connect click-through, a pasted AccountSid, a
    signed deauthorize, and every error of (d), with the ``connect_notebook``, ``httpx``,
    ``httpcore`` and ``tornado`` loggers at DEBUG; every record is scanned, formatted
    (with its traceback, if any);
(d) exception messages, reprs, attributes and full tracebacks (``traceback.format_exception``
    and IPython's default "Context" mode, what a notebook shows) of: a revoked customer,
    a 404, the owner's token refused (a mistyped token: its 12-digit slices still count),
    retries exhausted (429, 503, resets, truncated bodies, connection refused), a
    SchemaError, and ConfigErrors from the token pasted into each SID field (and, as a
    wider probe, into the URL and port variables);
(e) repr / str / ``_repr_html_`` of ConnectApp, APIClient, Session, ConnectedAccount,
    ConnectButton (plus ``get_state()`` of every widget in it), the extension object
    and the loaded frames (repr, HTML, CSV); and the state of a Connect button after
    the token was pasted into its AccountSid box;
(f) the session file after ``session().remember(path)``: its bytes, its mode (0600)
    and its folder's;
(g) not in ``--quick``: the output of a representative subset of the test suite
    (``pytest tests/test_loaders.py tests/test_callback.py -q -p no:cacheprovider -x -rP``,
    ``-rP`` so that what passing tests captured is printed and scanned too) run with the
    token in its environment. The whole suite takes about 5 minutes here, so it runs only
    with ``--full-suite`` (then without ``-x``). Its autouse fixture removes every
    ``CONNECT_NOTEBOOK_*`` variable inside tests, so there the token reaches collection
    and the conftest only: a weak check, kept because it is cheap.

An occurrence is any match of: the token (any case), any 12-character slice of it, its
bytes in hex, and its base64 in every alignment, standard and URL-safe (which covers a
``Basic`` header for any user name). Controls prove the scanner sees the token where it
is meant to be: the sandbox's own banner (it prints its credentials) and an
``Authorization`` header taken from a real request. Informational rows are reported, not
required to be 0: IPython's ``%xmode Verbose`` (it prints every local variable of every
frame), and credentials written into ``CONNECT_NOTEBOOK_API_URL`` as ``https://AC…:token@host``.

It prints one table (place, items scanned, occurrences) and exits 1 if any required
count is not 0. Loopback only; no sleeps; every process and kernel it starts is stopped.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import io
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SEED = 31337
NOW = "2026-11-01T12:00:00Z"
DAY, NEXT_DAY = "2026-10-31", "2026-11-01"  # one settled day of the pinned sandbox's history
TIMEOUT = 300  # seconds; hang guard for a cell or a process, never a measurement
LOGGERS = ("connect_notebook", "httpx", "httpcore", "tornado")
PYTEST_SUBSET = ("tests/test_loaders.py", "tests/test_callback.py")
_LINK = re.compile(r'class="cn-connect-link" href="([^"]+)"')


# --------------------------------------------------------------------------------------
# What counts as an occurrence
# --------------------------------------------------------------------------------------


class Needles:
    """Every form of the token worth finding: whole, sliced, hex-encoded, base64 in any alignment."""

    WINDOW = 12

    def __init__(self, token: str, usernames: tuple[str, ...] = ()) -> None:
        self.token = token
        hexes = {token, token.encode().hex()}
        hexes |= {token[i : i + self.WINDOW] for i in range(len(token) - self.WINDOW + 1)}
        b64: set[str] = set()
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            for pad in range(3):
                encoded = encode(b"\0" * pad + token.encode()).decode()
                # Drop the first group (it mixes in the padding) and the last (it depends on what follows).
                b64.add(encoded[4 if pad else 0 : -4])
            for user in usernames:
                b64.add(encode(f"{user}:{token}".encode()).decode())
        self._hex = re.compile("|".join(re.escape(n) for n in sorted(hexes, key=len, reverse=True)), re.I)
        self._b64 = re.compile("|".join(re.escape(n) for n in sorted(b64, key=len, reverse=True)))

    def count(self, text: str | bytes) -> int:
        """How many times any form of the token occurs in ``text`` (bytes are read as Latin-1)."""
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        return len(self._hex.findall(text)) + len(self._b64.findall(text))

    def first(self, text: str) -> int:
        """Where the first occurrence starts (-1 if none)."""
        starts = [m.start() for m in (self._hex.search(text), self._b64.search(text)) if m]
        return min(starts, default=-1)

    def mask(self, text: str) -> str:
        """``text`` with every occurrence replaced by ``<TOKEN>``, safe to print."""
        return self._b64.sub("<TOKEN>", self._hex.sub("<TOKEN>", text))

    @property
    def hint(self) -> str:
        return f"{self.token[:4]}…{self.token[-4:]}"


@dataclass
class Place:
    """One row of the table: a place, how many items were scanned there, how many occurrences."""

    name: str
    kind: str = "required"  # "required" (must be 0), "control" (must be > 0) or "info"
    items: int = 0
    occurrences: int = 0
    hits: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the scan is incomplete or a check failed

    @property
    def ok(self) -> bool:
        if self.problems:
            return False
        if self.kind == "control":
            return self.items > 0 and self.occurrences > 0
        if self.kind == "info":
            return True
        return self.items > 0 and self.occurrences == 0


class Scan:
    """Places and what was found in them."""

    def __init__(self, needles: Needles) -> None:
        self.needles = needles
        self.places: dict[str, Place] = {}

    def place(self, name: str, kind: str = "required") -> Place:
        if name not in self.places:
            self.places[name] = Place(name, kind)
        return self.places[name]

    def add(self, place: str, label: str, text: str | bytes, kind: str = "required") -> int:
        """Scan one item; returns its occurrences (and remembers where, masked)."""
        row = self.place(place, kind)
        found = self.needles.count(text)
        row.items += 1
        row.occurrences += found
        if found:
            shown = text.decode("latin-1") if isinstance(text, bytes) else text
            at = self.needles.first(shown)
            context = self.needles.mask(shown[max(0, at - 80) : at + 120])
            row.hits.append(f"{label}: {found} × …{context!r}…")
        return found

    def note(self, place: str, text: str) -> None:
        self.place(place).notes.append(text)

    def problem(self, place: str, text: str) -> None:
        self.place(place).problems.append(self.needles.mask(text))

    def rows(self) -> list[Place]:
        """Required rows in the order (a)…(g), then informational ones, then the controls."""
        rank = {"required": 0, "info": 1, "control": 2}
        return sorted(self.places.values(), key=lambda r: (rank[r.kind], r.name[1]))


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
    def of(cls, sb: Any) -> Credentials:
        """The sandbox's credentials; authorizes every customer (as ``--authorize all`` does) to learn its SID."""
        connected = [sb.authorize(sid) for sid in sb.customer_account_sids]
        return cls(
            sb.url, sb.owner_account_sid, sb.owner_auth_token, sb.connect_app_sid, sb.customer_account_sids, connected
        )

    def needles(self) -> Needles:
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


@contextlib.contextmanager
def environ(extra: Mapping[str, str]) -> Iterator[None]:
    """Set ``extra`` in os.environ (after removing every CONNECT_NOTEBOOK_* variable); restore on exit."""
    saved = dict(os.environ)
    try:
        for name in [n for n in os.environ if n.startswith("CONNECT_NOTEBOOK_")]:
            del os.environ[name]
        os.environ.update(extra)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class SandboxProcess:
    """``python -m connect_notebook.sandbox`` running, with the banner it printed."""

    process: subprocess.Popen[str]
    banner: str
    creds: Credentials

    @classmethod
    def start(cls, seed: int, calls: int) -> SandboxProcess:
        command = [
            sys.executable,
            "-m",
            "connect_notebook.sandbox",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--now",
            NOW,
            "--calls",
            str(calls),
            "--authorize",
            "all",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env({}), cwd=ROOT)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        banner = "".join(lines)
        try:
            url = re.search(r"serving on (http://\S+)", banner).group(1)  # type: ignore[union-attr]
            owner = re.search(r"AccountSid\s+(AC[0-9a-f]{32})", banner).group(1)  # type: ignore[union-attr]
            token = re.search(r"Auth Token\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
            app = re.search(r"Connect App\s+(CN[0-9a-f]{32})", banner).group(1)  # type: ignore[union-attr]
            listing = banner.split("\nCustomers (", 1)[1]
            # Main accounts are indented by two spaces, their subaccounts and Connected AccountSid lines by four.
            customers = re.findall(r"^  (AC[0-9a-f]{32})  ", listing, re.M)
            connected = re.findall(r"^\s+Connected AccountSid (AC[0-9a-f]{32})$", listing, re.M)
            if not customers or len(connected) != len(customers):
                raise IndexError(len(customers), len(connected))
        except (AttributeError, IndexError):
            process.kill()
            process.wait()
            msg = f"could not read the sandbox's address and credentials from its output:\n{banner}"
            raise RuntimeError(msg) from None
        return cls(process, banner, Credentials(url, owner, token, app, customers, connected))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# --------------------------------------------------------------------------------------
# The customer's browser: authorize page, then the kernel's callback server
# --------------------------------------------------------------------------------------


def click_through(link: str, customer: str) -> list[tuple[str, str]]:
    """Do what a browser does after the Connect link: authorize ``customer``, follow the redirects.

    Returns (label, text) of every answer of the callback server (status, headers, body).
    """
    import httpx

    page, _, query = html.unescape(link).partition("?")
    state = parse_qs(query)["state"][0]
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False) as browser:
        final = browser.post(page, data={"decision": "authorize", "AccountSid": customer, "state": state})
    answers = []
    for response in [*final.history, final]:
        if urlsplit(str(response.url)).path.startswith("/connect/"):
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            answers.append((f"{response.status_code} {response.url.path}", f"{headers}\n\n{response.text}"))
    if final.status_code != 200 or not answers:
        msg = f"the click-through ended on {final.status_code} {final.url}"
        raise RuntimeError(msg)
    return answers


def links_in(states: list[dict[str, Any]]) -> list[str]:
    """The Connect links in widget states (the HTML model's ``value``)."""
    return [m for s in states if isinstance(s.get("value"), str) for m in _LINK.findall(s["value"])]


# --------------------------------------------------------------------------------------
# (a) notebooks, headless
# --------------------------------------------------------------------------------------


@dataclass
class NotebookRun:
    path: Path
    nb: Any
    kernel_stdout: str
    kernel_stderr: str
    browser: list[tuple[str, str]]
    error: str | None
    seconds: float


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
            if not links:
                msg = f"cell {cell_index} made no Connect link"
                raise RuntimeError(msg)
            browser.extend(click_through(links[-1], customer))

    client.on_cell_executed = on_cell_executed
    out_path, err_path = workdir / f"{path.stem}.kernel.out", workdir / f"{path.stem}.kernel.err"
    error = None
    started = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        try:
            client.execute(env=dict(env), stdout=out, stderr=err, cwd=str(workdir))
        except CellExecutionError as exc:
            error = str(exc).strip().splitlines()[-1]
    seconds = time.perf_counter() - started
    if error is None:
        client.set_widgets_metadata()
    return NotebookRun(path, nb, out_path.read_text(), err_path.read_text(), browser, error, seconds)


def scan_notebook(scan: Scan, place: str, run: NotebookRun) -> None:
    import nbformat

    name = run.path.name
    for i, cell in enumerate(run.nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            scan.add(place, f"{name} cell {i} output {j}", json.dumps(output))
    models = run.nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for model_id, model in models.items():
        scan.add(place, f"{name} widget {model_id}", json.dumps(model))
    if models:
        scan.note(place, f"{name}: nbclient stored {len(models)} widget models in metadata.widgets")
    scan.add(place, f"{name} notebook JSON", nbformat.writes(run.nb))  # type: ignore[no-untyped-call]
    scan.add(place, f"{name} kernel stdout", run.kernel_stdout)
    scan.add(place, f"{name} kernel stderr", run.kernel_stderr)
    for label, text in run.browser:
        scan.add(place, f"{name} callback page {label}", text)
    if run.error:
        scan.problem(place, f"{name} failed, so its later cells were not scanned: {run.error}")


def scan_files(scan: Scan, place: str, folder: Path) -> None:
    """Every file under ``folder``, as bytes (parquet included), and its path."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        scan.add(place, str(path.relative_to(folder)), path.read_bytes() + b"\n" + str(path).encode())


# --------------------------------------------------------------------------------------
# (b) the report CLI
# --------------------------------------------------------------------------------------


def run_report_cli(env: Mapping[str, str], out: Path, start: str, end: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "connect_notebook._cli", "report", "--start", start, "--end", end]
    command += ["--tz", "America/New_York", "--out", str(out)]
    return subprocess.run(
        command, env=child_env(env), cwd=out.parent, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def scan_report(scan: Scan, place: str, result: subprocess.CompletedProcess[str], out: Path) -> None:
    scan.add(place, "stdout", result.stdout)
    scan.add(place, "stderr", result.stderr)
    if out.exists():
        scan.add(place, "HTML", out.read_text(encoding="utf-8"))
    if result.returncode != 0 or not out.exists():
        scan.problem(place, f"report CLI exited {result.returncode}: {result.stderr[-300:]}")


# --------------------------------------------------------------------------------------
# (c)-(f) in process: logs, exceptions, reprs, widget state, the session file
# --------------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(threadName)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback, for log.exception


@contextlib.contextmanager
def captured_logs(names: tuple[str, ...] = LOGGERS, *, propagate: bool = True) -> Iterator[_Records]:
    """Every record of ``names`` at DEBUG, formatted (with tracebacks).

    With ``propagate=False`` the records reach nobody else (pytest's log capture included).
    """
    handler = _Records()
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
        lg.propagate = lg.propagate and propagate
    try:
        yield handler
    finally:
        for lg, (level, propagated) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagated


def exception_texts(exc: BaseException) -> list[tuple[str, str]]:
    """Everything a user sees of an exception: str, repr, attributes, tracebacks (plain and IPython)."""
    texts = [
        ("str", str(exc)),
        ("repr", repr(exc)),
        ("attributes", repr({k: v for k, v in vars(exc).items()})),
        ("format_exception", "".join(traceback.format_exception(exc))),
    ]
    with contextlib.suppress(ImportError):
        from IPython.core.ultratb import AutoFormattedTB

        context = AutoFormattedTB(mode="Context", theme_name="nocolor")
        texts.append(("IPython Context traceback", context.text(type(exc), exc, exc.__traceback__)))
    return texts


def verbose_traceback(exc: BaseException) -> str:
    """IPython's ``%xmode Verbose`` (every frame's local variables), from the first connect_notebook frame.

    The frames of this script are left out: their locals are the harness's, not the library's.
    """
    from IPython.core.ultratb import AutoFormattedTB

    import connect_notebook

    package = str(Path(connect_notebook.__file__).parent)
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(package):
        tb = tb.tb_next
    return str(AutoFormattedTB(mode="Verbose", theme_name="nocolor").text(type(exc), exc, tb))


def raised(expected: type[BaseException], action: Callable[[], object]) -> BaseException:
    """Run ``action``; return the exception it raised, which must be an ``expected``."""
    try:
        action()
    except expected as exc:
        return exc
    msg = f"expected {expected.__name__}, nothing was raised"
    raise AssertionError(msg)


def widget_tree(root: Any) -> list[Any]:
    """``root`` and every widget under it (children, layout, style)."""
    import ipywidgets as widgets  # type: ignore[import-untyped]

    seen: list[Any] = []
    stack = [root]
    while stack:
        w = stack.pop()
        if any(w is s for s in seen):
            continue
        seen.append(w)
        stack.extend(getattr(w, "children", ()))
        stack.extend(v for a in ("layout", "style") if isinstance(v := getattr(w, a, None), widgets.Widget))
    return seen


def scan_widget(scan: Scan, place: str, label: str, button: Any) -> None:
    for text in (repr(button), str(button)):
        scan.add(place, f"{label} repr/str", text)
    with contextlib.suppress(Exception):  # needs no kernel in ipywidgets 8, but stay tolerant
        scan.add(place, f"{label} _repr_mimebundle_", json.dumps(button._repr_mimebundle_(), default=str))
    for w in widget_tree(button):
        scan.add(place, f"{label} {type(w).__name__} get_state()", json.dumps(w.get_state(), default=str))


def spoiling_transport() -> Any:
    """An httpx transport that spoils the ``duration`` of every call it passes on (for a SchemaError)."""
    import httpx

    class SpoilDuration(httpx.BaseTransport):
        def __init__(self) -> None:
            self._inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self._inner.handle_request(request)
            body = re.sub(rb'"duration": ?"\d+"', b'"duration": "n/a"', response.read())
            response.close()
            headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
            return httpx.Response(response.status_code, headers=headers, content=body, request=request)

        def close(self) -> None:
            self._inner.close()

    return SpoilDuration()


@dataclass
class InProcess:
    """What ``in_process`` found out besides the scan (for the tests)."""

    session_file: Path | None = None
    session_mode: int | None = None
    session_dir_mode: int | None = None
    log_records: int = 0
    http_request_lines: int = 0
    retry_lines: int = 0
    errors: dict[str, str] = field(default_factory=dict)


PLACE_FILES = "(a, c) files written (cache, config)"
PLACE_LOGS = "(c) logs at DEBUG"
PLACE_ERRORS = "(d) exceptions and tracebacks"
PLACE_SID_PASTE = "(d) token pasted into a SID field"
PLACE_OTHER_PASTE = "(d) token pasted into a URL or port variable"
PLACE_REPRS = "(e) reprs, HTML reprs, widget state, frames"
PLACE_PASTE_BOX = "(e) token pasted into the AccountSid box"
PLACE_SESSION = "(f) session file"
PLACE_VERBOSE = "(info) IPython %xmode Verbose tracebacks"
PLACE_USERINFO = "(info) token inside the API URL (https://AC…:token@host)"
PLACE_CONTROL_HEADER = "(control) Authorization header sent"


def in_process(scan: Scan, sb: Any, workdir: Path) -> InProcess:
    """(c)-(f) against ``sb`` (a Sandbox in this process); the CONNECT_NOTEBOOK_* variables must be set.

    Leaves the extension stopped and the sandbox reset.
    """
    import connect_notebook as cn
    from connect_notebook._cli import main as cli_main
    from connect_notebook._client import APIClient
    from connect_notebook._config import Settings
    from connect_notebook._frames import decode_calls_page, type_calls
    from connect_notebook._kernel import Kernel, swap
    from connect_notebook._report import ReportParams

    found = InProcess()
    token = scan.needles.token
    customers = sb.customer_account_sids  # main accounts: what a customer picks on the authorize page
    sb.reset()
    connected = [sb.authorize(sid) for sid in customers[:2]]  # what the Connect App holds
    fast = cn.RetryPolicy(attempts=3, sleep=lambda _seconds: None)
    patient = cn.RetryPolicy(attempts=8, sleep=lambda _seconds: None)
    # refresh: every load asks Twilio (a cached day would need no request, so could not fail).
    one_day = {"start": DAY, "end": NEXT_DAY, "progress": False, "refresh": True}
    errors: list[tuple[str, BaseException]] = []
    kernel = Kernel()  # this run's own kernel, from the CONNECT_NOTEBOOK_* variables set above
    previous = swap(kernel)
    with captured_logs() as logs:
        app = cn.ConnectApp.from_env()
        assert app == cn.active_app()
        ext = kernel.start()
        try:
            # A customer connects through the button, as in the quickstart.
            button = cn.connect_button()
            pages = click_through(links_in([{"value": button.link.value}])[-1], customers[0])
            account = button.wait(timeout=TIMEOUT)
            for label, text in pages:
                scan.add(PLACE_REPRS, f"callback page {label}", text)

            # (c) loads through every kind of fault the client retries.
            sb.fail_next(2, status=429, retry_after=0)
            sb.fail_next(2, status=503)
            sb.fail_next(1, kind="reset")
            sb.fail_next(1, kind="truncate")
            calls = cn.load_calls(account, retry=patient, **one_day)
            messages = cn.load_messages(account, retry=patient, **one_day)
            usage = cn.load_usage(account, start=DAY, end=NEXT_DAY, retry=patient)
            alerts = cn.load_alerts(account, start=DAY, end=NEXT_DAY, retry=patient)

            # A second account pasted under the button; then the first revokes the app (signed callback).
            button.paste.value = connected[1]
            button._use_pasted()
            result = sb.deauthorize(customers[0])
            if not result.delivered:
                scan.note(PLACE_LOGS, f"deauthorize callback answered {result.status} ({result.error})")
            button.paste.value = connected[0]
            button._use_pasted()  # Twilio refuses it now: the status line says so

            # (d) errors.
            errors.append(
                ("revoked customer", raised(cn.AuthorizationRevoked, lambda: cn.load_calls(connected[0], **one_day)))
            )
            with APIClient(app, connected[1], retry=fast) as client:
                missing = client.api("Calls/CA" + "0" * 32 + ".json", account_sid=customers[1])
                errors.append(("404", raised(cn.NotFoundError, lambda: client.get_json(missing))))
            for label, kwargs, expected in (
                ("429 after every retry", {"status": 429, "retry_after": 0}, cn.RateLimitError),
                ("503 after every retry", {"status": 503}, cn.ServerError),
                ("reset after every retry", {"kind": "reset"}, cn.TransportError),
                ("truncated after every retry", {"kind": "truncate"}, cn.TransportError),
            ):
                sb.fail_next(fast.attempts, **kwargs)
                errors.append((label, raised(expected, lambda: cn.load_calls(connected[1], retry=fast, **one_day))))
            # A mistyped token (last digit changed): Twilio refuses the owner; 12-digit slices still match it.
            typo = token[:-1] + ("0" if token[-1] != "0" else "1")
            mistyped = cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_AUTH_TOKEN": typo})
            with APIClient(mistyped, mistyped.account_sid, retry=fast) as client:
                account_url = client.api("").rstrip("/") + ".json"
                errors.append(("owner token refused (401)", raised(cn.APIError, lambda: client.get_json(account_url))))
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                closed = f"http://127.0.0.1:{s.getsockname()[1]}"
            nowhere = cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_API_URL": closed})
            errors.append(
                (
                    "connection refused after every retry",
                    raised(cn.TransportError, lambda: cn.load_calls(connected[1], app=nowhere, retry=fast, **one_day)),
                )
            )
            with APIClient(app, connected[1], retry=fast, transport=spoiling_transport()) as client:
                # The newest calls of the customer's main account (the Connect subaccount has none).
                page = client.api("Calls.json?PageSize=50", account_sid=customers[1])
                raw, _ = client.fetch(page, decode_calls_page)
                errors.append(("SchemaError", raised(cn.SchemaError, lambda: type_calls(raw))))
            for label, exc in errors:
                found.errors[label] = f"{type(exc).__name__}: {scan.needles.mask(str(exc))}"
                for what, text in exception_texts(exc):
                    scan.add(PLACE_ERRORS, f"{label} {what}", text)
                scan.add(PLACE_VERBOSE, f"{label} Verbose", verbose_traceback(exc), kind="info")

            # (d) the token pasted into the wrong field.
            owner = os.environ["CONNECT_NOTEBOOK_ACCOUNT_SID"]
            swapped = {"CONNECT_NOTEBOOK_ACCOUNT_SID": token, "CONNECT_NOTEBOOK_AUTH_TOKEN": owner}
            sid_pastes: list[tuple[str, Callable[[], object]]] = [
                ("ACCOUNT_SID and AUTH_TOKEN swapped", lambda: cn.ConnectApp.from_env({**os.environ, **swapped})),
                (
                    "CONNECT_APP_SID",
                    lambda: cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_CONNECT_APP_SID": token}),
                ),
                (
                    "ConnectApp(account_sid=)",
                    lambda: cn.ConnectApp(account_sid=token, auth_token=token, connect_app_sid=app.connect_app_sid),
                ),
                ("APIClient customer", lambda: APIClient(app, token)),
                ("load_calls(account)", lambda: cn.load_calls(token, **one_day)),
                (
                    "report --account",
                    lambda: ReportParams.parse(account=token, start=DAY, end=NEXT_DAY, tz="UTC"),
                ),
            ]
            for label, action in sid_pastes:
                exc = raised(cn.ConfigError, action)
                for what, text in exception_texts(exc):
                    scan.add(PLACE_SID_PASTE, f"{label} {what}", text)
                scan.add(PLACE_VERBOSE, f"{label} Verbose", verbose_traceback(exc), kind="info")
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                status = cli_main(["report", "--account", token, "--start", DAY, "--end", NEXT_DAY])
            scan.add(PLACE_SID_PASTE, f"report CLI --account (exit {status}) stderr", stderr.getvalue())
            other_pastes: list[tuple[str, Callable[[], object]]] = [
                (name, lambda name=name: cn.ConnectApp.from_env({**os.environ, name: token}))
                for name in (
                    "CONNECT_NOTEBOOK_API_URL",
                    "CONNECT_NOTEBOOK_MONITOR_URL",
                    "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL",
                )
            ]
            for label, action in other_pastes:
                for what, text in exception_texts(raised(cn.ConfigError, action)):
                    scan.add(PLACE_OTHER_PASTE, f"{label} {what}", text)
            with environ({**os.environ, "CONNECT_NOTEBOOK_CALLBACK_PORT": token}):
                exc = raised(cn.ConfigError, Settings.from_env)
            for what, text in exception_texts(exc):
                scan.add(PLACE_OTHER_PASTE, f"CONNECT_NOTEBOOK_CALLBACK_PORT {what}", text)

            # (e) reprs of everything a notebook may display.
            with APIClient(app, connected[1]) as client:
                sent: list[str] = []
                client._http.event_hooks["request"].append(lambda r: sent.append(r.headers["Authorization"]))
                client.get_json(client.api("").rstrip("/") + ".json")
                scan.add(PLACE_CONTROL_HEADER, "Authorization header of a real request", sent[0], kind="control")
                objects: list[tuple[str, Any]] = [
                    ("ConnectApp", app),
                    ("active_app()", cn.active_app()),
                    ("APIClient", client),
                    ("APIClient httpx.Client", client._http),
                    ("APIClient auth", client._http.auth),
                    ("APIClient headers", client._http.headers),
                    ("Session", cn.session()),
                    ("extension", ext),
                    ("callback server", ext.server),
                    ("ConnectedAccount", account),
                    ("accounts", cn.session().accounts),
                ]
            for label, obj in objects:
                scan.add(PLACE_REPRS, f"{label} repr", repr(obj))
                scan.add(PLACE_REPRS, f"{label} str", str(obj))
                if hasattr(obj, "_repr_html_"):
                    scan.add(PLACE_REPRS, f"{label} _repr_html_", obj._repr_html_())
            scan_widget(scan, PLACE_REPRS, "ConnectButton", button)
            for label, frame in (("calls", calls), ("messages", messages), ("usage", usage), ("alerts", alerts)):
                scan.add(PLACE_REPRS, f"{label} frame repr", repr(frame))
                scan.add(PLACE_REPRS, f"{label} frame _repr_html_", frame._repr_html_())
                scan.add(PLACE_REPRS, f"{label} frame CSV", frame.write_csv())
            scan.note(PLACE_REPRS, f"frames: {calls.height} calls, {messages.height} messages, {usage.height} usage")

            # (e) the token pasted into the AccountSid box of a fresh button.
            pasted = cn.connect_button()
            try:
                pasted.paste.value = token
                pasted._use_pasted()
                scan_widget(scan, PLACE_PASTE_BOX, "ConnectButton after pasting the token", pasted)
            finally:
                pasted.close()

            # (f) the session, remembered.
            path = workdir / "remembered" / "session.json"
            cn.session().remember(path)
            found.session_file = path
            found.session_mode = stat.S_IMODE(path.stat().st_mode)
            found.session_dir_mode = stat.S_IMODE(path.parent.stat().st_mode)
            scan.add(PLACE_SESSION, str(path.name), path.read_bytes())
            for other in sorted(p for p in path.parent.iterdir() if p != path):
                scan.add(PLACE_SESSION, f"also in the folder: {other.name}", other.read_bytes())
            reloaded = cn.Session(path)
            scan.add(PLACE_SESSION, "reloaded Session repr", repr(reloaded) + repr(reloaded.accounts))
            button.close()
            injected = sb.injected
        finally:
            kernel.close()
            swap(previous)
            sb.reset()
    try:
        userinfo_probe(scan, sb)
    finally:
        sb.reset()
    for i, line in enumerate(logs.lines):
        scan.add(PLACE_LOGS, f"record {i}", line)
    found.log_records = len(logs.lines)
    found.http_request_lines = sum("HTTP Request:" in line for line in logs.lines)
    found.retry_lines = sum(" retrying " in line for line in logs.lines)
    kinds: dict[str, int] = {}
    for line in logs.lines:
        name = line.split()[2]
        kinds[name] = kinds.get(name, 0) + 1
    scan.note(
        PLACE_LOGS,
        f"{found.http_request_lines} httpx request lines, {found.retry_lines} retries logged; records by logger "
        f"{dict(sorted(kinds.items()))}; faults injected {injected}",
    )
    scan.note(PLACE_ERRORS, "; ".join(f"{k} -> {v[:70]}" for k, v in found.errors.items()))
    return found


def userinfo_probe(scan: Scan, sb: Any) -> None:
    """A wider probe, informational: credentials written into CONNECT_NOTEBOOK_API_URL itself.

    ``_check_url`` accepts a URL with a user and password; where does that URL show up?
    """
    import connect_notebook as cn
    from connect_notebook._client import APIClient

    token, customer = scan.needles.token, sb.customer_account_sids[1]
    parts = urlsplit(sb.api_url)
    url = f"{parts.scheme}://{os.environ['CONNECT_NOTEBOOK_ACCOUNT_SID']}:{token}@{parts.netloc}"
    # Not propagated: what this probe makes leak must not spill into the output of whoever runs it.
    with captured_logs(propagate=False) as logs:
        try:
            app = cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_API_URL": url})
        except cn.ConfigError as exc:
            texts = exception_texts(exc)
        else:
            scan.add(PLACE_USERINFO, "ConnectApp repr", repr(app), kind="info")
            connected = sb.authorize(customer)
            with APIClient(app, connected, retry=cn.RetryPolicy(attempts=1)) as client:
                missing = client.api("Calls/CA" + "0" * 32 + ".json", account_sid=customer)
                texts = exception_texts(raised(cn.NotFoundError, lambda: client.get_json(missing)))
    for what, text in texts:
        scan.add(PLACE_USERINFO, f"404 {what}", text, kind="info")
    for i, line in enumerate(logs.lines):
        scan.add(PLACE_USERINFO, f"log record {i}", line, kind="info")


# --------------------------------------------------------------------------------------
# (g) the test suite's own output
# --------------------------------------------------------------------------------------


def run_pytest(env: Mapping[str, str], paths: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """pytest on ``paths`` with ``env``; ``-rP`` prints what passing tests captured, so it is scanned too.

    The whole suite runs without ``-x``: a failure must not hide the output of the tests after it.
    """
    stop = [] if paths == ("tests",) else ["-x"]
    command = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", *stop, "-rP"]
    return subprocess.run(
        command, env=child_env(env), cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False
    )


# --------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------


def run(*, quick: bool, seed: int = SEED, full_suite: bool = False) -> dict[str, Any]:
    """Run every part; return the rows, timings and the total of required occurrences."""
    from connect_notebook.sandbox import Sandbox

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    calls = 1_000 if quick else 5_000
    proc = SandboxProcess.start(seed, calls)
    creds = proc.creds
    scan = Scan(creds.needles())
    scan.add("(control) sandbox CLI banner", "its printed credentials", proc.banner, kind="control")
    try:
        with tempfile.TemporaryDirectory(prefix="chaos-secrets-") as tmp:
            root = Path(tmp)

            # (a) every notebook.
            for path in sorted(NOTEBOOKS.glob("*.ipynb")):
                workdir = root / path.stem
                workdir.mkdir()
                env = child_env(connect_env(creds, workdir))
                t = time.perf_counter()
                nb_run = run_notebook(path, env, creds.customers[0], workdir)
                seconds[f"(a) {path.name}"] = time.perf_counter() - t
                scan_notebook(scan, "(a) notebooks", nb_run)
                scan_files(scan, PLACE_FILES, workdir / "cache")
                if (workdir / "config").exists():
                    scan_files(scan, PLACE_FILES, workdir / "config")

            # (b) the report CLI.
            workdir = root / "report"
            workdir.mkdir()
            out = workdir / "report.html"
            start, end = ("2026-10-25", NEXT_DAY) if quick else ("2026-10-01", NEXT_DAY)
            t = time.perf_counter()
            result = run_report_cli(connect_env(creds, workdir), out, start, end)
            seconds["(b) report CLI"] = time.perf_counter() - t
            scan_report(scan, "(b) report CLI", result, out)

            # (c)-(f) in process, against a sandbox with the same seed (faults need one in process).
            workdir = root / "in-process"
            workdir.mkdir()
            t = time.perf_counter()
            with Sandbox(seed=seed, calls_per_customer=calls, now=NOW) as sb:
                if sb.owner_auth_token != creds.token:
                    msg = "the in-process sandbox has another token than the sandbox process"
                    raise RuntimeError(msg)
                with environ(connect_env(Credentials.of(sb), workdir)):
                    found = in_process(scan, sb, workdir)
            seconds["(c)-(f) in process"] = time.perf_counter() - t
            for folder in ("cache", "config"):
                if (workdir / folder).exists():
                    scan_files(scan, PLACE_FILES, workdir / folder)
            scan.note(PLACE_SESSION, f"mode {found.session_mode:o}, folder {found.session_dir_mode:o}")
            if found.session_mode != 0o600:
                scan.problem(PLACE_SESSION, f"the session file's mode is {found.session_mode:o}, not 600")

            # (g) the test suite.
            if not quick:
                paths = ("tests",) if full_suite else PYTEST_SUBSET
                workdir = root / "pytest"
                workdir.mkdir()
                t = time.perf_counter()
                result = run_pytest(connect_env(creds, workdir), paths)
                seconds["(g) pytest"] = time.perf_counter() - t
                place = "(g) pytest output" + ("" if full_suite else " (subset)")
                scan.add(place, "stdout", result.stdout)
                scan.add(place, "stderr", result.stderr)
                summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
                size = (len(result.stdout) + len(result.stderr)) // 1024
                scan.note(place, f"{' '.join(paths)}: {summary} (exit {result.returncode}; {size} KB of output)")
    finally:
        proc.stop()
    seconds["total"] = time.perf_counter() - started
    rows = scan.rows()
    return {
        "seed": seed,
        "token": scan.needles.hint,
        "quick": quick,
        "rows": [
            {
                "place": r.name,
                "kind": r.kind,
                "items": r.items,
                "occurrences": r.occurrences,
                "ok": r.ok,
                "hits": r.hits,
                "notes": r.notes,
                "problems": r.problems,
            }
            for r in rows
        ],
        "leaks": sum(r.occurrences for r in rows if r.kind == "required"),
        "failed": [r.name for r in rows if not r.ok],
        "seconds": seconds,
    }


def print_table(report: dict[str, Any], out: Any = sys.stdout) -> None:
    profile = "quick" if report["quick"] else "full"
    print(f"Secrets scan ({profile}): owner Auth Token {report['token']} (sandbox seed {report['seed']})", file=out)
    width = max(len(r["place"]) for r in report["rows"])
    print(f"{'place':<{width}}  {'items':>6}  {'occurrences':>11}  verdict", file=out)
    print("-" * (width + 32), file=out)
    for r in report["rows"]:
        verdict = {"control": "control (must be > 0)", "info": "informational"}.get(r["kind"], "")
        verdict = ("ok" if r["ok"] else "FAIL") + (f", {verdict}" if verdict else "")
        print(f"{r['place']:<{width}}  {r['items']:>6}  {r['occurrences']:>11}  {verdict}", file=out)
    print("-" * (width + 32), file=out)
    print(f"required occurrences: {report['leaks']}", file=out)
    for r in report["rows"]:
        for note in r["notes"]:
            print(f"  note  {r['place']}: {note}", file=out)
        for problem in r["problems"]:
            print(f"  FAIL  {r['place']}: {problem}", file=out)
        for hit in r["hits"][:8]:
            print(f"  {'found' if r['kind'] != 'control' else 'saw  '} {r['place']}: {hit}", file=out)
        if len(r["hits"]) > 8:
            print(f"  …and {len(r['hits']) - 8} more in {r['place']}", file=out)
    times = ", ".join(f"{k} {v:.1f}s" for k, v in report["seconds"].items())
    print(f"time: {times}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one week of report, no pytest run")
    parser.add_argument("--full-suite", action="store_true", help="(g): the whole test suite (about 5 minutes)")
    parser.add_argument("--seed", type=int, default=SEED, help="the sandbox seed the token derives from")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, seed=args.seed, full_suite=args.full_suite)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_table(report)
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
