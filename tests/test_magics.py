"""The IPython extension in a headless shell: ``%load_ext`` / ``%unload_ext connect_notebook``."""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from IPython.testing import globalipapp

import connect_notebook
from connect_notebook import use_sandbox
from connect_notebook._exceptions import ConfigError
from connect_notebook._kernel import current
from connect_notebook.sandbox import Sandbox

WAIT = 30.0  # only guards against a hang
EXT = "connect_notebook"
AUTHORIZE = re.compile(r"^Authorize URL:\s+(\S+)$", re.M)
DEAUTHORIZE = re.compile(r"^Deauthorize Callback URL:\s+(\S+)", re.M)


def callback_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "connect_notebook-callback" and t.is_alive()]


def printed_urls(out: str) -> tuple[str, str]:
    authorize, deauthorize = AUTHORIZE.search(out), DEAUTHORIZE.search(out)
    assert authorize is not None, out
    assert deauthorize is not None, out
    return authorize.group(1), deauthorize.group(1)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless IPython shell; the extension is unloaded and the active app forgotten afterwards."""
    monkeypatch.setenv("CONNECT_NOTEBOOK_CALLBACK_PORT", "0")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    # IPython is untyped; globalipapp swaps in the real get_ipython after the first call, so call it via the module.
    shell = globalipapp.get_ipython()  # type: ignore[no-untyped-call]
    try:
        yield shell
    finally:
        if EXT in shell.extension_manager.loaded:
            try:
                shell.run_line_magic("unload_ext", EXT)
            except ConfigError:  # a test's malformed setting: there was nothing to stop
                pass
        # conftest closes the test's kernel, and with it any server the test left running.


@pytest.fixture
def embedded() -> Sandbox:
    """The embedded sandbox (what the extension uses with no credentials): the test's kernel's."""
    return current().embedded_sandbox()


@pytest.fixture
def real_app_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Credentials in the environment, as for a real Connect App (which the sandbox stands in for)."""
    monkeypatch.setenv("CONNECT_NOTEBOOK_ACCOUNT_SID", sandbox.owner_account_sid)
    monkeypatch.setenv("CONNECT_NOTEBOOK_AUTH_TOKEN", sandbox.owner_auth_token)
    monkeypatch.setenv("CONNECT_NOTEBOOK_CONNECT_APP_SID", sandbox.connect_app_sid)
    monkeypatch.setenv("CONNECT_NOTEBOOK_API_URL", sandbox.api_url)
    monkeypatch.setenv("CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL", sandbox.url)
    return sandbox


# -- loading on the embedded sandbox --


