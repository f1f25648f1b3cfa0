"""`connect-notebook report`: the call report notebook run headless on the sandbox, to one offline HTML file.

The CLI runs once per module (about 20 s: a kernel, the embedded sandbox, every chart)
with the sandbox's clock pinned and no credentials, so it uses the embedded sandbox.
The HTML is then checked as text (one inline SVG figure per chart cell of the notebook,
the KPI card, nothing loaded from anywhere, no secret) and in headless Chromium (every
chart drawn with a size, no console error, no request but the file itself), which saves
a screenshot to ``test-artifacts/report/report.png``. Bad arguments fail with one clear
line on stderr, a non-zero exit and nothing written; all but the unknown account fail
before any kernel starts, so they run in-process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from connect_notebook import charts
from connect_notebook._cli import main
from connect_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "call_report.ipynb"
ARTIFACTS = ROOT / "test-artifacts" / "report"
NOW = "2026-11-01T12:00:00+00:00"
TIMEOUT = 300  # seconds; hang guard only
PERIOD = ["--start", "2026-10-01", "--end", "2026-11-01"]
UNKNOWN_ACCOUNT = "AC" + "f" * 32  # well formed; not one of the sandbox's accounts


def owner_auth_token() -> str:
    """The embedded sandbox's secret (seed 7), computed without starting a sandbox."""
    return Sandbox(seed=7).owner_auth_token


TABLES = {"kpis", "accounts_breakdown"}  # chart helpers that return a table, shown as HTML


def code_sources() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "code"
    ]


def chart_cells() -> list[str]:
    """The report notebook's code cells that display a chart (a ``charts.…(`` call that is not a table)."""
    return [s for s in code_sources() if any(name not in TABLES for name in re.findall(r"\bcharts\.(\w+)\(", s))]


def code_cell_count() -> int:
    return sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"])


def run_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m connect_notebook._cli report …`` in ``folder``, no credentials, the sandbox's clock pinned."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_", "PYTEST_"))}
    env["CONNECT_NOTEBOOK_SANDBOX_NOW"] = NOW
    command = [sys.executable, "-m", "connect_notebook._cli", "report", *args, "--out", str(folder / "report.html")]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=TIMEOUT)


class _HtmlOutputText(HTMLParser):
    """The text pieces inside ``<div class=html-output>`` elements (the KPI card), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # open divs inside an html-output div; 0 outside
        self.outputs: list[list[str]] = []

    @property
    def texts(self) -> list[str]:
        return self.outputs[0] if self.outputs else []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and not self.depth and ("class", "html-output") in attrs:
            self.outputs.append([])
        if tag == "div" and (self.depth or ("class", "html-output") in attrs):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and data.strip():
            self.outputs[-1].append(data.strip())


def html_outputs(html: str) -> list[list[str]]:
    """The text pieces of each ``<div class=html-output>`` (the KPI card, then the accounts table)."""
    parser = _HtmlOutputText()
    parser.feed(html)
    parser.close()
    return parser.outputs


@dataclass(frozen=True)
class Report:
    folder: Path
    path: Path
    run: subprocess.CompletedProcess[str]

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The CLI run once on the sandbox with its default range: the 30 full days before today, New York time."""
    folder = tmp_path_factory.mktemp("report")
    run = run_cli(folder, "--tz", "America/New_York")
    return Report(folder, folder / "report.html", run)


# ---------------------------------------------------------------------------------------------
# The report on the sandbox
# ---------------------------------------------------------------------------------------------


def test_report_cli_exits_zero_and_shows_progress_on_stderr(report: Report) -> None:
    assert report.run.returncode == 0, report.run.stderr
    lines = report.run.stderr.splitlines()
    # The sandbox's today is 2026-11-01 (its pinned clock) in New York too: the 30 days before it.
    assert "running call_report.ipynb for the default account, 2026-10-02 to 2026-11-01" in lines
    progress = [tuple(map(int, m.groups())) for m in re.finditer(r"cell (\d+)/(\d+) done", report.run.stderr)]
    total = code_cell_count() + 1  # the notebook's code cells and the injected parameters
    assert progress == [(i, total) for i in range(1, total + 1)]
    assert any(line.startswith(f"wrote {report.path.resolve()} (") for line in lines)
    assert "Traceback" not in report.run.stderr


