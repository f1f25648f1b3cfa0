"""The owner's Auth Token never shows: in notebooks, the report, logs, errors, reprs, widget state, the session file.

The token reaches connect_notebook only as a real one would, through the
``CONNECT_NOTEBOOK_*`` variables. Each in-process example gets a token of its own: a
sandbox seeded by the example (the token derives from the seed), its environment set,
a kernel built from it, every log record at DEBUG captured (``secrets_support.world``).
What counts as an occurrence is ``chaos.needles.Needles``: the token in any case, any
12-character slice, its hex, its base64 in any alignment (a ``Basic`` header for any
user). The first properties check that instrument itself; controls show it sees the
token where it is meant to be (the sandbox's banner, a request's ``Authorization``
header). The heavy places (a notebook in a real kernel, the report CLI, pytest's
output) are plain tests against one sandbox of this module's; the full profile runs
more of them. Informational rows (``%xmode Verbose``, credentials inside the API URL)
are recorded, not required to be 0. Audits at the end read what the properties counted.
"""

from __future__ import annotations

import base64
import io
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import connect_notebook as cn
from chaos.figures import FULL, Figures, Table, budget
from chaos.needles import Needles
from chaos.secrets_scenarios import (
    ERRORS,
    HEX,
    LOADERS,
    PASTES,
    load,
    paste,
    provoke,
    retry,
    scan_exception,
    show_and_remember,
    userinfo_probe,
)
from chaos.secrets_support import (
    NOTEBOOKS,
    PLACE_CONTROL_BANNER,
    PLACE_CONTROL_HEADER,
    PLACE_ERRORS,
    PLACE_FILES,
    PLACE_LOGS,
    PLACE_NOTEBOOKS,
    PLACE_OTHER_PASTE,
    PLACE_PASTE_BOX,
    PLACE_PYTEST,
    PLACE_REPORT,
    PLACE_REPRS,
    PLACE_SESSION,
    PLACE_SID_PASTE,
    PLACE_USERINFO,
    PLACE_VERBOSE,
    PYTEST_SUBSET,
    Credentials,
    Scan,
    World,
    child_env,
    connect_env,
    run_notebook,
    run_pytest,
    run_report_cli,
    scan_files,
    scan_notebook,
    widget_models,
    world,
)
from chaos.truth import family_truth, in_range
from connect_notebook.sandbox import Faults, Sandbox
from connect_notebook.sandbox._cli import describe

TITLE = "secrets"
FULL_PROFILE = settings.get_current_profile_name() == FULL
SEED = 31337  # the heavy places' sandbox: its token is 24fb…3b14
SEEDS = st.integers(0, 2**31 - 1)  # a sandbox's seed: its owner token derives from it
TOKENS = st.text(HEX, min_size=32, max_size=32)
_B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


_FORMS = ("whole", "mixed case", "slice", "hex", "base64", "urlsafe base64", "Basic header")


@st.composite
def _planted(draw: st.DrawFn, token: str, form: str) -> str:
    """The token in ``form``, one of the forms Needles promises to find, inside arbitrary text."""
    if form == "whole":
        text = token
    elif form == "mixed case":
        ups = draw(st.lists(st.booleans(), min_size=32, max_size=32), "upper-cased")
        text = "".join(c.upper() if up else c for c, up in zip(token, ups, strict=True))
    elif form == "slice":
        start = draw(st.integers(0, 32 - Needles.WINDOW), "slice start")
        text = token[start : draw(st.integers(start + Needles.WINDOW, 32), "slice end")]
    elif form == "hex":
        text = token.encode().hex()
        text = text.upper() if draw(st.booleans(), "upper-cased") else text
    elif form == "Basic header":
        user = draw(st.text(max_size=40), "user")
        text = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    else:
        encode = base64.b64encode if form == "base64" else base64.urlsafe_b64encode
        before, after = draw(st.binary(max_size=8), "bytes before"), draw(st.binary(max_size=8), "bytes after")
        text = encode(before + token.encode() + after).decode()
    return draw(st.text(max_size=40), "text before") + text + draw(st.text(max_size=40), "text after")


