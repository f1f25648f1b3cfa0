"""The owner's Auth Token never shows: not in notebooks, the report, logs, errors, reprs or the session file.

A sandbox with its own seed gives a recognisable, real-looking token, and it reaches
connect_notebook only through ``CONNECT_NOTEBOOK_AUTH_TOKEN`` (and the other variables),
as a real one would. What is scanned, and what counts as an occurrence (the token in any
case, any 12-character slice of it, its base64 in any alignment, as in a ``Basic``
header), is ``bench/chaos_secrets.py``'s, so the test and the printed figures agree; this
is its quick profile. Three runs are shared by the module: the in-process scenario
(about 3 s: a click-through, loads under injected faults with DEBUG logging captured,
every error, every repr, the remembered session), the report CLI (about 10 s) and the
quickstart notebook in a kernel (about 3 s).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench import chaos_secrets as chaos
from connect_notebook.sandbox import Sandbox
from connect_notebook.sandbox._cli import describe

ROOT = Path(__file__).resolve().parents[1]
SEED = 31337  # the token is this sandbox's: 24fb…3b14
NOW = "2026-11-01T12:00:00+00:00"


@dataclass
class Scanned:
    """A scan and what the scenario noticed besides."""

    scan: Any
    found: Any = None

    def row(self, place: str) -> Any:
        assert place in self.scan.places, f"nothing was scanned for {place!r}"
        return self.scan.places[place]


def leaks(row: Any) -> str:
    """A failure message listing where the token was found (masked)."""
    return f"{row.occurrences} occurrence(s) in {row.name}:\n" + "\n".join(row.hits)


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    """A sandbox of this module's own: its owner token is the recognisable one."""
    with Sandbox(seed=SEED, calls_per_customer=300, now=NOW) as sb:
        yield sb


@pytest.fixture(scope="module")
def creds(secret_sandbox: Sandbox) -> Any:
    """The owner's credentials, and the AccountSids the Connect App holds (every customer authorized)."""
    creds = chaos.Credentials.of(secret_sandbox)
    assert creds.connected == secret_sandbox.connected_account_sids
    assert not set(creds.connected) & set(creds.customers)
    return creds


@pytest.fixture(scope="module")
def env_names() -> list[str]:
    return [n for n in os.environ if n.startswith(("CONNECT_NOTEBOOK_", "TWILIO_"))]