def test_report_writes_only_the_html_file_in_the_output_folder(report: Report) -> None:
    assert report.run.returncode == 0, report.run.stderr
    assert sorted(p.name for p in report.folder.iterdir()) == ["report.html"]  # no temp file left
    assert report.html.startswith("<!doctype html>")
    assert report.html.rstrip().endswith("</html>")


def test_report_html_has_one_inline_svg_figure_per_chart_cell(report: Report) -> None:
    cells = chart_cells()
    # The notebook shows every chart and table the package has.
    shown = {name for source in code_sources() for name in re.findall(r"\bcharts\.(\w+)\(", source)}
    assert shown == set(charts.__all__) - {"counterpart_country"}
    html = report.html
    figures = re.findall(r"<figure class=chart>(.*?)</figure>", html, flags=re.DOTALL)
    assert len(figures) == len(cells) == html.count("<figure")
    for figure in figures:
        assert figure.lstrip().startswith("<svg")
        assert figure.count("<svg") == 1
        assert figure.rstrip().endswith("</svg>")
    # The charts were drawn in the report's time zone.
    assert "Hour of day (America/New_York)" in html
    assert "Day (America/New_York)" in html


def test_report_html_has_the_kpi_card(report: Report) -> None:
    assert report.html.count("<div class=html-output>") == 2  # the KPI card, then the accounts table
    texts = html_outputs(report.html)[0]
    values = dict(zip(texts[::2], texts[1::2], strict=True))
    assert list(values) == ["Calls", "Answered", "ASR", "ACD", "Minutes", "Cost", "Short calls"]
    assert re.fullmatch(r"[\d,]+", values["Calls"])
    assert re.fullmatch(r"[\d,]+", values["Answered"])
    assert 0 < int(values["Answered"].replace(",", "")) <= int(values["Calls"].replace(",", ""))
    assert re.fullmatch(r"\d+\.\d%", values["ASR"])
    assert re.fullmatch(r"\d+\.\d min", values["ACD"])
    assert re.fullmatch(r"[\d,.]+ USD", values["Cost"])
    legs = re.search(r"([\d,]+) call legs", report.html)
    assert legs is not None
    assert int(values["Calls"].replace(",", "")) <= int(legs.group(1).replace(",", ""))


def test_report_names_the_customer_and_breaks_the_calls_down_by_account_of_its_family(report: Report) -> None:
    assert report.run.returncode == 0, report.run.stderr
    with Sandbox(seed=7, now=NOW) as sb:  # the embedded sandbox's world: same seed, same clock
        customer = sb.customer_account_sids[0]
        sb.authorize(customer)  # as the embedded sandbox does: the family then has the Connect subaccount too
        names = [sb.state.account(sid).friendly_name for sid in sb.family(customer)]  # type: ignore[union-attr]
    label = f"{names[0]} (AC…{customer[-4:]})"
    assert f"<title>Call report · {label}</title>" in report.html
    assert re.search(
        rf"<p class=meta>{re.escape(label)} · 2026-10-02 to 2026-11-01 \(end excluded\), "
        "days and times in America/New_York",
        report.html,
    )
    assert f"<title>Call report · {label}</title>" in report.html
    table = " ".join(html_outputs(report.html)[1])
    for name in names[:-1]:  # the main account and its subaccounts (the Connect subaccount is made on connect)
        assert name in table
    assert "Connect Notebook" in table  # the app's own subaccount, with no calls
    assert "Calls over time, by account" in report.html