def _filler() -> st.SearchStrategy[str]:
    """Text with no character of the hex or base64 alphabets: it cannot complete a form of any token."""
    return st.text(st.characters(codec="utf-8").filter(lambda c: c not in _B64), max_size=20)


@st.composite
def _fragment(draw: st.DrawFn, forms: list[str]) -> str:
    """A piece of one of ``forms``, one character shorter than a window at most."""
    form = draw(st.sampled_from(forms))
    start = draw(st.integers(0, len(form) - 1))
    return form[start : start + draw(st.integers(1, Needles.WINDOW - 1))]


@st.composite
def _other_sid(draw: st.DrawFn, token: str) -> str:
    """Another account's SID, sharing no window with ``token``."""
    sid = "AC" + draw(TOKENS)
    runs = sid.lower()
    assume(all(runs[i : i + Needles.WINDOW] not in token for i in range(len(runs) - Needles.WINDOW + 1)))
    return sid


def _without(token: str) -> st.SearchStrategy[str]:
    """Text near the token but without it: fragments of its forms shorter than a window, its hints, other SIDs."""
    forms = [token, token.upper(), token.encode().hex(), base64.b64encode(token.encode()).decode()]
    hints = [f"{token[:4]}…{token[-4:]}", f"…{token[-4:]}", f"AC…{token[-4:]}", "••••"]
    pieces = st.one_of(_filler(), _fragment(forms), st.sampled_from(hints), _other_sid(token))
    return st.lists(pieces, max_size=12).map(" ".join)


def _pasted(token: str) -> st.SearchStrategy[str]:
    """The token as a person pastes it: as is, upper-cased, with whitespace or quotes around, with its label."""
    space = st.text(" \t\r\n", min_size=1, max_size=3)
    return st.one_of(
        st.just(token),
        st.just(token.upper()),
        st.builds(lambda a, b: a + token + b, space, space),
        st.sampled_from(("'", '"', "`")).map(lambda q: q + token + q),
        st.just(f"Auth Token        {token}"),
    )


# --------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------


def _record(figures: Figures, w: World) -> Table:
    """Add one example's scan and its log figures to the table; return the table."""
    table = figures.table(TITLE)
    w.scan.record(table)
    table.add("HTTP requests logged by httpx", sum("HTTP Request:" in line for line in w.logs.lines))
    table.add("retries logged", sum(" retrying " in line for line in w.logs.lines))
    return table


# --------------------------------------------------------------------------------------
# The instrument
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", _FORMS)
@settings(max_examples=budget(quick=10, full=300))
@given(token=TOKENS, data=st.data())
def test_needles_find_the_token_in_every_form_and_masking_removes_it(
    figures: Figures, form: str, token: str, data: st.DataObject
) -> None:
    # A 0 below means nothing unless the scanner sees the token in every form it promises.
    needles = Needles(token)
    text = data.draw(_planted(token, form), "text")

    assert needles.count(text) >= 1, f"the token planted as {form} was not found"
    masked = needles.mask(text)
    assert needles.count(masked) == 0, f"masking left a form of the token: {masked!r}"
    figures.table(TITLE).add(f"(instrument) token planted ({form}) and found")


@settings(max_examples=budget(quick=60, full=2_000))
@given(token=TOKENS, data=st.data())
def test_needles_find_nothing_in_text_without_the_token(figures: Figures, token: str, data: st.DataObject) -> None:
    # The other side of the instrument: the hints the package shows (…3b14, AC…3b14) and short fragments are not hits.
    text = data.draw(_without(token), "text")

    assert Needles(token).count(text) == 0
    figures.table(TITLE).add("(instrument) texts without the token, nothing found")


# --------------------------------------------------------------------------------------
# The in-process places: one sandbox, one token, one kernel per example
# --------------------------------------------------------------------------------------

