"""``python -m connect_notebook.sandbox``: ``--profile`` customers, their families, the Connected AccountSid.

The process is started for real on port 0; its stdout is read line by line until
"Press Ctrl-C", the printed URL and SIDs are used over HTTP, then it is terminated
(SIGTERM, which it handles like Ctrl-C). ``tests/test_cli.py`` covers the other
options through ``connect-notebook sandbox``.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest

NOW = "2026-11-01T12:00:00+00:00"
WAIT = 60.0  # seconds; only a guard against a hung process
SID = r"AC[0-9a-f]{32}"


class Served:
    """A running sandbox process and the lines it printed up to "Press Ctrl-C"."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connect_notebook.sandbox", "--port", "0", "--now", NOW, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        # A reader thread, so that a process that prints nothing fails the test instead of hanging it.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.lines = self._until("Press Ctrl-C")
        self.text = "".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # end of output

    def _until(self, marker: str) -> list[str]:
        seen: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no {marker!r} within {WAIT}s; got:\n{''.join(seen)}")
            if not line:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                pytest.fail(f"the sandbox exited before {marker!r}; stdout:\n{''.join(seen)}\nstderr:\n{stderr}")
            seen.append(line)
            if marker in line:
                return seen

    @property
    def url(self) -> str:
        return re.search(r"serving on (http://127\.0\.0\.1:\d+)", self.text).group(1)  # type: ignore[union-attr]

    @property
    def token(self) -> str:
        return re.search(r"Auth Token\s+([0-9a-f]{32})", self.text).group(1)  # type: ignore[union-attr]

    def stop(self) -> tuple[int, str]:
        """Terminate; return the exit status and what it printed after "Press Ctrl-C"."""
        if self.proc.poll() is None:
            self.proc.terminate()
        status = self.proc.wait(WAIT)
        self._reader.join(WAIT)
        rest = []
        while not self._lines.empty():
            rest.append(self._lines.get())
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return status, "".join(rest)


@pytest.fixture
def serve() -> Iterator[type[Served]]:
    """Start sandbox processes; make sure each is gone afterwards."""
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, *args: str) -> None:
            started.append(self)
            super().__init__(*args)

    yield Tracked
    for served in started:
        if served.proc.poll() is None:
            served.proc.kill()
        served.stop()


def test_a_ten_year_profile_is_served_with_its_family_and_connected_account_sid(serve: type[Served]) -> None:
    served = serve("--profile", "sparse:3652:5000", "--authorize", "all")

    [(main, name)] = re.findall(rf"^  ({SID})  (.+)$", served.text, flags=re.MULTILINE)
    [connected] = re.findall(rf"^    Connected AccountSid ({SID})$", served.text, flags=re.MULTILINE)
    assert name == "Customer 1 (sparse)"
    assert connected != main
    # The printed SID is the one that opens the family: main account first, then the Connect subaccount.
    with httpx.Client(base_url=served.url, auth=(connected, served.token)) as client:
        family = client.get("/2010-04-01/Accounts.json").raise_for_status().json()["accounts"]
        account = client.get(f"/2010-04-01/Accounts/{main}.json").raise_for_status().json()
        page = client.get(f"/2010-04-01/Accounts/{main}/Calls.json").raise_for_status().json()
    assert [(a["sid"], a["owner_account_sid"]) for a in family] == [(main, main), (connected, main)]
    age = datetime.fromisoformat(NOW) - parsedate_to_datetime(account["date_created"])
    assert timedelta(days=3651) < age < timedelta(days=3653)  # ten years before the pinned clock
    assert len(page["calls"]) == 50

    status, rest = served.stop()
    assert status == 0
    assert "Sandbox stopped." in rest


def test_profiles_with_subaccounts_print_each_family_and_only_authorized_ones_get_a_connected_line(
    serve: type[Served],
) -> None:
    served = serve("--profile", "dense:30:300:2", "--profile", "growing:730:1000:3:1", "--calls", "10")
    mains = re.findall(rf"^  ({SID})  (.+)$", served.text, flags=re.MULTILINE)
    subaccounts = re.findall(rf"^    ({SID})  (.+)$", served.text, flags=re.MULTILINE)
    assert [name for _, name in mains] == ["Customer 1 (dense)", "Customer 2 (growing)"]
    assert len(subaccounts) == 5
    assert sum(name.endswith("(closed)") for _, name in subaccounts) == 1
    assert "Connected AccountSid" not in served.text  # nobody authorized yet
    # The main account's SID is not a credential: the app gets one only by authorizing.
    with httpx.Client(base_url=served.url, auth=(mains[0][0], served.token)) as client:
        assert client.get("/2010-04-01/Accounts.json").status_code == 401
    assert served.stop()[0] == 0


@pytest.mark.parametrize(
    ("profile", "complaint"),
    [
        pytest.param("sparse:abc:10", "PATTERN:DAYS:CALLS", id="days-not-a-number"),
        pytest.param("sparse:10", "PATTERN:DAYS:CALLS", id="too-few-parts"),
        pytest.param("weekly:10:10", "pattern must be one of dense, sparse, growing", id="unknown-pattern"),
        pytest.param("dense:10:10:1:2", "closed <= subaccounts", id="more-closed-than-subaccounts"),
    ],
)
def test_a_bad_profile_is_refused_with_exit_status_2_and_the_reason(profile: str, complaint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connect_notebook.sandbox", "--port", "0", "--profile", profile],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "serving on" not in result.stdout


def test_call_retention_and_granted_permissions_are_options(serve: type[Served]) -> None:
    served = serve(
        "--profile",
        "growing:400:3000",
        "--authorize",
        "all",
        "--grant",
        "get-all,post-all",
        "--call-retention-days",
        "30",
    )
    assert "calls listed 30 days back" in served.text
    connected = re.search(rf"Connected AccountSid ({SID})", served.text).group(1)  # type: ignore[union-attr]
    main = re.search(rf"^  ({SID})  ", served.text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    auth = (connected, served.token)
    calls = httpx.get(f"{served.url}/2010-04-01/Accounts/{main}/Calls.json?PageSize=1000", auth=auth).json()["calls"]
    oldest = min(parsedate_to_datetime(c["start_time"]) for c in calls)
    assert oldest >= datetime.fromisoformat(NOW) - timedelta(days=31)
    day = (datetime.fromisoformat(NOW) - timedelta(days=100)).date().isoformat()
    job = httpx.post(  # post-all was granted: the app may create an export job
        f"{served.url}/v1/Exports/Calls/Jobs", data={"StartDay": day, "EndDay": day, "FriendlyName": "x"}, auth=auth
    )
    assert job.status_code == 201, job.text
    assert served.stop()[0] == 0
