"""`sandbox._cli`: ``connect-notebook sandbox`` / ``python -m connect_notebook.sandbox``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from . import DEFAULT_CALLS, DEFAULT_CUSTOMERS, DEFAULT_DAYS, DEFAULT_SEED, Faults, Profile, Sandbox
from ._state import CALL_RETENTION_DAYS

__all__ = ["add_arguments", "describe", "main", "parse_profile", "sandbox_from_args", "serve"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options (data, Connect App, faults) to ``parser``."""
    data = parser.add_argument_group("data")
    data.add_argument("--port", type=int, default=8790, help="TCP port on 127.0.0.1 (0 picks a free one; default 8790)")
    data.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of all data (default %(default)s)")
    data.add_argument(
        "--calls", type=int, default=DEFAULT_CALLS, help="calls per default customer's family (default %(default)s)"
    )
    data.add_argument("--messages", type=int, default=None, help="messages per customer (default: calls / 4)")
    data.add_argument(
        "--customers", type=int, default=DEFAULT_CUSTOMERS, help="default customers to serve (default %(default)s)"
    )
    data.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help="age of the young, dense customer (default %(default)s)"
    )
    data.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="PATTERN:DAYS:CALLS[:SUBACCOUNTS[:CLOSED]]",
        help="serve this customer instead of the defaults (repeatable); PATTERN is dense, sparse or growing, "
        "e.g. sparse:3652:5000 or growing:730:100000:4",
    )
    data.add_argument("--now", default=None, help="the sandbox's clock, ISO 8601 (default: the current minute)")
    data.add_argument(
        "--call-retention-days",
        type=int,
        default=CALL_RETENTION_DAYS,
        help="days back the calls list serves; older calls are in BulkExport only (default %(default)s)",
    )
    app = parser.add_argument_group("Connect App")
    app.add_argument("--authorize-redirect-url", default=None, help="the app's Authorize URL")
    app.add_argument("--deauthorize-callback-url", default=None, help="the app's Deauthorize Callback URL")
    app.add_argument("--deauthorize-callback-method", choices=("GET", "POST"), default="POST")
    app.add_argument(
        "--authorize",
        action="append",
        default=[],
        metavar="AC…|all",
        help="pre-authorize a customer (repeatable; 'all' for every customer)",
    )
    app.add_argument(
        "--grant",
        default="get-all",
        metavar="get-all[,post-all]",
        help="the permissions --authorize grants (post-all lets the app create BulkExport jobs; default get-all)",
    )
    faults = parser.add_argument_group("fault injection (REST API only; probabilities per request)")
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of fault decisions")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    faults.add_argument("--spike-rate", type=float, default=0.0, help="probability of a latency spike")
    faults.add_argument("--spike-latency", type=float, default=1.0, help="seconds a spike adds")
    faults.add_argument("--rate-limit", type=float, default=0.0, help="probability of 429 / 20429")
    faults.add_argument("--retry-after", type=float, default=None, help="Retry-After seconds sent with 429s")
    faults.add_argument("--server-error", type=float, default=0.0, help="probability of 500 / 503")
    faults.add_argument("--reset", type=float, default=0.0, help="probability of a connection reset mid-body")
    faults.add_argument("--truncate", type=float, default=0.0, help="probability of a truncated JSON body")
    faults.add_argument(
        "--concurrency-limit",
        type=int,
        default=None,
        help="concurrent requests per account before 429 / 20429",
    )
    hostile = parser.add_argument_group("hostile server (what a broken or malicious server sends)")
    hostile.add_argument(
        "--foreign-link",
        type=float,
        default=0.0,
        help="probability that a list page's next link points at --foreign-origin (per page)",
    )
    hostile.add_argument(
        "--foreign-origin",
        default="http://evil.invalid",
        help="http(s)://host[:port] that foreign links point at (default %(default)s, which never resolves)",
    )
    hostile.add_argument(
        "--self-link", type=float, default=0.0, help="probability that a page's next link is the page itself"
    )
    hostile.add_argument(
        "--echo-auth",
        type=float,
        default=0.0,
        help="probability that an error message quotes the request's Authorization header and password",
    )
    hostile.add_argument(
        "--odd-retry-after",
        type=float,
        default=0.0,
        help="probability that a 429 carries an odd Retry-After (HTTP-dates, nan, -5, 1e9, soon, empty)",
    )


