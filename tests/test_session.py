"""`Session`: the accounts a kernel has connected, its listeners, and its 0600 file."""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import connect_notebook as cn
from connect_notebook import AuthorizationRevoked, ConnectApp
from connect_notebook._callback import CallbackServer
from connect_notebook._config import Settings
from connect_notebook._family import describe_customer
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook.sandbox import Sandbox

A = "AC" + "a" * 28 + "1111"
B = "AC" + "b" * 28 + "2222"
C = "AC" + "c" * 28 + "3333"
WHEN = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def account(sid: str, name: str = "Acme", **kwargs: object) -> ConnectedAccount:
    return ConnectedAccount(sid=sid, friendly_name=name, **kwargs)  # type: ignore[arg-type]


class Recorder:
    """A listener that remembers what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    def __call__(self, event: str, acct: ConnectedAccount | None) -> None:
        self.seen.append((event, acct.sid if acct else None))


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def recorder(session: Session) -> Recorder:
    recorder = Recorder()
    session.subscribe(recorder)
    return recorder


# -- in memory --


def test_new_session_has_no_accounts(session: Session) -> None:
    assert session.accounts == []
    assert session.current is None
    assert len(session) == 0
    assert A not in session


def test_add_stores_the_account_with_a_connected_at_time(session: Session, recorder: Recorder) -> None:
    stored = session.add(account(A, "Acme", permissions=("get-all", "post-all")))
    assert stored.connected_at is not None
    assert stored.connected_at.tzinfo is not None
    assert session.accounts == [stored]
    assert session.current == stored
    assert session.get(A) == stored
    assert stored.permissions == ("get-all", "post-all")
    assert A in session
    assert recorder.seen == [("connected", A)]


def test_add_keeps_a_given_connected_at(session: Session) -> None:
    assert session.add(account(A, connected_at=WHEN)).connected_at == WHEN


def test_reconnecting_is_idempotent_and_makes_the_account_current(session: Session) -> None:
    session.add(account(A, "Acme"))
    session.add(account(B, "Beta"))
    again = session.add(account(A, "Acme Renamed"))
    assert [a.sid for a in session.accounts] == [B, A]
    assert session.current == again
    assert session.get(A).friendly_name == "Acme Renamed"  # type: ignore[union-attr]
    assert len(session) == 2


def test_several_accounts_are_kept_in_the_order_they_connected(session: Session) -> None:
    for sid, name in ((A, "Acme"), (B, "Beta"), (C, "Gamma")):
        session.add(account(sid, name))
    assert [a.friendly_name for a in session.accounts] == ["Acme", "Beta", "Gamma"]
    assert session.current is not None
    assert session.current.sid == C
    assert session.get(B).friendly_name == "Beta"  # type: ignore[union-attr]


def test_lookup_of_an_unknown_sid_is_none(session: Session) -> None:
    session.add(account(A))
    assert session.get(B) is None
    assert B not in session
    assert 42 not in session


def test_revoke_keeps_the_account_marked_but_out_of_accounts(session: Session, recorder: Recorder) -> None:
    session.add(account(A, "Acme"))
    session.add(account(B, "Beta"))
    revoked = session.revoke(B)
    assert revoked is not None
    assert revoked.revoked
    assert session.get(B) == revoked
    assert B not in session
    assert [a.sid for a in session.accounts] == [A]
    assert session.current is not None
    assert session.current.sid == A
    assert recorder.seen == [("connected", A), ("connected", B), ("revoked", B)]


@pytest.mark.parametrize(
    "sid",
    [pytest.param(B, id="unknown"), pytest.param(A, id="already-revoked")],
)
def test_revoke_of_an_unknown_or_revoked_account_is_a_no_op(sid: str, session: Session) -> None:
    session.add(account(A))
    session.revoke(A)
    recorder = Recorder()
    session.subscribe(recorder)
    assert session.revoke(sid) is None
    assert recorder.seen == []


def test_reconnecting_a_revoked_account_makes_it_live_again(session: Session) -> None:
    session.add(account(A))
    session.revoke(A)
    session.add(account(A))
    assert A in session
    assert not session.get(A).revoked  # type: ignore[union-attr]


def test_remove_forgets_the_account(session: Session, recorder: Recorder) -> None:
    session.add(account(A))
    session.remove(A)
    assert session.get(A) is None
    assert session.accounts == []
    session.remove(A)  # a second time: nothing to tell
    assert recorder.seen == [("connected", A), ("removed", A)]


def test_declined_tells_listeners_without_an_account(session: Session, recorder: Recorder) -> None:
    session.declined()
    assert recorder.seen == [("declined", None)]
    assert session.accounts == []


def test_unsubscribed_listener_hears_nothing_more(session: Session) -> None:
    recorder = Recorder()
    unsubscribe = session.subscribe(recorder)
    session.add(account(A))
    unsubscribe()
    unsubscribe()  # idempotent
    session.add(account(B))
    assert recorder.seen == [("connected", A)]


def test_a_raising_listener_does_not_stop_the_others(session: Session, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: str, acct: ConnectedAccount | None) -> None:
        msg = "listener bug"
        raise RuntimeError(msg)

    first, last = Recorder(), Recorder()
    session.subscribe(first)
    session.subscribe(broken)
    session.subscribe(last)
    with caplog.at_level(logging.ERROR, logger="connect_notebook"):
        stored = session.add(account(A))
    assert session.get(A) == stored
    assert first.seen == [("connected", A)]
    assert last.seen == [("connected", A)]
    assert any("listener" in r.getMessage() and r.exc_info for r in caplog.records)


def test_repr_shows_labels_only(session: Session) -> None:
    session.add(account(A, "Acme"))
    assert repr(session) == "<Session ['Acme (AC…1111)']>"


def test_label_is_the_name_and_the_last_four_digits() -> None:
    assert account(B, "Beta").label == "Beta (AC…2222)"


def test_label_names_the_customers_main_account_not_the_sid_requests_use() -> None:
    # sid is the Connect subaccount (what requests authenticate as); customer_sid the main account.
    connected = account(B, "Beta", customer_sid=C)
    assert connected.label == "Beta (AC…3333)"
    assert "2222" not in connected.label


# -- on disk --


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "connect_notebook" / "accounts.json"


def test_remembered_session_file_is_readable_only_by_the_user(path: Path) -> None:
    session = Session(path=path)
    session.add(account(A))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    session.add(account(B))  # rewritten, still 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_remember_writes_the_file_now_with_mode_0600(session: Session, path: Path) -> None:
    session.add(account(A))
    session.remember(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert A in Session(path=path)


def test_remembered_session_file_stays_0600_under_a_permissive_umask(path: Path) -> None:
    old = os.umask(0)
    try:
        Session(path=path).add(account(A))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_session_file_never_contains_a_token(sandbox: Sandbox, path: Path) -> None:
    session = Session(path=path)
    connected = [sandbox.authorize(sid) for sid in sandbox.customer_account_sids]
    for main, sid in zip(sandbox.customer_account_sids, connected, strict=True):
        session.add(account(sid, f"Customer {main[-4:]}", permissions=("get-all",), customer_sid=main))
    session.revoke(connected[-1])
    text = path.read_text()
    assert connected[0] in text  # the file does hold the accounts
    assert sandbox.customer_account_sids[0] in text  # and the customers they belong to
    assert sandbox.owner_auth_token not in text
    assert "token" not in text.lower()
    assert not list(path.parent.glob(".*.tmp"))


def test_reloading_from_the_file_gives_the_same_accounts(path: Path) -> None:
    session = Session(path=path)
    session.add(account(A, "Acme", permissions=("get-all", "post-all"), connected_at=WHEN))
    session.add(account(B, "Beta"))
    session.add(account(C, "Gamma"))
    session.revoke(C)

    reloaded = Session(path=path)

    assert reloaded.accounts == session.accounts
    assert reloaded.current == session.current
    assert reloaded.get(C) == session.get(C)
    assert reloaded.get(C).revoked  # type: ignore[union-attr]
    assert reloaded.get(A).connected_at == WHEN  # type: ignore[union-attr]


def test_the_session_file_round_trips_the_customers_main_account(path: Path) -> None:
    session = Session(path=path)
    session.add(account(A, "Acme", customer_sid=C, connected_at=WHEN))
    session.add(account(B, "Beta"))  # a customer whose main account was not known

    saved = json.loads(path.read_text())["accounts"]
    assert [a["customer_sid"] for a in saved] == [C, None]

    reloaded = Session(path=path)
    assert reloaded.accounts == session.accounts
    assert reloaded.get(A).customer_sid == C  # type: ignore[union-attr]
    assert reloaded.get(A).label == "Acme (AC…3333)"  # type: ignore[union-attr]
    assert reloaded.get(B).customer_sid is None  # type: ignore[union-attr]


def test_a_session_file_written_before_customer_sid_existed_still_reads(path: Path) -> None:
    path.parent.mkdir(parents=True)
    old = {
        "accounts": [
            {
                "sid": A,
                "friendly_name": "Acme",
                "permissions": ["get-all"],
                "connected_at": WHEN.isoformat(),
                "revoked": False,
            },
            {"sid": B, "friendly_name": "Beta", "permissions": ["get-all"], "connected_at": None, "revoked": True},
        ]
    }
    path.write_text(json.dumps(old))

    session = Session(path=path)

    assert [a.sid for a in session.accounts] == [A]
    acme = session.get(A)
    assert acme is not None
    assert acme.customer_sid is None
    assert acme.label == "Acme (AC…1111)"  # unknown main account: the SID itself
    assert acme.connected_at == WHEN
    assert session.get(B).revoked  # type: ignore[union-attr]
    session.add(account(C, "Gamma", customer_sid=A))  # and it is rewritten in the new shape
    assert json.loads(path.read_text())["accounts"][-1]["customer_sid"] == A


def test_removing_an_account_removes_it_from_the_file(path: Path) -> None:
    session = Session(path=path)
    session.add(account(A))
    session.add(account(B))
    session.remove(A)
    assert [a.sid for a in Session(path=path).accounts] == [B]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b'{"accounts": [{"friendly_name": "no sid"}]}', id="no-sid"),
        pytest.param(b'{"accounts": 7}', id="wrong-shape"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_unreadable_session_file_is_ignored_with_a_warning(
    content: bytes, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="connect_notebook"):
        session = Session(path=path)
    assert session.accounts == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "connect_notebook"]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()


def test_session_file_without_read_permission_is_ignored_with_a_warning(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Session(path=path).add(account(A))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user that can read any file (root)")
        with caplog.at_level(logging.WARNING, logger="connect_notebook"):
            session = Session(path=path)
    finally:
        path.chmod(0o600)
    assert session.accounts == []
    assert any(str(path) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_default_session_file_is_under_the_user_config_folder(tmp_path: Path) -> None:
    owner, app_sid = "AC" + "1" * 24 + "abcdef12", "CN" + "2" * 24 + "34567890"
    app = ConnectApp(account_sid=owner, auth_token="t" * 32, connect_app_sid=app_sid)
    where = Settings.from_env({"XDG_CONFIG_HOME": str(tmp_path)}).session_file(app)
    assert where.parent == tmp_path / "connect_notebook"
    assert "abcdef12" in where.name
    assert "34567890" in where.name


# -- the customer behind a connected AccountSid (cn.customer) --


def test_customer_is_public_as_cn_customer() -> None:
    from connect_notebook._loaders import customer

    assert cn.customer is customer
    assert "customer" in cn.__all__


@pytest.mark.parametrize(
    "permissions",
    [
        pytest.param(("get-all",), id="get-all"),
        pytest.param(("get-all", "post-all"), id="get-all-and-post-all"),
        pytest.param(("post-all",), id="post-all"),
    ],
)
def test_customer_names_the_main_account_and_the_apps_permissions(
    sandbox: Sandbox, permissions: tuple[str, ...]
) -> None:
    main = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(main, permissions)
    found = cn.customer(connected, app=app_for_sandbox(sandbox))
    assert found == ConnectedAccount(
        sid=connected, friendly_name="Harbor Dental Group", permissions=permissions, customer_sid=main
    )
    assert found.label == f"Harbor Dental Group (AC…{main[-4:]})"
    assert connected[-4:] not in found.label


def test_customer_of_each_default_customer_names_its_own_main_account(sandbox: Sandbox) -> None:
    app = app_for_sandbox(sandbox)
    for main, name in zip(
        sandbox.customer_account_sids, ["Harbor Dental Group", "Northwind Logistics", "Kestrel Travel"], strict=True
    ):
        found = cn.customer(sandbox.authorize(main), app=app)
        assert (found.friendly_name, found.customer_sid) == (name, main)


@pytest.mark.parametrize(
    "which",
    [pytest.param("main", id="main-account-sid"), pytest.param("revoked", id="revoked-connect-subaccount")],
)
def test_customer_of_a_sid_the_owners_token_does_not_work_with_is_authorization_revoked(
    sandbox: Sandbox, which: str
) -> None:
    main = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(main)
    if which == "revoked":
        sandbox.deauthorize(main)
    sid = main if which == "main" else connected
    with pytest.raises(AuthorizationRevoked) as info:
        cn.customer(sid, app=app_for_sandbox(sandbox))
    assert sid in str(info.value)
    assert sandbox.owner_auth_token not in str(info.value)


# -- a customer revoking the app, end to end --


@pytest.fixture
def callback_server(sandbox: Sandbox, path: Path) -> Iterator[CallbackServer]:
    """The kernel's callback server, registered on the sandbox's app, with a remembered session."""
    server = CallbackServer(
        session=Session(path=path),
        verify=functools.partial(describe_customer, app_for_sandbox(sandbox)),
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
    ).start()
    try:
        sandbox.update_connect_app(
            authorize_redirect_url=server.authorize_callback_url,
            deauthorize_callback_url=server.deauthorize_callback_url,
        )
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "by", [pytest.param("main", id="by-main-account"), pytest.param("connected", id="by-connected")]
)
def test_a_customer_revoking_the_app_marks_its_connected_sid_revoked_in_the_session_and_its_file(
    sandbox: Sandbox, callback_server: CallbackServer, path: Path, by: str
) -> None:
    main, other = sandbox.customer_account_sids[0], sandbox.customer_account_sids[1]
    session = callback_server.session
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        for sid in (other, main):  # the customer picks its main account on the authorize page
            page = browser.post(
                sandbox.authorize_url,
                data={"decision": "authorize", "AccountSid": sid, "state": callback_server.tokens.issue()},
            )
            assert page.status_code == 200, page.text
    connected = sandbox.connected_sid(main)
    assert connected is not None
    assert connected in session
    assert session.get(main) is None

    result = sandbox.deauthorize(main if by == "main" else connected)

    assert result.delivered, result
    assert result.account_sid == connected  # the signed callback names the Connect subaccount
    revoked = session.get(connected)
    assert revoked is not None
    assert revoked.revoked
    assert revoked.customer_sid == main
    assert connected not in session
    assert [a.customer_sid for a in session.accounts] == [other]  # the other customer stays connected
    on_disk = Session(path=path).get(connected)
    assert on_disk is not None
    assert on_disk.revoked
    assert on_disk.customer_sid == main
