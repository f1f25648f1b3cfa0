"""How fast the sandbox serves call pages, so that it is never the bottleneck of a client benchmark.

Run: ``python bench/sandbox_pages.py [--calls 100000]``. The client only downloads
(it finds ``next_page_uri`` without parsing the body), so the figures are the
sandbox's, not a JSON parser's. Prints one table: pages and calls per second for
a cold pass (days generated on first touch) and a warm pass (days cached),
sequentially at PageSize 1000 and 50, and with 8 concurrent clients each paging
one day window (the way connect_notebook's loader fetches).

The account is one plain dense account of ``--calls`` calls over 90 days (a customer
without subaccounts), read as the Connect App does: with its Connect subaccount's
SID and the owner's Auth Token, under the main account's path.
"""

from __future__ import annotations

import argparse
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx

from connect_notebook.sandbox import Profile, Sandbox

_NEXT = re.compile(rb'"next_page_uri":(null|"([^"]*)")')


def page_through(client: httpx.Client, uri: str) -> tuple[int, int]:
    """Follow next_page_uri; count records without parsing the JSON (the client's cost is not measured)."""
    pages = calls = 0
    while uri:
        body = client.get(uri).raise_for_status().content
        pages += 1
        calls += body.count(b'"subresource_uris":{"notifications"')
        m = _NEXT.search(body, len(body) - 4096)
        uri = m.group(2).decode() if m and m.group(2) else ""
    return pages, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    solo = Profile(name="Solo", pattern="dense", days=90, calls=args.calls)
    with Sandbox(seed=7, customers=[solo], now="2026-11-01T00:00:00Z") as sb:
        customer = sb.customer_account_sids[0]
        connected = sb.authorize(customer)
        base = f"/2010-04-01/Accounts/{customer}/Calls.json"
        with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token), timeout=60) as client:
            for label, size in (
                ("cold, sequential", 1000),
                ("warm, sequential", 1000),
                ("warm, sequential", 50),
            ):
                t = time.perf_counter()
                pages, calls = page_through(client, f"{base}?PageSize={size}")
                rows.append((label, size, pages, calls, time.perf_counter() - t))
            days = [date(2026, 11, 1) - timedelta(days=i) for i in range(1, 91)]
            t = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda d: page_through(client, f"{base}?PageSize=1000&StartTime={d}"), days))
            rows.append(
                (
                    "warm, 8 clients by day",
                    1000,
                    sum(p for p, _ in results),
                    sum(c for _, c in results),
                    time.perf_counter() - t,
                )
            )
    print(f"sandbox page throughput, {args.calls:,} calls in one account (one server thread)")
    print(f"{'pass':<24}{'PageSize':>9}{'pages':>8}{'calls':>10}{'seconds':>9}{'pages/s':>9}{'calls/s':>10}")
    for label, size, pages, calls, seconds in rows:
        rate = f"{pages / seconds:>9.1f}{calls / seconds:>10,.0f}"
        print(f"{label:<24}{size:>9}{pages:>8}{calls:>10,}{seconds:>9.2f}{rate}")


if __name__ == "__main__":
    main()