def test_report_html_refers_to_no_script_stylesheet_or_cdn(report: Report) -> None:
    html = report.html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "<iframe" not in html.lower()
    assert "@import" not in html
    assert not re.search(r"\bsrc\s*=", html, flags=re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, flags=re.IGNORECASE)
    # The only http(s) strings are SVG namespace names (identifiers, never fetched) and plain links.
    rest = re.sub(r'\bxmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", html)
    rest = re.sub(r'<a\s[^>]*href="https?://[^"]*"', "<a", rest)
    assert re.findall(r"https?://\S{0,60}", rest) == []


def test_report_does_not_contain_the_sandbox_owner_auth_token(report: Report) -> None:
    token = owner_auth_token()
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert report.run.returncode == 0, report.run.stderr
    assert token not in report.html
    assert token not in report.run.stderr
    assert token not in report.run.stdout


# ---------------------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    pytest.param(
        ["--start", "2026-10-10", "--end", "2026-10-01"],
        r"--end \(2026-10-01\) must be after --start \(2026-10-10\)",
        id="end-before-start",
    ),
    pytest.param(
        ["--start", "2026-10-01", "--end", "2026-10-01"],
        r"--end \(2026-10-01\) must be after --start \(2026-10-01\)",
        id="end-equals-start",
    ),
    pytest.param(["--start", "2026-13-01", "--end", "2026-11-01"], r"--start and --end must be dates", id="month-13"),
    pytest.param(["--start", "2026/10/01", "--end", "2026-11-01"], r"--start and --end must be dates", id="slashes"),
    pytest.param(["--start", "2026-10-01", "--end", "next week"], r"--start and --end must be dates", id="words"),
    pytest.param(
        [*PERIOD, "--tz", "Mars/Olympus"], r"--tz must be an IANA time zone .*'Mars/Olympus'", id="unknown-tz"
    ),
    pytest.param([*PERIOD, "--tz", "EST+5"], r"--tz must be an IANA time zone .*'EST\+5'", id="posix-tz"),
    pytest.param(
        [*PERIOD, "--tz", "../../etc/passwd"], r"--tz must be an IANA time zone .*'\.\./\.\./etc/passwd'", id="path-tz"
    ),
    pytest.param(
        [*PERIOD, "--account", "AC123"], r"--account must be 'AC' followed by 32 hex digits", id="short-account"
    ),
    pytest.param(
        [*PERIOD, "--account", "CA" + "0" * 32],
        r"--account must be 'AC' followed by 32 hex digits",
        id="call-sid-as-account",
    ),
    pytest.param(
        [*PERIOD, "--account", "AC" + "g" * 32], r"--account must be 'AC' followed by 32 hex digits", id="not-hex"
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_argument_fails_fast_with_a_clear_message_and_writes_nothing(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_refused(args, message, tmp_path, capsys)


def assert_refused(args: list[str], message: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``connect-notebook report *args`` exits 2 with one line matching ``message`` and writes nothing in ``folder``."""
    assert main(["report", *args, "--out", str(folder / "report.html")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err  # one line, no traceback, no kernel started
    assert err.startswith("connect-notebook report: ")
    assert re.search(message, err), err
    assert list(folder.iterdir()) == []


def test_auth_token_pasted_as_account_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = owner_auth_token()
    assert main(["report", *PERIOD, "--account", token, "--out", str(tmp_path / "report.html")]) == 2
    err = capsys.readouterr().err
    assert "--account must be 'AC' followed by 32 hex digits" in err
    assert token not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_argument_exit_status_of_the_real_command_is_non_zero(tmp_path: Path) -> None:
    run = run_cli(tmp_path, "--start", "2026-10-10", "--end", "2026-10-01")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == "connect-notebook report: --end (2026-10-01) must be after --start (2026-10-10)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_unknown_account_fails_with_a_clear_message_and_leaves_no_html(tmp_path: Path) -> None:
    run = run_cli(tmp_path, *PERIOD, "--account", UNKNOWN_ACCOUNT)
    assert run.returncode == 1
    last = run.stderr.splitlines()[-1]
    assert last.startswith("connect-notebook report: the report notebook failed: ")
    assert UNKNOWN_ACCOUNT in last
    assert "has not authorized" in last
    assert "Traceback" not in run.stderr
    assert owner_auth_token() not in run.stderr
    assert list(tmp_path.iterdir()) == []  # neither report.html nor its temp file


# ---------------------------------------------------------------------------------------------
# In a browser
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def page(browser_context: Any) -> Any:
    """A page of headless Debian Chromium (Playwright)."""
    return browser_context.new_page()


def test_report_renders_every_chart_offline_in_chromium(report: Report, page) -> None:  # noqa: ANN001
    assert report.run.returncode == 0, report.run.stderr
    url = report.path.resolve().as_uri()
    requested: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    response = page.goto(url, wait_until="load")
    assert response is None or response.ok
    figures = page.locator("figure.chart")
    assert figures.count() == len(chart_cells())
    for i in range(figures.count()):
        svg = figures.nth(i).locator(":scope > svg")
        assert svg.count() == 1
        box = svg.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, f"chart {i + 1} has no size: {box}"
        assert svg.locator("g.role-mark").count() > 0, f"chart {i + 1} has no marks"
    outputs = page.locator(".html-output")
    assert outputs.count() == 2
    card = outputs.first
    assert card.is_visible()
    assert "ASR" in card.inner_text()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert errors == []
    assert failed == []
    assert requested == [url]


# ---------------------------------------------------------------------------------------------
# The default range, and the notebook as package data
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "tz", "start", "end", "expected"),
    [
        # 02:00 UTC on Nov 1 is still Oct 31 in New York: its last full day is Oct 30.
        pytest.param(
            "2026-11-01T02:00:00+00:00", "America/New_York", None, None, ("2026-10-01", "2026-10-31"), id="ny"
        ),
        pytest.param("2026-11-01T02:00:00+00:00", "UTC", None, None, ("2026-10-02", "2026-11-01"), id="utc"),
        pytest.param("2026-11-01T02:00:00+00:00", "Asia/Tokyo", None, None, ("2026-10-02", "2026-11-01"), id="tokyo"),
        pytest.param("2026-11-01T12:00:00+00:00", "UTC", "2026-09-01", None, ("2026-09-01", "2026-10-01"), id="start"),
        pytest.param("2026-11-01T12:00:00+00:00", "UTC", None, "2026-09-01", ("2026-08-02", "2026-09-01"), id="end"),
    ],
)
def test_the_default_range_is_30_full_days_in_the_reports_time_zone(
    now: str, tz: str, start: str | None, end: str | None, expected: tuple[str, str]
) -> None:
    from datetime import date, datetime

    from connect_notebook._report import ReportParams

    params = ReportParams.parse(account=None, start=start, end=end, tz=tz, now=datetime.fromisoformat(now))
    assert (params.start, params.end) == tuple(map(date.fromisoformat, expected))
    assert (params.end - params.start).days == 30


def test_the_report_notebook_ships_inside_the_package(tmp_path: Path) -> None:
    """A wheel (what a plain ``pip install`` gets) holds the notebook ``connect-notebook report`` runs."""
    import zipfile

    from connect_notebook._report import DEFAULT_NOTEBOOK

    assert DEFAULT_NOTEBOOK.parent == ROOT / "connect_notebook"
    assert NOTEBOOK.resolve() == DEFAULT_NOTEBOOK  # notebooks/ links to it: one notebook, run by nbval too
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("connect_notebook-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "connect_notebook/call_report.ipynb" in names
        assert json.loads(archive.read("connect_notebook/call_report.ipynb"))["cells"]
        assert json.loads(archive.read("connect_notebook/portfolio_report.ipynb"))["cells"]  # --portfolio's
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: MIT" in archive.read(metadata).decode()
    assert "deprecated" not in built.stderr.lower()