# The fault each kind's loads meet, drawn per request and forced on the first ones; what exhausting them raises.
_FAULTS: dict[str, tuple[str, dict[str, object], type[cn.ConnectNotebookError]]] = {
    "429": ("rate_limit", {"status": 429, "retry_after": 0}, cn.RateLimitError),
    "5xx": ("server_error", {"status": 503}, cn.ServerError),
    "reset": ("reset", {"kind": "reset"}, cn.TransportError),
    "truncate": ("truncate", {"kind": "truncate"}, cn.TransportError),
}
_DAY = (datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize("kind", list(_FAULTS))
@settings(max_examples=budget(quick=2, full=25))
@given(
    seed=SEEDS,
    fault_seed=st.integers(0, 2**31 - 1),
    rate=st.floats(0.05, 0.5),
    forced=st.integers(1, 3),
    attempts=st.integers(2, 6),
    loader=st.sampled_from(LOADERS),
    data=st.data(),
)
def test_loads_under_faults_log_and_show_no_token(
    figures: Figures,
    kind: str,
    seed: int,
    fault_seed: int,
    rate: float,
    forced: int,
    attempts: int,
    loader: str,
    data: st.DataObject,
) -> None:
    field, forced_fault, expected = _FAULTS[kind]
    forced = min(forced, attempts - 1)  # forced on the first requests: each of them still succeeds on a retry
    with world(seed) as w:
        customer = data.draw(st.sampled_from(w.creds.customers), "customer")
        w.sb.faults = Faults(seed=fault_seed, retry_after=0, **{field: rate})  # type: ignore[arg-type]
        w.sb.fail_next(forced, **forced_fault)  # type: ignore[arg-type]
        required = [PLACE_LOGS]
        try:
            frame = load(loader, w.connected(customer), retry(attempts))
        except cn.ConnectNotebookError as exc:
            assert isinstance(exc, expected), f"{kind} faults ended in {type(exc).__name__}: {w.scan.mask(str(exc))}"
            scan_exception(w.scan, PLACE_ERRORS, f"{loader} after {kind} faults", exc)
            outcome = f"loads under faults that ended in {type(exc).__name__}"
        else:
            if loader == "calls":
                assert_frame_equal(frame, in_range(family_truth(w.sb, customer), *_DAY))
                outcome = "loads of calls under faults equal to the ground truth"
            else:
                outcome = f"loads under faults that finished ({loader})"
            shown = {"repr": repr(frame), "_repr_html_": frame._repr_html_(), "CSV": frame.write_csv()}
            for label, text in shown.items():
                w.scan.add(PLACE_REPRS, f"{loader} frame {label}", text)
            if loader in ("calls", "messages"):
                required.append(PLACE_FILES)  # their days were cached (usage and alerts are not)
        injected = w.sb.injected.get(field, 0)
    table = _record(figures, w)
    table.add(outcome)
    table.add(f"faults injected: {kind}", injected)
    assert injected >= forced, f"only {injected} of the {forced} forced {kind} faults reached the load"
    w.scan.assert_clean(*required)


@pytest.mark.parametrize("label", list(ERRORS))
@settings(max_examples=budget(quick=1, full=15))
@given(seed=SEEDS, data=st.data())
def test_errors_and_their_tracebacks_show_no_token(
    figures: Figures, label: str, seed: int, data: st.DataObject
) -> None:
    with world(seed) as w:
        exc = provoke(w, label, data.draw)
    table = _record(figures, w)
    table.add(f"errors raised: {label} ({type(exc).__name__})")
    w.scan.assert_clean(PLACE_ERRORS, PLACE_LOGS)


@pytest.mark.parametrize("label", list(PASTES))
@settings(max_examples=budget(quick=1, full=10))
@given(seed=SEEDS, data=st.data())
def test_a_token_pasted_into_a_setting_is_refused_without_echoing_it(
    figures: Figures, label: str, seed: int, data: st.DataObject
) -> None:
    # Like check_sid: a ConfigError may show the end of a bad value (…3b14), never the token.
    with world(seed) as w:
        paste(w, label, data.draw(_pasted(w.token), "pasted"))
    table = _record(figures, w)
    table.add(f"pastes refused: {label}")
    w.scan.assert_clean(PASTES[label][0])


@settings(max_examples=budget(quick=3, full=40))
@given(seed=SEEDS, data=st.data())
def test_reprs_widget_state_and_the_remembered_session_show_no_token(
    figures: Figures, seed: int, data: st.DataObject
) -> None:
    with world(seed) as w:
        customers = w.creds.customers
        chosen = data.draw(st.lists(st.sampled_from(customers), min_size=1, max_size=3, unique=True), "connected")
        # The first through the button, as in the quickstart; the others through it or by pasting their SID.
        hows = ["button"] + [data.draw(st.sampled_from(("button", "paste")), f"how {sid}") for sid in chosen[1:]]
        revoke = data.draw(st.none() | st.sampled_from(customers), "revoked")
        boxed = data.draw(_pasted(w.token), "pasted into the AccountSid box")
        path = show_and_remember(w, list(zip(chosen, hows, strict=True)), revoke, boxed)
        modes = stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(path.parent.stat().st_mode)
    table = _record(figures, w)
    table.add("accounts connected through the button", hows.count("button"))
    table.add("accounts connected by a pasted AccountSid", hows.count("paste"))
    table.add("accounts revoked by a signed deauthorize", int(revoke is not None))
    table.set("session file mode, folder mode", f"{modes[0]:04o}, {modes[1]:04o}")

    assert w.scan.row(PLACE_CONTROL_HEADER).occurrences == 1, "the scanner did not see the token in a Basic header"
    assert modes == (0o600, 0o700), f"the session file is {modes[0]:o} in a folder {modes[1]:o}"
    w.scan.assert_clean(PLACE_REPRS, PLACE_PASTE_BOX, PLACE_SESSION, PLACE_LOGS)


def test_credentials_inside_the_api_url_are_reported(figures: Figures) -> None:
    # Informational: a URL with a user and password is refused, but where does its text show? Recorded, not required 0.
    with world(SEED) as w:
        userinfo_probe(w)
    _record(figures, w)
    assert w.scan.row(PLACE_USERINFO).items > 0


# --------------------------------------------------------------------------------------
# The heavy places: a notebook in a kernel, the report CLI, pytest (child processes)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    """A sandbox of this module's own: its owner token is the recognisable 24fb…3b14."""
    with Sandbox(seed=SEED, calls_per_customer=2_000 if FULL_PROFILE else 300, now="2026-11-01T00:00:00+00:00") as sb:
        yield sb


@pytest.fixture(scope="module")
def creds(secret_sandbox: Sandbox) -> Credentials:
    """The owner's credentials, and the AccountSids the Connect App holds (every customer authorized)."""
    creds = Credentials.of(secret_sandbox)
    assert creds.connected == secret_sandbox.connected_account_sids
    return creds


@pytest.fixture
def heavy(figures: Figures, creds: Credentials) -> Iterator[Scan]:
    """A scan for one heavy place, recorded after the test."""
    scan = Scan(creds.needles())
    yield scan
    scan.record(figures.table(TITLE))


def test_the_sandbox_banner_shows_the_token(secret_sandbox: Sandbox, heavy: Scan) -> None:
    # The control: the sandbox prints its credentials, and the scanner must see them there.
    banner = io.StringIO()
    describe(secret_sandbox, banner)
    heavy.add(PLACE_CONTROL_BANNER, "its printed credentials", banner.getvalue())

    assert heavy.row(PLACE_CONTROL_BANNER).occurrences == 1


_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb")) if FULL_PROFILE else [NOTEBOOKS / "quickstart.ipynb"]


@pytest.mark.parametrize("path", _NOTEBOOKS, ids=[p.name for p in _NOTEBOOKS])
def test_an_executed_notebook_its_widget_state_and_files_show_no_token(
    path: Path, creds: Credentials, heavy: Scan, tmp_path: Path
) -> None:
    env = child_env(connect_env(creds, tmp_path))
    run = run_notebook(path, env, creds.customers[0], tmp_path)
    assert run.error is None, heavy.mask(run.error or "")
    scan_notebook(heavy, PLACE_NOTEBOOKS, run)
    for folder in ("cache", "config"):
        if (tmp_path / folder).exists():
            scan_files(heavy, PLACE_FILES, tmp_path / folder)

    if "connect_button(" in path.read_text():  # the report notebook has no widget
        assert widget_models(run.nb), "nbclient stored no widget state to scan"
        assert run.browser, "nobody clicked Connect"
    heavy.assert_clean(PLACE_NOTEBOOKS, PLACE_FILES)


def test_the_report_cli_html_and_output_show_no_token(creds: Credentials, heavy: Scan, tmp_path: Path) -> None:
    start = "2026-10-01" if FULL_PROFILE else "2026-10-25"
    out = tmp_path / "report.html"
    result = run_report_cli(connect_env(creds, tmp_path), out, start, "2026-11-01")
    assert result.returncode == 0, heavy.mask(result.stderr[-2000:])
    for label, text in (("stdout", result.stdout), ("stderr", result.stderr), ("HTML", out.read_text())):
        heavy.add(PLACE_REPORT, label, text)

    heavy.assert_clean(PLACE_REPORT)


@pytest.mark.skipif(not FULL_PROFILE, reason="runs pytest in a child process: the full profile only")
def test_the_output_of_a_pytest_run_shows_no_token(creds: Credentials, heavy: Scan, tmp_path: Path) -> None:
    # Weak, and kept because it is cheap: the suite's autouse fixture removes the variables inside tests,
    # so there the token reaches collection and the conftest only.
    result = run_pytest(connect_env(creds, tmp_path), PYTEST_SUBSET)
    assert result.returncode == 0, heavy.mask(result.stdout[-2000:])
    heavy.add(PLACE_PYTEST, "stdout", result.stdout)
    heavy.add(PLACE_PYTEST, "stderr", result.stderr)

    heavy.assert_clean(PLACE_PYTEST)


# --------------------------------------------------------------------------------------
# Audits: what the properties above counted
# --------------------------------------------------------------------------------------

Recorded = Callable[[str, str], Table]


def test_every_fault_kind_reached_the_loads_and_the_logs_saw_them(recorded: Recorded) -> None:
    table = recorded(TITLE, "test_loads_under_faults_log_and_show_no_token")

    assert {kind: table.get(f"faults injected: {kind}") > 0 for kind in _FAULTS} == dict.fromkeys(_FAULTS, True)
    assert table.get("HTTP requests logged by httpx") > 0, "the DEBUG logs scanned hold no request line"
    assert table.get("retries logged") > 0, "the DEBUG logs scanned hold no retry"
    assert table.get(f"{PLACE_LOGS}: items scanned") > 0


def test_every_error_was_raised_and_scanned(recorded: Recorded) -> None:
    table = recorded(TITLE, "test_errors_and_their_tracebacks_show_no_token")

    raised = {label for label in ERRORS if any(row.startswith(f"errors raised: {label} (") for row in table.rows)}
    assert raised == set(ERRORS)
    assert table.get(f"{PLACE_ERRORS}: items scanned") > 0
    assert table.get(f"{PLACE_VERBOSE}: items scanned") > 0


def test_every_paste_was_refused(recorded: Recorded) -> None:
    table = recorded(TITLE, "test_a_token_pasted_into_a_setting_is_refused_without_echoing_it")

    assert [label for label in PASTES if not table.get(f"pastes refused: {label}")] == []
    assert table.get(f"{PLACE_SID_PASTE}: items scanned") > 0
    assert table.get(f"{PLACE_OTHER_PASTE}: items scanned") > 0


def test_the_scanner_saw_the_token_in_every_request_header(recorded: Recorded) -> None:
    # The control of the reprs property: one Authorization header per example, each holding the token.
    table = recorded(TITLE, "test_reprs_widget_state_and_the_remembered_session_show_no_token")

    items = table.get(f"{PLACE_CONTROL_HEADER}: items scanned")
    assert items > 0
    assert table.get(f"{PLACE_CONTROL_HEADER}: occurrences") == items
    assert table.get("accounts connected through the button") > 0