@pytest.fixture(scope="module")
def in_process(
    secret_sandbox: Sandbox, creds: Any, env_names: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Scanned:
    """(c)-(f): the scenario in this process, with the token set in the environment for its duration."""
    workdir = tmp_path_factory.mktemp("secrets-in-process")
    scan = chaos.Scan(creds.needles())
    with pytest.MonkeyPatch.context() as mp:
        for name in env_names:
            mp.delenv(name, raising=False)
        for name, value in chaos.connect_env(creds, workdir).items():
            mp.setenv(name, value)
        found = chaos.in_process(scan, secret_sandbox, workdir)
    for folder in ("cache", "config"):
        if (workdir / folder).exists():
            chaos.scan_files(scan, chaos.PLACE_FILES, workdir / folder)
    return Scanned(scan, found)


@pytest.fixture(scope="module")
def report(secret_sandbox: Sandbox, creds: Any, tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    """(b): ``python -m connect_notebook._cli report`` over one week, the token in its environment."""
    for sid in secret_sandbox.customer_account_sids:
        secret_sandbox.authorize(sid)
    workdir = tmp_path_factory.mktemp("secrets-report")
    out = workdir / "report.html"
    result = chaos.run_report_cli(chaos.connect_env(creds, workdir), out, "2026-10-25", "2026-11-01")
    assert result.returncode == 0, result.stderr[-2000:]
    scan = chaos.Scan(creds.needles())
    chaos.scan_report(scan, "(b) report CLI", result, out)
    return Scanned(scan)


@pytest.fixture(scope="module")
def quickstart(secret_sandbox: Sandbox, creds: Any, tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    """(a): the quickstart in a kernel, the token in its environment; this process clicks Connect."""
    for sid in secret_sandbox.customer_account_sids:
        secret_sandbox.authorize(sid)
    workdir = tmp_path_factory.mktemp("secrets-quickstart")
    env = chaos.child_env(chaos.connect_env(creds, workdir))
    run = chaos.run_notebook(ROOT / "notebooks" / "quickstart.ipynb", env, creds.customers[0], workdir)
    assert run.error is None, run.error
    scan = chaos.Scan(creds.needles())
    chaos.scan_notebook(scan, "(a) notebooks", run)
    for folder in ("cache", "config"):
        if (workdir / folder).exists():
            chaos.scan_files(scan, chaos.PLACE_FILES, workdir / folder)
    return Scanned(scan, run)


# -- the scanner itself --


def test_scanner_finds_the_token_in_a_basic_header_the_sandbox_banner_and_a_slice(
    secret_sandbox: Sandbox, creds: Any
) -> None:
    needles = chaos.Needles(secret_sandbox.owner_auth_token)
    token = secret_sandbox.owner_auth_token
    # The header a Connect request sends: the Connect subaccount's SID and the owner's token.
    header = base64.b64encode(f"{creds.connected[0]}:{token}".encode()).decode()
    banner = io.StringIO()
    describe(secret_sandbox, banner)

    assert needles.count(f"Authorization: Basic {header}") == 1
    assert needles.count(banner.getvalue()) == 1
    assert needles.count(f"…{token[10:22].upper()}…") == 1
    assert needles.count(f"{token[:4]}…{token[-4:]}") == 0


def test_a_real_request_carries_the_token_where_the_scanner_sees_it(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_CONTROL_HEADER)

    assert row.occurrences == 1


# -- (c) logs --


def test_debug_logs_of_loads_retries_a_connect_and_a_revocation_hold_no_token(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_LOGS)

    assert row.occurrences == 0, leaks(row)
    assert in_process.found.http_request_lines > 0
    assert in_process.found.retry_lines > 0


# -- (d) errors --


def test_errors_and_their_tracebacks_hold_no_token(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_ERRORS)

    assert row.occurrences == 0, leaks(row)
    assert set(in_process.found.errors) == {
        "revoked customer",
        "404",
        "owner token refused (401)",
        "429 after every retry",
        "503 after every retry",
        "reset after every retry",
        "truncated after every retry",
        "connection refused after every retry",
        "SchemaError",
    }


def test_a_token_pasted_into_a_sid_field_is_not_echoed(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_SID_PASTE)

    assert row.occurrences == 0, leaks(row)


def test_a_token_pasted_into_a_url_or_port_variable_is_not_echoed(in_process: Scanned) -> None:
    # Like check_sid: a ConfigError may show the start of a bad value, never all of it.
    row = in_process.row(chaos.PLACE_OTHER_PASTE)

    assert row.occurrences == 0, leaks(row)


# -- (e) reprs and widget state --


def test_reprs_widget_state_and_loaded_frames_hold_no_token(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_REPRS)

    assert row.occurrences == 0, leaks(row)


def test_a_token_pasted_into_the_account_box_is_not_kept_in_widget_state(in_process: Scanned) -> None:
    # The status line refuses it without echoing it; the Text widget must not keep it either,
    # or saving the notebook with its widget state writes the token to disk.
    row = in_process.row(chaos.PLACE_PASTE_BOX)

    assert row.occurrences == 0, leaks(row)


# -- (f) the session file --


def test_remembered_session_file_is_0600_and_holds_no_token(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_SESSION)

    assert in_process.found.session_mode == 0o600
    assert row.occurrences == 0, leaks(row)
    assert in_process.found.session_file.read_text().count('"sid"') >= 2  # it did remember accounts


def test_files_written_in_process_hold_no_token(in_process: Scanned) -> None:
    row = in_process.row(chaos.PLACE_FILES)

    assert row.occurrences == 0, leaks(row)


# -- (b) the report CLI --


def test_report_cli_html_stdout_and_stderr_hold_no_token(report: Scanned) -> None:
    row = report.row("(b) report CLI")

    assert row.items == 3  # stdout, stderr, the HTML
    assert row.occurrences == 0, leaks(row)


# -- (a) a notebook --


def test_quickstart_outputs_widget_state_and_kernel_output_hold_no_token(quickstart: Scanned) -> None:
    row = quickstart.row("(a) notebooks")

    assert quickstart.found.nb.metadata["widgets"], "nbclient stored no widget state to scan"
    assert quickstart.found.browser, "nobody clicked Connect"
    assert row.occurrences == 0, leaks(row)


def test_quickstart_cache_and_config_files_hold_no_token(quickstart: Scanned) -> None:
    row = quickstart.row(chaos.PLACE_FILES)

    assert row.occurrences == 0, leaks(row)
