"""The in-process places of the secrets properties: loads, errors, pasted tokens, reprs, widget state, the session.

Each scenario runs inside ``secrets_support.world`` (a sandbox whose owner token is the
example's, the environment pointing at it, a kernel built from it) and scans what a
user would see into the world's ``Scan``. Details a scenario leaves open (which
customer, which loader, which digit of a mistyped token) it draws through ``draw``,
the ``draw`` of hypothesis's ``st.data()``: they depend on the example's sandbox.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import ipywidgets as widgets  # type: ignore[import-untyped]
import polars as pl
from hypothesis import strategies as st

import connect_notebook as cn
from chaos.needles import exception_texts
from chaos.secrets_support import (
    DAY,
    NEXT_DAY,
    PLACE_CONTROL_HEADER,
    PLACE_ERRORS,
    PLACE_OTHER_PASTE,
    PLACE_PASTE_BOX,
    PLACE_REPRS,
    PLACE_SESSION,
    PLACE_SID_PASTE,
    PLACE_USERINFO,
    PLACE_VERBOSE,
    TIMEOUT,
    Scan,
    World,
    click_through,
    links_in,
)
from chaos.truth import Delays
from connect_notebook._client import APIClient
from connect_notebook._config import Settings

Draw = Callable[..., Any]  # st.data()'s draw(strategy, label)
HEX = "0123456789abcdef"
LOADERS = ("calls", "messages", "usage", "alerts")


def retry(attempts: int) -> cn.RetryPolicy:
    """A policy of ``attempts`` tries that records its delays instead of sleeping."""
    return cn.RetryPolicy(attempts=attempts, sleep=Delays())


def load(loader: str, account: object, policy: cn.RetryPolicy, app: cn.ConnectApp | None = None) -> pl.DataFrame:
    """One settled day of ``loader`` for ``account``; calls and messages ask Twilio again (no cached day)."""
    if loader == "calls":
        return cn.load_calls(account, app=app, start=DAY, end=NEXT_DAY, progress=False, refresh=True, retry=policy)
    if loader == "messages":
        return cn.load_messages(account, app=app, start=DAY, end=NEXT_DAY, progress=False, refresh=True, retry=policy)
    if loader == "usage":
        return cn.load_usage(account, app=app, start=DAY, end=NEXT_DAY, retry=policy)
    return cn.load_alerts(account, app=app, start=DAY, end=NEXT_DAY, retry=policy)


def raised(expected: type[BaseException], action: Callable[[], object]) -> BaseException:
    """Run ``action``; return the exception it raised, which must be an ``expected``."""
    try:
        action()
    except expected as exc:
        return exc
    msg = f"expected {expected.__name__}, nothing was raised"
    raise AssertionError(msg)


def verbose_traceback(exc: BaseException) -> str:
    """IPython's ``%xmode Verbose`` (every frame's local variables), from the first connect_notebook frame.

    The frames of the tests are left out: their locals are the harness's, not the library's.
    """
    from IPython.core.ultratb import AutoFormattedTB

    package = str(Path(cn.__file__).parent)
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(package):
        tb = tb.tb_next
    verbose = AutoFormattedTB(mode="Verbose", theme_name="nocolor")  # type: ignore[no-untyped-call]
    return str(verbose.text(type(exc), exc, tb))


def scan_exception(scan: Scan, place: str, label: str, exc: BaseException) -> None:
    """What a notebook shows of ``exc`` into ``place``; what ``%xmode Verbose`` would show, informational."""
    for what, text in exception_texts(exc):
        scan.add(place, f"{label} {what}", text)
    scan.add(PLACE_VERBOSE, f"{label} Verbose", verbose_traceback(exc))


def widget_tree(root: widgets.Widget) -> list[widgets.Widget]:
    """``root`` and every widget under it (children, layout, style)."""
    seen: list[widgets.Widget] = []
    stack = [root]
    while stack:
        w = stack.pop()
        if any(w is s for s in seen):
            continue
        seen.append(w)
        stack.extend(getattr(w, "children", ()))
        stack.extend(v for a in ("layout", "style") if isinstance(v := getattr(w, a, None), widgets.Widget))
    return seen


def scan_widget(scan: Scan, place: str, label: str, button: widgets.Widget) -> None:
    """A widget's repr, str, mime bundle and the synced state of every widget in it (what a notebook saves)."""
    for text in (repr(button), str(button)):
        scan.add(place, f"{label} repr/str", text)
    scan.add(place, f"{label} _repr_mimebundle_", json.dumps(button._repr_mimebundle_(), default=str))
    for w in widget_tree(button):
        scan.add(place, f"{label} {type(w).__name__} get_state()", json.dumps(w.get_state(), default=str))


