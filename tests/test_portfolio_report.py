"""``connect-notebook report --portfolio``: the portfolio notebook run headless, to one offline HTML file.

Two runs per module (a kernel each, about 10 s): one on a dataset synced here from a
sandbox of the embedded sandbox's world (same seed, same pinned clock, so the CLI's
embedded sandbox names its customers), one with no dataset, where the notebook syncs
the sandbox's customers itself. Bad arguments fail before any kernel starts, in-process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_report import NOW, Report, assert_refused, owner_auth_token, run_cli

import connect_notebook as cn
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "portfolio_report.ipynb"
PERIOD = ["--start", "2026-10-02", "--end", "2026-11-01"]


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    """The embedded sandbox's customers: main AccountSid -> name."""
    with Sandbox(seed=7, now=NOW) as sb:
        return {sid: sb.state.account(sid).friendly_name for sid in sb.customer_account_sids}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dataset")
    with Sandbox(seed=7, now=NOW) as sb:
        connected = [sb.authorize(s) for s in sb.customer_account_sids]
        cn.sync(connected, folder, app=app_for_sandbox(sb), resources=["calls"], start="2026-09-02", progress=False)
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, dataset: Path) -> Report:
    folder = tmp_path_factory.mktemp("portfolio")
    run = run_cli(folder, "--portfolio", "--dataset", str(dataset), *PERIOD)
    return Report(folder, folder / "report.html", run)


def test_the_portfolio_report_exits_zero_and_writes_only_the_html_file(report: Report, dataset: Path) -> None:
    assert report.run.returncode == 0, report.run.stderr
    lines = report.run.stderr.splitlines()
    assert f"running portfolio_report.ipynb for the customers of {dataset}, 2026-10-02 to 2026-11-01" in lines
    assert "Traceback" not in report.run.stderr
    assert sorted(p.name for p in report.folder.iterdir()) == ["report.html"]
    assert report.html.startswith("<!doctype html>") and report.html.rstrip().endswith("</html>")


def test_the_portfolio_report_compares_every_customer_by_name(report: Report, names: dict[str, str]) -> None:
    html = report.html
    assert "<title>Portfolio report · 3 customers, 11 accounts</title>" in html
    assert re.search(
        r"<p class=meta>3 customers, 11 accounts · 2026-10-02 to 2026-11-01 \(end excluded\) against the 30 days "
        r"before, days and times in UTC",
        html,
    )
    tables = re.findall(r"<div class=html-output>(<table.*?</table>)</div>", html, flags=re.DOTALL)
    assert len(tables) == 4  # the comparison, the two movers, the accounts
    comparison = tables[0]
    for sid, name in names.items():
        assert f"{name} (AC…{sid[-4:]})" in comparison
    assert re.search(r"[+-]\d+\.\d%", comparison)  # growth against the previous period
    assert re.search(r"[+-]\d+\.\d pts", comparison)  # rates move in points
    assert "Connect Notebook" in tables[3]  # each family's accounts, the app's own subaccount too


def test_the_portfolio_report_draws_every_chart_as_inline_svg(report: Report) -> None:
    cells = [
        "".join(c["source"])
        for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
        if c["cell_type"] == "code" and "_chart(" in "".join(c["source"])
    ]
    figures = re.findall(r"<figure class=chart>(.*?)</figure>", report.html, flags=re.DOTALL)
    assert len(figures) == len(cells) == 5
    assert all(f.lstrip().startswith("<svg") and f.count("<svg") == 1 for f in figures)


def test_the_portfolio_report_refers_to_no_script_stylesheet_or_cdn(report: Report) -> None:
    html = report.html
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"\bsrc\s*=", html, flags=re.IGNORECASE)
    rest = re.sub(r'\bxmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", html)
    assert re.findall(r"https?://\S{0,60}", rest) == []
    token = owner_auth_token()
    assert token not in html and token not in report.run.stderr


def test_without_a_dataset_the_notebook_syncs_the_sandboxs_customers_itself(tmp_path: Path) -> None:
    run = run_cli(tmp_path, "--portfolio")  # the default days: the 30 full days before the sandbox's today
    assert run.returncode == 0, run.stderr
    assert "running portfolio_report.ipynb for the connected customers, 2026-10-02 to 2026-11-01" in run.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>Portfolio report · 3 customers, 11 accounts</title>" in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # the synced dataset was temporary


BAD_ARGUMENTS = [
    pytest.param(["--portfolio", "--account", "AC" + "0" * 32], r"--account names the one customer", id="account"),
    pytest.param(["--dataset", "."], r"--dataset is the portfolio report's: add --portfolio", id="no-portfolio"),
    pytest.param(["--portfolio", "--dataset", "nowhere"], r"--dataset must be a folder .*'nowhere'", id="missing"),
    pytest.param(["--portfolio", "--dataset", "."], r"--dataset '\.' holds no cn\.sync\(\) dataset", id="not-synced"),
    pytest.param(
        ["--portfolio", "--start", "2026-10-10", "--end", "2026-10-01"],
        r"--end \(2026-10-01\) must be after --start \(2026-10-10\)",
        id="reversed",
    ),
    pytest.param(["--portfolio", "--tz", "Mars/Olympus"], r"--tz must be an IANA time zone", id="unknown-tz"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGUMENTS)
def test_bad_portfolio_arguments_fail_fast_with_one_clear_line_and_write_nothing(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_refused(args, message, tmp_path, capsys)


def test_the_portfolio_notebook_ships_inside_the_package() -> None:
    from connect_notebook._report import PORTFOLIO_NOTEBOOK, ReportParams

    assert NOTEBOOK.resolve() == PORTFOLIO_NOTEBOOK  # notebooks/ links to it: the notebook nbval runs
    assert PORTFOLIO_NOTEBOOK.parent == ROOT / "connect_notebook"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'connect_notebook = \[[^\]]*"portfolio_report\.ipynb"', pyproject)
    params = ReportParams.parse(account=None, start=None, end=None, tz="UTC", portfolio=True)
    assert params.notebook == PORTFOLIO_NOTEBOOK
    assert params.assignments().startswith("dataset = None\n")
