"""A kernel with no Jupyter server, as VS Code and similar front ends run one (jupyter_client alone).

There is no server to proxy through, so the kernel's own callback server is the only way
back: ``%load_ext`` starts it and prints the Authorize URL, and the Connect flow completes
when the browser, on this machine, is sent there (here: headless Chromium). When the
browser runs elsewhere the Authorize URL cannot load; the address it landed on, pasted
under the button (or given to ``connect_pasted``), completes the flow instead. The button
says which of the two applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import MS, NOW, chromium, needs_chromium, playwright
from kernel_support import TIMEOUT, Kernel, embedded_kernel

BUTTON = (
    "import json, re, connect_notebook as cn\n"
    "button = cn.connect_button()\n"
    "notes = [w.value for w in button.children if 'cn-note' in w._dom_classes]\n"
    "print(json.dumps({'href': re.search(r'href=\"([^\"]+)\"', button.link.value).group(1).replace('&amp;', '&'),"
    " 'notes': notes}))\n"
)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Kernel, int]]:
    """A python3 kernel on the embedded sandbox, with its callback server on a free port."""
    with embedded_kernel(tmp_path, NOW) as started:
        yield started


def load_and_button(kernel: Kernel, port: int) -> dict[str, Any]:
    out = kernel.run("%load_ext connect_notebook\n")
    assert f"Authorize URL:             http://127.0.0.1:{port}/connect/authorize" in out
    assert "uses the embedded Twilio sandbox" in out
    button: dict[str, Any] = json.loads(kernel.run(BUTTON).strip().splitlines()[-1])
    # In words: the browser comes back to this machine's loopback, or the address is pasted.
    [how] = button["notes"]
    assert f"comes back to http://127.0.0.1:{port}/connect/authorize, on the machine this kernel runs on" in how
    assert "paste its address, or the AccountSid" in how
    return button


def approve(href: str) -> str:
    """Approve on the sandbox's authorize page as the customer's browser would; where Twilio redirects it.

    The redirect is not followed: that is the browser on another machine, where it cannot load.
    """
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as browser:
        page = browser.get(href)
        assert page.status_code == 200
        customer = re.search(r"name=AccountSid value='(AC[0-9a-f]{32})'", page.text)
        assert customer is not None, page.text[:500]
        state = href.split("state=", 1)[1]
        answer = browser.post(
            href.split("?", 1)[0], data={"decision": "authorize", "AccountSid": customer.group(1), "state": state}
        )
    assert answer.status_code in (302, 303), answer.text[:300]
    return answer.headers["location"]


@needs_chromium
def test_the_connect_flow_completes_when_the_browser_is_sent_to_the_kernel(kernel: tuple[Kernel, int]) -> None:
    k, port = kernel
    button = load_and_button(k, port)
    expect = playwright().expect
    with chromium() as context:
        page = context.new_page()
        page.goto(button["href"])
        expect(page.locator("h1")).to_contain_text("Authorize")
        page.locator("#authorize").click()
        expect(page).to_have_url(re.compile(rf"^http://127\.0\.0\.1:{port}/connect/done\?ref="), timeout=MS)
        expect(page.locator("h1")).to_have_text("Connected: Harbor Dental Group")
    out = k.run(
        "account = button.wait(timeout=60)\n"
        "calls = cn.load_calls(account, progress=False)\n"
        "print(account.label, calls.height)\n"
    )
    label, rows = out.strip().rsplit(" ", 1)
    assert label.startswith("Harbor Dental Group (AC…")
    assert int(rows) > 0


def test_pasting_the_address_the_browser_landed_on_completes_the_flow(kernel: tuple[Kernel, int]) -> None:
    k, port = kernel
    button = load_and_button(k, port)
    landed = approve(button["href"])
    assert landed.startswith(f"http://127.0.0.1:{port}/connect/authorize?")
    assert "AccountSid=AC" in landed and "state=" in landed
    out = k.run(
        f"button.paste.value = {landed!r}\n"
        "button.use_pasted.click()\n"
        "account = button.wait(timeout=60)\n"
        "print(button.paste.value == '', account.label, cn.load_calls(account, progress=False).height)\n"
    )
    cleared, rest = out.strip().split(" ", 1)
    label, rows = rest.rsplit(" ", 1)
    assert cleared == "True"  # what was pasted is not kept in the widget's synced state
    assert label.startswith("Harbor Dental Group (AC…")
    assert int(rows) > 0


def test_without_a_widget_connect_pasted_completes_the_flow(kernel: tuple[Kernel, int]) -> None:
    # A front end that cannot show the button: its plain link, then the function the box calls.
    k, port = kernel
    button = load_and_button(k, port)
    landed = approve(button["href"])
    out = k.run(f"print(cn.connect_pasted({landed!r}).label)\n")
    assert out.strip().startswith("Harbor Dental Group (AC…")
    # Its state is used up: the same address a second time is refused, clearly.
    again = k.finish(k.start(f"cn.connect_pasted({landed!r})\n"))
    assert again.errors and "already used" in again.errors[0]