class _SpoilField(httpx.BaseTransport):
    """Passes requests on, with ``field`` of every record it returns set to ``value`` (for a SchemaError)."""

    def __init__(self, field: str, value: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._pattern = re.compile(rf'"{field}": ?"[^"]*"'.encode())
        self._value = json.dumps({field: value})[1:-1].encode()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        body = self._pattern.sub(self._value, response.read())
        response.close()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    def close(self) -> None:
        self._inner.close()


def _free_port() -> int:
    """A loopback port nobody listens on (bound, then closed at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------
# (d) errors: each makes one, as a user would meet it, and returns it
# --------------------------------------------------------------------------------------


def _revoked(w: World, draw: Draw) -> BaseException:
    customer = draw(st.sampled_from(w.creds.customers), "customer who revokes")
    loader = draw(st.sampled_from(("calls", "messages", "usage")), "loader")
    connected = w.connected(customer)
    w.sb.deauthorize(customer)  # no callback server runs here: the sandbox only records it
    return raised(cn.AuthorizationRevoked, lambda: load(loader, connected, retry(2)))


def _not_found(w: World, draw: Draw) -> BaseException:
    customer = draw(st.sampled_from(w.creds.customers), "customer")
    digits = draw(st.text(HEX, min_size=32, max_size=32), "digits of the missing call")
    with APIClient(cn.active_app(), w.connected(customer), retry=retry(2)) as client:
        missing = client.api(f"Calls/CA{digits}.json", account_sid=customer)
        return raised(cn.NotFoundError, lambda: client.get_json(missing))


def _mistyped_owner_token(w: World, draw: Draw) -> BaseException:
    # One digit changed: Twilio refuses the owner, and every 12-digit slice not over that digit still matches.
    at = draw(st.integers(0, len(w.token) - 1), "mistyped digit")
    digit = draw(st.sampled_from(HEX.replace(w.token[at], "")), "typed instead")
    typo = w.token[:at] + digit + w.token[at + 1 :]
    mistyped = cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_AUTH_TOKEN": typo})
    with APIClient(mistyped, mistyped.account_sid, retry=retry(2)) as client:
        account_url = client.api("").rstrip("/") + ".json"
        return raised(cn.APIError, lambda: client.get_json(account_url))


def _exhausted(expected: type[BaseException], kind: str) -> Callable[[World, Draw], BaseException]:
    """A load whose first request fails on every try (the family is read first, one request)."""

    def provoke(w: World, draw: Draw) -> BaseException:
        customer = draw(st.sampled_from(w.creds.customers), "customer")
        loader = draw(st.sampled_from(LOADERS), "loader")
        attempts = draw(st.integers(1, 4), "attempts")
        if kind == "429":
            retry_after = draw(st.sampled_from((None, 0, 1, 30)), "Retry-After")
            w.sb.fail_next(attempts, status=429, retry_after=retry_after)
        elif kind == "5xx":
            w.sb.fail_next(attempts, status=draw(st.sampled_from((500, 502, 503, 504)), "status"))
        else:
            w.sb.fail_next(attempts, kind=kind)
        return raised(expected, lambda: load(loader, w.connected(customer), retry(attempts)))

    return provoke


def _refused(w: World, draw: Draw) -> BaseException:
    loader = draw(st.sampled_from(LOADERS), "loader")
    attempts = draw(st.integers(1, 3), "attempts")
    closed = f"http://127.0.0.1:{_free_port()}"
    nowhere = cn.ConnectApp.from_env(
        {**os.environ, "CONNECT_NOTEBOOK_API_URL": closed, "CONNECT_NOTEBOOK_MONITOR_URL": closed}
    )
    return raised(cn.TransportError, lambda: load(loader, w.creds.connected[0], retry(attempts), app=nowhere))


def _schema(w: World, draw: Draw) -> BaseException:
    from connect_notebook._frames import decode_calls_page, type_calls

    customer = draw(st.sampled_from(w.creds.customers), "customer")
    field = draw(st.sampled_from(("duration", "queue_time", "start_time", "date_created")), "spoiled field")
    value = draw(st.sampled_from(("n/a", "twelve", "-", "1.5.2")), "spoiled value")
    transport = _SpoilField(field, value)
    with APIClient(cn.active_app(), w.connected(customer), retry=retry(2), transport=transport) as client:
        # The newest calls of the customer's main account (the Connect subaccount has none).
        raw, _ = client.fetch(client.api("Calls.json?PageSize=50", account_sid=customer), decode_calls_page)
    return raised(cn.SchemaError, lambda: type_calls(raw))


ERRORS: dict[str, Callable[[World, Draw], BaseException]] = {
    "revoked customer": _revoked,
    "404": _not_found,
    "owner token refused (401)": _mistyped_owner_token,
    "429 after every retry": _exhausted(cn.RateLimitError, "429"),
    "5xx after every retry": _exhausted(cn.ServerError, "5xx"),
    "reset after every retry": _exhausted(cn.TransportError, "reset"),
    "truncated after every retry": _exhausted(cn.TransportError, "truncate"),
    "connection refused after every retry": _refused,
    "SchemaError": _schema,
}


# --------------------------------------------------------------------------------------
# (d) the token pasted into the wrong setting: refused, and not echoed
# --------------------------------------------------------------------------------------


def _with(name: str, value: str) -> Callable[[], object]:
    return lambda: cn.ConnectApp.from_env({**os.environ, name: value})


def _swapped(pasted: str) -> Callable[[], object]:
    owner = os.environ["CONNECT_NOTEBOOK_ACCOUNT_SID"]
    both = {"CONNECT_NOTEBOOK_ACCOUNT_SID": pasted, "CONNECT_NOTEBOOK_AUTH_TOKEN": owner}
    return lambda: cn.ConnectApp.from_env({**os.environ, **both})


def _report_params(pasted: str) -> Callable[[], object]:
    from connect_notebook._report import ReportParams

    return lambda: ReportParams.parse(account=pasted, start=DAY, end=NEXT_DAY, tz="UTC")


def _own_app(pasted: str) -> Callable[[], object]:
    app = cn.active_app()
    return lambda: cn.ConnectApp(account_sid=pasted, auth_token=app.auth_token, connect_app_sid=app.connect_app_sid)


# Label -> (place, what raises ConfigError given the pasted text; None for the CLI, whose stderr is scanned).
PASTES: dict[str, tuple[str, Callable[[str], Callable[[], object]] | None]] = {
    "ACCOUNT_SID and AUTH_TOKEN swapped": (PLACE_SID_PASTE, _swapped),
    "CONNECT_APP_SID": (PLACE_SID_PASTE, lambda p: _with("CONNECT_NOTEBOOK_CONNECT_APP_SID", p)),
    "ConnectApp(account_sid=)": (PLACE_SID_PASTE, _own_app),
    "APIClient customer": (PLACE_SID_PASTE, lambda p: lambda: APIClient(cn.active_app(), p)),
    "load_calls(account)": (PLACE_SID_PASTE, lambda p: lambda: cn.load_calls(p, start=DAY, end=NEXT_DAY)),
    "report --account": (PLACE_SID_PASTE, _report_params),
    "report CLI --account": (PLACE_SID_PASTE, None),
    "CONNECT_NOTEBOOK_API_URL": (PLACE_OTHER_PASTE, lambda p: _with("CONNECT_NOTEBOOK_API_URL", p)),
    "CONNECT_NOTEBOOK_MONITOR_URL": (PLACE_OTHER_PASTE, lambda p: _with("CONNECT_NOTEBOOK_MONITOR_URL", p)),
    "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL": (
        PLACE_OTHER_PASTE,
        lambda p: _with("CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL", p),
    ),
    "CONNECT_NOTEBOOK_CALLBACK_PORT": (
        PLACE_OTHER_PASTE,
        lambda p: lambda: Settings.from_env({**os.environ, "CONNECT_NOTEBOOK_CALLBACK_PORT": p}),
    ),
}


def paste(w: World, label: str, pasted: str) -> None:
    """Paste ``pasted`` where ``label`` says; it must be refused (a ConfigError, or the CLI's exit 2), then scanned."""
    place, action = PASTES[label]
    if action is None:
        from connect_notebook._cli import main as cli_main

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = cli_main(["report", "--account", pasted, "--start", DAY, "--end", NEXT_DAY])
        assert status == 2, f"the report CLI exited {status}, not 2 (a ConfigError): {w.scan.mask(stderr.getvalue())}"
        w.scan.add(place, f"{label} stderr", stderr.getvalue())
        return
    exc = raised(cn.ConfigError, action(pasted))
    for what, text in exception_texts(exc):
        w.scan.add(place, f"{label} {what}", text)
    if place == PLACE_SID_PASTE:
        w.scan.add(PLACE_VERBOSE, f"{label} Verbose", verbose_traceback(exc))


def provoke(w: World, label: str, draw: Draw) -> BaseException:
    """Make the error ``label`` names and scan what a notebook shows of it."""
    exc = ERRORS[label](w, draw)
    scan_exception(w.scan, PLACE_ERRORS, label, exc)
    return exc


# --------------------------------------------------------------------------------------
# (e) reprs and widget state, (f) the session file
# --------------------------------------------------------------------------------------


def _connect(w: World, button: Any, customer: str, how: str) -> None:
    """Connect ``customer`` through ``button``: a click-through of its link, or its Connect SID pasted under it."""
    expected = w.connected(customer)
    if how == "button":
        pages = click_through(links_in([{"value": button.link.value}])[-1], customer)
        account = button.wait(timeout=TIMEOUT)
        for label, text in pages:
            w.scan.add(PLACE_REPRS, f"callback page {label}", text)
    else:
        button.paste.value = expected
        button.use_pasted.click()
        account = cn.session().get(expected)
    assert account is not None and account.sid == expected, f"{how}: {customer[-4:]} did not connect as {expected}"


def show_and_remember(w: World, connections: list[tuple[str, str]], revoke: str | None, boxed: str) -> Path:
    """Connect ``connections`` (customer, "button" or "paste"), maybe ``revoke`` one, then scan everything shown.

    ``boxed`` is pasted into the AccountSid box of a fresh button. Returns the remembered session file.
    """
    scan = w.scan
    button = cn.connect_button()
    try:
        for customer, how in connections:
            _connect(w, button, customer, how)
        revoked = set()
        if revoke is not None:
            # A signed deauthorize reaches the kernel's callback server; pasting the account again is refused.
            result = w.sb.deauthorize(revoke)
            problem = scan.mask(str(result.error))
            assert result.delivered, f"the deauthorize callback answered {result.status} ({problem})"
            revoked.add(w.connected(revoke))
            button.paste.value = w.connected(revoke)
            button.use_pasted.click()
        held = {a.sid for a in cn.session().accounts}
        assert held == {w.connected(c) for c, _ in connections} - revoked, "the session holds other accounts"

        still = next(sid for sid in w.creds.connected if sid not in revoked)
        with APIClient(cn.active_app(), still) as client:
            sent: list[str] = []
            client._http.event_hooks["request"].append(lambda r: sent.append(r.headers["Authorization"]))
            client.get_json(client.api("").rstrip("/") + ".json")
            scan.add(PLACE_CONTROL_HEADER, "Authorization header of a real request", sent[0])
            connection = w.kernel.connection
            assert connection is not None
            objects: list[tuple[str, object]] = [
                ("ConnectApp", cn.active_app()),
                ("APIClient", client),
                ("APIClient httpx.Client", client._http),
                ("APIClient auth", client._http.auth),
                ("APIClient headers", client._http.headers),
                ("Session", cn.session()),
                ("extension", connection),
                ("callback server", connection.server),
                ("accounts", cn.session().accounts),
                *((f"ConnectedAccount {a.sid[-4:]}", a) for a in cn.session().accounts),
            ]
            for label, obj in objects:
                scan.add(PLACE_REPRS, f"{label} repr", repr(obj))
                scan.add(PLACE_REPRS, f"{label} str", str(obj))
                if hasattr(obj, "_repr_html_"):
                    scan.add(PLACE_REPRS, f"{label} _repr_html_", obj._repr_html_())
        scan_widget(scan, PLACE_REPRS, "ConnectButton", button)
    finally:
        button.close()

    # The box is synced widget state: whatever is pasted there is saved with the notebook unless cleared.
    fresh = cn.connect_button()
    try:
        fresh.paste.value = boxed
        fresh.use_pasted.click()
        scan_widget(scan, PLACE_PASTE_BOX, "ConnectButton after pasting the token", fresh)
    finally:
        fresh.close()

    path = w.workdir / "remembered" / "session.json"
    cn.session().remember(path)
    scan.add(PLACE_SESSION, path.name, path.read_bytes())
    for other in sorted(p for p in path.parent.iterdir() if p != path):
        scan.add(PLACE_SESSION, f"also in the folder: {other.name}", other.read_bytes())
    reloaded = cn.Session(path)
    scan.add(PLACE_SESSION, "reloaded Session repr", repr(reloaded) + repr(reloaded.accounts))
    assert {a.sid for a in reloaded.accounts} == held, "the remembered session does not hold the connected accounts"
    return path


# --------------------------------------------------------------------------------------
# (info) credentials written into the API URL
# --------------------------------------------------------------------------------------


def userinfo_probe(w: World) -> None:
    """Informational: the owner's credentials written into CONNECT_NOTEBOOK_API_URL itself; where do they show?"""
    customer = w.creds.customers[1]
    parts = urlsplit(w.sb.api_url)
    url = f"{parts.scheme}://{w.creds.owner_sid}:{w.token}@{parts.netloc}"
    try:
        app = cn.ConnectApp.from_env({**os.environ, "CONNECT_NOTEBOOK_API_URL": url})
    except cn.ConfigError as exc:
        texts = exception_texts(exc)
    else:
        w.scan.add(PLACE_USERINFO, "ConnectApp repr", repr(app))
        with APIClient(app, w.connected(customer), retry=retry(1)) as client:
            missing = client.api("Calls/CA" + "0" * 32 + ".json", account_sid=customer)
            texts = exception_texts(raised(cn.NotFoundError, lambda: client.get_json(missing)))
    for what, text in texts:
        w.scan.add(PLACE_USERINFO, what, text)
