"""``Sandbox.hold``: matching API requests wait until released, and the others are served meanwhile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from connect_notebook.sandbox import Sandbox


def test_a_held_request_waits_until_released_while_others_are_served(
    sandbox: Sandbox, api: httpx.Client, connected: str
) -> None:
    with ThreadPoolExecutor(2) as pool, sandbox.hold("Calls.json", after=1) as hold:
        first = api.get(f"/2010-04-01/Accounts/{connected}/Calls.json", params={"PageSize": 1})
        assert first.status_code == 200 and hold.held == 0  # "after=1": the first passed
        waiting = pool.submit(api.get, f"/2010-04-01/Accounts/{connected}/Calls.json", params={"PageSize": 2})
        assert hold.arrived(1)
        # Another resource is not held.
        assert api.get(f"/2010-04-01/Accounts/{connected}/Messages.json").status_code == 200
        assert not waiting.done()
        hold.release()
        assert waiting.result(timeout=60).status_code == 200
        # Released: no longer holds.
        assert api.get(f"/2010-04-01/Accounts/{connected}/Calls.json").status_code == 200
        assert hold.held == 1


def test_resetting_the_faults_releases_every_hold(sandbox: Sandbox, api: httpx.Client, connected: str) -> None:
    hold = sandbox.hold(connected)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(api.get, f"/2010-04-01/Accounts/{connected}/Calls.json")
        assert hold.arrived(1)
        sandbox.state.faults.reset()  # as Sandbox.reset() does, which also forgets the authorization
        assert waiting.result(timeout=60).status_code == 200


def test_arrived_gives_false_when_nothing_comes(sandbox: Sandbox) -> None:
    with sandbox.hold("Calls.json") as hold:
        assert hold.arrived(1, timeout=0.01) is False


@pytest.mark.parametrize(("match", "after"), [("", 0), ("Calls.json", -1), ("Calls.json", True)])
def test_bad_holds_are_refused(sandbox: Sandbox, match: str, after: int) -> None:
    with pytest.raises(ValueError, match="hold|after"):
        sandbox.hold(match, after=after)