def sandbox_from_args(args: argparse.Namespace) -> Sandbox:
    """Build (but do not start) the sandbox the options describe; ValueError if they do not fit."""
    faults = Faults(
        seed=args.fault_seed,
        latency=args.latency,
        spike_rate=args.spike_rate,
        spike_latency=args.spike_latency,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        server_error=args.server_error,
        reset=args.reset,
        truncate=args.truncate,
        concurrency_limit=args.concurrency_limit,
        foreign_link=args.foreign_link,
        foreign_origin=args.foreign_origin,
        self_link=args.self_link,
        echo_auth=args.echo_auth,
        odd_retry_after=args.odd_retry_after,
    )
    sb = Sandbox(
        seed=args.seed,
        calls_per_customer=args.calls,
        messages_per_customer=args.messages,
        customers=[parse_profile(text, i) for i, text in enumerate(args.profile)] or args.customers,
        days=args.days,
        now=args.now,
        faults=faults,
        call_retention_days=args.call_retention_days,
        port=args.port,
        authorize_redirect_url=args.authorize_redirect_url,
        deauthorize_callback_url=args.deauthorize_callback_url,
        deauthorize_callback_method=args.deauthorize_callback_method,
    )
    for sid in args.authorize:
        for customer in sb.customer_account_sids if sid == "all" else [sid]:
            sb.authorize(customer, [p.strip() for p in args.grant.split(",") if p.strip()])
    return sb


def parse_profile(text: str, index: int = 0) -> Profile:
    """``PATTERN:DAYS:CALLS[:SUBACCOUNTS[:CLOSED]]`` as a ``Profile``; ValueError saying what is wrong."""
    parts = text.split(":")
    if not 3 <= len(parts) <= 5 or not all(p.isdigit() for p in parts[1:]):
        msg = f"--profile must be PATTERN:DAYS:CALLS[:SUBACCOUNTS[:CLOSED]] such as sparse:3652:5000, got {text!r}"
        raise ValueError(msg)
    pattern, *numbers = parts
    days, calls, subaccounts, closed = [*map(int, numbers), 0, 0][:4]
    return Profile(
        name=f"Customer {index + 1} ({pattern})",
        pattern=pattern,  # type: ignore[arg-type]  # checked by Profile
        days=days,
        calls=calls,
        subaccounts=subaccounts,
        closed=closed,
    )


def describe(sb: Sandbox, out: TextIO) -> None:
    """Print where the sandbox is and the owner credentials to use with it."""
    print(f"Twilio sandbox serving on {sb.url}", file=out)
    print(f"  REST API          {sb.api_url}/2010-04-01", file=out)
    print(f"  Monitor API       {sb.monitor_url}/v1", file=out)
    print(f"  Insights API      {sb.insights_url}/v1", file=out)
    print(f"  BulkExport API    {sb.bulkexports_url}/v1 (calls listed {sb.call_retention_days} days back)", file=out)
    print(f"  Authorize page    {sb.authorize_url}", file=out)
    print(f"  Revoke page       {sb.deauthorize_page_url}", file=out)
    print("Owner credentials (sandbox only, derived from the seed):", file=out)
    print(f"  AccountSid        {sb.owner_account_sid}", file=out)
    print(f"  Auth Token        {sb.owner_auth_token}", file=out)
    print(f"  Connect App       {sb.connect_app_sid}", file=out)
    print("Customers (main account, its subaccounts; the AccountSid the Connect App holds for it):", file=out)
    for sid in sb.customer_account_sids:
        for member in sb.state.family(sid):
            if member.role == "main":
                print(f"  {member.sid}  {member.friendly_name}", file=out)
            elif member.role == "subaccount":
                closed = " (closed)" if member.closed is not None else ""
                print(f"    {member.sid}  {member.friendly_name}{closed}", file=out)
        connected = sb.connected_sid(sid) if sid in sb.state.authorizations else None
        if connected is not None:
            print(f"    Connected AccountSid {connected}", file=out)
    out.flush()


@contextmanager
def _interrupts() -> Iterator[threading.Event]:
    """An Event that SIGINT or SIGTERM sets while inside, the previous handlers restored after.

    Installed before the sandbox starts, so a Ctrl-C that arrives while it is still printing
    its address stops it cleanly instead of raising KeyboardInterrupt wherever it lands.
    """
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def serve(args: argparse.Namespace) -> int:
    """Run the sandbox until Ctrl-C; return the exit status."""
    try:
        sb = sandbox_from_args(args)
    except ValueError as exc:
        print(f"connect-notebook sandbox: {exc}", file=sys.stderr)
        return 2
    with _interrupts() as stop:
        try:
            sb.start()
        except OSError as exc:
            print(
                f"connect-notebook sandbox: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); "
                "choose another port with --port (0 picks a free one)",
                file=sys.stderr,
            )
            return 1
        try:
            describe(sb, sys.stdout)
            print("Press Ctrl-C to stop.", flush=True)
            while not stop.wait(3600):
                pass
        finally:
            sb.stop()
    try:
        print("Sandbox stopped.", flush=True)
    except BrokenPipeError:
        # Whoever read our output has gone (a script that stopped us): nothing to tell, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m connect_notebook.sandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m connect_notebook.sandbox",
        description="Serve a Twilio-compatible sandbox on 127.0.0.1.",
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))
