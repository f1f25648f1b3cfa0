"""`_cli`: the ``connect-notebook`` command: ``sandbox``, ``lab`` and ``report``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ._config import ENV_VARS

__all__ = ["main"]

_ENV_NAMES = {v.name for v in ENV_VARS}


def _sandbox_env(sb: object) -> dict[str, str]:
    """The environment that points connect_notebook (and notebooks) at a sandbox."""
    from .sandbox import Sandbox

    assert isinstance(sb, Sandbox)
    env = {
        "CONNECT_NOTEBOOK_ACCOUNT_SID": sb.owner_account_sid,
        "CONNECT_NOTEBOOK_AUTH_TOKEN": sb.owner_auth_token,
        "CONNECT_NOTEBOOK_CONNECT_APP_SID": sb.connect_app_sid,
        "CONNECT_NOTEBOOK_API_URL": sb.api_url,
        "CONNECT_NOTEBOOK_MONITOR_URL": sb.monitor_url,
        "CONNECT_NOTEBOOK_INSIGHTS_URL": sb.insights_url,
        "CONNECT_NOTEBOOK_BULKEXPORTS_URL": sb.bulkexports_url,
        "CONNECT_NOTEBOOK_CALL_RETENTION_DAYS": str(sb.call_retention_days),
        "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL": sb.url,
        "CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS": ",".join(sb.connected_account_sids),
        # The lab's sandbox is ours to configure: %load_ext registers the kernel's callback on it.
        "CONNECT_NOTEBOOK_REGISTER_CALLBACK": "1",
    }
    assert set(env) <= _ENV_NAMES, "every variable must be listed in _config.ENV_VARS"
    return env


def _lab(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox
    from .sandbox._cli import describe

    notebooks = Path(args.notebook_dir).resolve()
    if not notebooks.is_dir():
        print(f"connect-notebook lab: no notebook folder at {notebooks}; pass --notebook-dir", file=sys.stderr)
        return 2
    sb = Sandbox(seed=args.seed, calls_per_customer=args.calls, port=args.sandbox_port)
    for sid in sb.customer_account_sids:
        sb.authorize(sid)
    try:
        sb.start()
    except OSError as exc:
        print(
            f"connect-notebook lab: cannot start the sandbox on 127.0.0.1:{args.sandbox_port} "
            f"({exc.strerror}); choose another port with --sandbox-port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    env = {**os.environ, **_sandbox_env(sb)}
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={notebooks}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.ip=127.0.0.1",
        f"--LabApp.default_url=/lab/tree/{args.open}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    if args.no_browser:
        command.append("--no-browser")
    describe(sb, sys.stdout)
    print("Starting JupyterLab; open the http://127.0.0.1 URL it prints below (with its token).", flush=True)
    proc = subprocess.Popen([*command, *args.jupyter_args], env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches JupyterLab too; either way, stop it cleanly.
        proc.terminate()
        proc.wait()
        return 0
    finally:
        sb.stop()
        print("Sandbox stopped.", flush=True)


def _instant(text: str) -> datetime:
    """CONNECT_NOTEBOOK_SANDBOX_NOW as an aware datetime (naive means UTC, as the sandbox reads it)."""
    from ._arguments import instant
    from ._exceptions import ConfigError

    try:
        return instant(text, "CONNECT_NOTEBOOK_SANDBOX_NOW")
    except ValueError as exc:
        problem = str(exc)
    raise ConfigError(problem)


def _report(args: argparse.Namespace) -> int:
    from ._config import Settings
    from ._exceptions import ConfigError
    from ._report import ReportError, ReportParams, render_report

    try:
        # "Today" is the sandbox's when its clock is pinned (reproducible reports), else the real one.
        pinned = Settings.from_env().sandbox_now
        now = _instant(pinned) if pinned else None
        params = ReportParams.parse(
            account=args.account,
            start=args.start,
            end=args.end,
            tz=args.tz,
            now=now,
            portfolio=args.portfolio,
            dataset=args.dataset,
        )
        render_report(params, Path(args.out), notebook=Path(args.notebook) if args.notebook else None)
    except (ConfigError, ReportError) as exc:
        print(f"connect-notebook report: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``connect-notebook`` console script."""
    from .sandbox import DEFAULT_CALLS, DEFAULT_SEED
    from .sandbox._cli import add_arguments, serve

    parser = argparse.ArgumentParser(prog="connect-notebook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sandbox = sub.add_parser(
        "sandbox",
        help="serve the Twilio-compatible sandbox until Ctrl-C",
        description="Serve a Twilio-compatible sandbox on 127.0.0.1 until Ctrl-C.",
    )
    add_arguments(sandbox)
    lab = sub.add_parser(
        "lab",
        help="start the sandbox and JupyterLab wired to it",
        description="Start the sandbox and JupyterLab on the notebooks folder, wired to it.",
    )
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab's port (default %(default)s)")
    lab.add_argument("--sandbox-port", type=int, default=8790, help="the sandbox's port (default %(default)s)")
    lab.add_argument("--seed", type=int, default=DEFAULT_SEED)
    lab.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls per customer family (default %(default)s)")
    lab.add_argument("--notebook-dir", default="notebooks", help="folder JupyterLab serves (default %(default)s)")
    lab.add_argument("--open", default="quickstart.ipynb", help="notebook to open (default %(default)s)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument(
        "jupyter_args",
        nargs=argparse.REMAINDER,
        metavar="-- JUPYTER-ARGS",
        help="further options for jupyter lab, after --",
    )
    report = sub.add_parser(
        "report",
        help="render the call report (or, with --portfolio, the portfolio report) to one offline HTML file",
        description="Run the call report notebook, or with --portfolio the portfolio report notebook, headless "
        "against the configured Twilio (the embedded sandbox when no credentials are set) and write one "
        "self-contained HTML file.",
    )
    report.add_argument("--account", default=None, help="customer AccountSid (default: the sandbox's first)")
    report.add_argument(
        "--portfolio",
        action="store_true",
        help="compare every customer (of --dataset, else every connected one) with the days before",
    )
    report.add_argument(
        "--dataset", default=None, help="with --portfolio: a folder written by cn.sync() (default: sync one)"
    )
    report.add_argument("--start", default=None, help="first day, YYYY-MM-DD, in --tz (default: 30 days before --end)")
    report.add_argument("--end", default=None, help="day after the last, YYYY-MM-DD, in --tz (default: today)")
    report.add_argument("--tz", default="UTC", help="IANA time zone of the days, hours and charts (default UTC)")
    report.add_argument("--out", default="report.html", help="HTML file to write (default %(default)s)")
    report.add_argument("--notebook", default=None, help="report notebook (default: the one in the package)")
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args)
    if args.command == "lab" and args.jupyter_args[:1] == ["--"]:
        args.jupyter_args = args.jupyter_args[1:]
    if args.command == "sandbox":
        return serve(args)
    return _lab(args)


if __name__ == "__main__":
    raise SystemExit(main())