def test_load_ext_without_credentials_uses_the_embedded_sandbox_and_says_so_in_one_line(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    out = capsys.readouterr().out
    sandbox_lines = [line for line in out.splitlines() if "sandbox" in line]
    assert len(sandbox_lines) == 1
    assert "no Twilio credentials" in sandbox_lines[0]
    assert "Register both" not in out


def test_load_ext_prints_both_callback_urls_of_a_running_server(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    authorize, deauthorize = printed_urls(capsys.readouterr().out)
    assert authorize.startswith("http://127.0.0.1:")
    assert authorize.endswith("/connect/authorize")
    assert deauthorize == authorize.removesuffix("/authorize") + "/deauthorize"
    assert port_of(authorize) != 0
    assert len(callback_threads()) == 1
    with httpx.Client(follow_redirects=False) as client:
        answer = client.get(authorize)  # no state, no sid: the server is there and refuses it
    assert answer.status_code == 400


def test_load_ext_on_the_embedded_sandbox_registers_the_urls_on_its_connect_app(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    embedded.update_connect_app(authorize_redirect_url=None, deauthorize_callback_url=None)
    ip.run_line_magic("load_ext", EXT)
    authorize, deauthorize = printed_urls(capsys.readouterr().out)
    assert embedded.connect_app.authorize_redirect_url == authorize
    assert embedded.connect_app.deauthorize_callback_url == deauthorize
    assert embedded.connect_app.deauthorize_callback_method == "POST"


def test_unload_ext_stops_the_server_and_frees_the_port(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    port = port_of(printed_urls(capsys.readouterr().out)[0])
    assert current().connection is not None

    ip.run_line_magic("unload_ext", EXT)

    assert callback_threads() == []
    assert current().connection is None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the port were still held
        sock.listen()


def test_loading_again_after_unloading_starts_a_new_server(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    ip.run_line_magic("unload_ext", EXT)
    capsys.readouterr()
    ip.run_line_magic("load_ext", EXT)
    authorize, _ = printed_urls(capsys.readouterr().out)
    assert len(callback_threads()) == 1
    assert embedded.connect_app.authorize_redirect_url == authorize


def test_taken_port_is_a_config_error_naming_the_port_and_the_variable(
    ip: Any, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("CONNECT_NOTEBOOK_CALLBACK_PORT", str(port))
        use_sandbox(sandbox)  # the kernel reads its settings now, on first use
        with pytest.raises(ConfigError) as caught:
            ip.run_line_magic("load_ext", EXT)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "CONNECT_NOTEBOOK_CALLBACK_PORT" in message
    assert callback_threads() == []
    assert current().connection is None


@pytest.mark.parametrize(
    "value",
    [pytest.param("http", id="word"), pytest.param("70000", id="too-big"), pytest.param("-1", id="negative")],
)
def test_malformed_callback_port_is_a_config_error_naming_the_variable(
    value: str, ip: Any, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_CALLBACK_PORT", value)
    with pytest.raises(ConfigError, match="CONNECT_NOTEBOOK_CALLBACK_PORT"):
        ip.run_line_magic("load_ext", EXT)  # the settings are read, and refused, when the kernel is built
    assert callback_threads() == []


# -- a real Connect App: never changed silently --


def test_load_ext_with_env_credentials_leaves_the_connect_app_alone_and_prints_the_hint(
    ip: Any, real_app_env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    out = capsys.readouterr().out
    printed_urls(out)
    assert "sandbox" not in out
    assert "register_callback()" in out
    assert real_app_env.connect_app.authorize_redirect_url is None
    assert real_app_env.connect_app.deauthorize_callback_url is None


def test_register_callback_sets_the_printed_urls_on_the_connect_app(
    ip: Any, real_app_env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    authorize, deauthorize = printed_urls(capsys.readouterr().out)

    connect_notebook.register_callback()

    assert real_app_env.connect_app.authorize_redirect_url == authorize
    assert real_app_env.connect_app.deauthorize_callback_url == deauthorize
    assert real_app_env.connect_app.deauthorize_callback_method == "POST"


def test_register_callback_env_variable_registers_at_load(
    ip: Any, real_app_env: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_REGISTER_CALLBACK", "1")
    ip.run_line_magic("load_ext", EXT)
    out = capsys.readouterr().out
    authorize, _ = printed_urls(out)
    assert real_app_env.connect_app.authorize_redirect_url == authorize
    assert "register_callback()" not in out


def test_connect_button_on_a_real_app_shows_the_authorize_url_to_register(
    ip: Any, real_app_env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    authorize, _ = printed_urls(capsys.readouterr().out)
    button = connect_notebook.connect_button()
    try:
        notes = [unescape(w.value) for w in button.children if "cn-note" in w._dom_classes]
        assert len(notes) == 2
        # How the browser comes back (here: this machine's loopback, so the paste box is the fallback)...
        assert "on the machine this kernel runs on" in notes[0] and "paste its address" in notes[0]
        # ...and what to register, since this is a real app and nothing registered it.
        assert f"Authorize URL must be {authorize}" in notes[1]
        assert real_app_env.connect_app.authorize_redirect_url is None
    finally:
        button.close()


def test_without_ipywidgets_connect_button_says_how_to_connect_without_it(
    ip: Any, embedded: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    monkeypatch.delitem(sys.modules, "connect_notebook._widget", raising=False)
    with pytest.raises(connect_notebook.ConfigError) as raised:
        connect_notebook.connect_button()
    message = str(raised.value)
    assert message.startswith("ipywidgets is not installed in this kernel, so there is no Connect button")
    link = re.search(r"open (\S+) in a browser", message)
    assert link is not None and link.group(1).startswith(embedded.authorize_url) and "state=" in link.group(1)
    assert "into connect_notebook.connect_pasted()" in message


# -- behind JupyterHub --


def free_port() -> str:
    """A port that was free a moment ago, as a user would pick one for CONNECT_NOTEBOOK_CALLBACK_PORT."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.mark.parametrize(
    "configured_port",
    [pytest.param(lambda: "0", id="any-free-port"), pytest.param(free_port, id="explicit-port")],
)
def test_behind_jupyterhub_the_printed_urls_are_the_servers_own_proxy_route(
    configured_port: Callable[[], str],
    ip: Any,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_CALLBACK_PORT", configured_port())
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    # What JupyterHub 5+ sets: the single-user server's public URL, not the hub's (Spawner.get_env).
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/user/alice/")
    use_sandbox(sandbox)
    ip.run_line_magic("load_ext", EXT)
    out = capsys.readouterr().out
    authorize, deauthorize = printed_urls(out)
    connection = current().connection
    assert connection is not None
    port = connection.server.port
    assert port != 0
    assert authorize == f"https://hub.example.org/user/alice/proxy/{port}/connect/authorize"
    assert deauthorize == f"https://hub.example.org/user/alice/proxy/{port}/connect/deauthorize"
    assert "Behind JupyterHub" not in out  # the address is known: no warning


@pytest.mark.parametrize(
    ("public_url", "callback"),
    [
        # A hub served from 127.0.0.1 is still a hub whose address is known.
        pytest.param(
            "http://127.0.0.1:8000/user/alice/", "http://127.0.0.1:8000/user/alice/proxy/{port}", id="loopback-hub"
        ),
        # JupyterHub before 5.0, or without c.JupyterHub.public_url: the variable is empty.
        pytest.param("", "http://127.0.0.1:{port}", id="address-unknown"),
    ],
)
def test_behind_a_hub_the_extension_uses_its_address_or_says_what_to_set(
    public_url: str,
    callback: str,
    ip: Any,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CONNECT_NOTEBOOK_CALLBACK_PORT", "0")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", public_url)
    use_sandbox(sandbox)
    ip.run_line_magic("load_ext", EXT)
    out = capsys.readouterr().out
    connection = current().connection
    assert connection is not None
    port = connection.server.port
    assert printed_urls(out)[0] == callback.format(port=port) + "/connect/authorize"
    told = f"CONNECT_NOTEBOOK_PUBLIC_URL to https://<your hub's address>/user/alice/proxy/{port}" in out
    assert told == (public_url == "")
    assert ("Behind JupyterHub, but the hub did not give its public address" in out) == (public_url == "")


# -- the Connect flow through the extension --


def test_customer_authorizing_on_the_sandbox_page_releases_a_blocked_wait(
    ip: Any, embedded: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("load_ext", EXT)
    button = connect_notebook.connect_button()
    customer = embedded.customer_account_sids[1]
    href = re.search(r'href="([^"]*)"', button.link.value)
    assert href is not None
    [state] = parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)["state"]
    answers: list[int] = []

    def customer_clicks_authorize() -> None:
        with httpx.Client(follow_redirects=True, timeout=WAIT) as browser:
            page = browser.post(
                embedded.authorize_url, data={"decision": "authorize", "AccountSid": customer, "state": state}
            )
            answers.append(page.status_code)

    clicker = threading.Thread(target=customer_clicks_authorize, name="test-browser")
    clicker.start()
    try:
        account = button.wait(timeout=WAIT)
    finally:
        clicker.join(WAIT)
        button.close()
    # The app holds the customer's Connect subaccount, and names the customer by its main account.
    assert account.sid == embedded.connected_sid(customer)
    assert account.sid != customer
    assert account.customer_sid == customer
    assert account.friendly_name == "Northwind Logistics"
    assert account.label == f"Northwind Logistics (AC…{customer[-4:]})"
    assert button._status_text == f"Connected: Northwind Logistics (AC…{customer[-4:]})"
    assert account.sid not in button.status.value and account.sid[-4:] not in button.status.value
    assert answers == [200]
    assert connect_notebook.session().current == account


@pytest.fixture
def autoconnect_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the kernel is built (it reads its settings once)."""
    monkeypatch.setenv("CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT", "first")


def test_sandbox_autoconnect_first_makes_wait_return_the_first_customer(
    autoconnect_first: None, ip: Any, embedded: Sandbox
) -> None:
    ip.run_line_magic("load_ext", EXT)
    button = connect_notebook.connect_button()
    try:
        account = button.wait(timeout=WAIT)
    finally:
        for thread in threading.enumerate():
            if thread.name == "connect_notebook-autoconnect":
                thread.join(WAIT)
        button.close()
    main = embedded.customer_account_sids[0]
    assert account.sid == embedded.connected_account_sids[0] == embedded.connected_sid(main)
    assert account.customer_sid == main
    assert account.friendly_name == embedded.state.customers[0].friendly_name == "Harbor Dental Group"
    assert connect_notebook.session().current == account


# -- how the library's errors print in IPython --


def test_a_library_error_prints_as_its_message_and_tb_shows_the_full_traceback(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "import connect_notebook as cn\n"
        "def inner():\n"
        "    message = 'the customer revoked the app; Connect it again'\n"
        "    raise cn.AuthorizationRevoked(message, account_sid='AC1', connect_app_sid=None)\n"
        "inner()\n"
    )
    result = ip.run_cell(code)
    assert isinstance(result.error_in_exec, connect_notebook.AuthorizationRevoked)
    short = capsys.readouterr().out
    assert "AuthorizationRevoked: the customer revoked the app; Connect it again" in short
    assert "%tb" in short
    assert "inner()" not in short and "Traceback" not in short  # no frames above the message

    ip.run_line_magic("tb", "")
    full = capsys.readouterr().out
    assert "Traceback" in full
    assert "inner()" in full  # the frames, one %tb away
    assert "Connect it again" in full


def test_other_errors_keep_ipythons_traceback(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell("def inner():\n    raise ValueError('plain')\ninner()\n")
    out = capsys.readouterr().out
    assert "inner()" in out and "ValueError" in out
