"""The Connect pages over real HTTP: authorize page, redirect back, revoke page, deauthorize callback.

The deauthorize callback is received by a small Tornado app of our own on a
loopback port, so what is checked is what actually went over the wire
(notes §1.3-§1.5, signature per §4). The ``AccountSid`` in the redirect and in
the callback names the app's Connect subaccount under the customer's main
account, not the main account itself (§8.1).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import tornado.web

from connect_notebook._serving import ServerThread
from connect_notebook._signature import compute_signature, is_valid_signature
from connect_notebook.sandbox import Profile, Sandbox

REDIRECT = "https://app.example.com/connect/authorized"
OTHER_TOKEN = "0123456789abcdef0123456789abcdef"
WAIT = 10.0  # seconds; only a guard against hangs
TINY = Profile(name="Solo", pattern="dense", days=1, calls=10)  # for sandboxes of one test


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A browser-like client that does not follow redirects, so the Location can be checked."""
    with httpx.Client(base_url=sandbox.url, follow_redirects=False) as client:
        yield client


class _Form(HTMLParser):
    """Collect the form's action and its inputs, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.action = dict(attrs).get("action")
        elif tag == "input":
            self.inputs.append(dict(attrs))


def parse_form(html: str) -> _Form:
    parser = _Form()
    parser.feed(html)
    parser.close()
    return parser


def api_status(http: httpx.Client, sandbox: Sandbox, customer: str) -> int:
    """The status a customer's Connect credentials get on its main account's call log right now.

    The credentials are the Connect subaccount's SID once one was made; before any
    authorization the app holds no SID for the customer, and the nearest thing it could
    try is the main account's own SID (which the owner's token never opens).
    """
    sid = sandbox.connected_sid(customer) or customer
    response = http.get(
        f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 1}, auth=(sid, sandbox.owner_auth_token)
    )
    if response.status_code == 401:
        assert response.json()["code"] == 20003
    return response.status_code


def redirect_target(response: httpx.Response) -> tuple[str, list[tuple[str, str]]]:
    """Split a 302's Location into the URL without its query and the query's pairs."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    parts = urlsplit(location)
    assert not parts.fragment
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qsl(parts.query, keep_blank_values=True)


def assert_html_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().lower().startswith("<!doctype html>")


@dataclass(frozen=True)
class Callback:
    """One request the deauthorize receiver got."""

    method: str
    url: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    content_type: str | None
    signature: str | None


class _RecordHandler(tornado.web.RequestHandler):
    def initialize(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def _record(self) -> None:
        request = self.request
        form = parse_qsl(request.body.decode(), keep_blank_values=True) if request.body else []
        self.receiver.record(
            Callback(
                method=request.method or "",
                url=request.full_url(),
                query=parse_qsl(request.query, keep_blank_values=True),
                form=form,
                content_type=request.headers.get("Content-Type"),
                signature=request.headers.get("X-Twilio-Signature"),
            )
        )
        self.set_status(self.receiver.status)
        self.finish()

    def get(self) -> None:
        self._record()

    def post(self) -> None:
        self._record()


class Receiver:
    """An app's deauthorize endpoint: records every request and answers ``status``."""

    def __init__(self) -> None:
        self.status = 204
        self.callbacks: list[Callback] = []
        self.received = threading.Event()
        self._lock = threading.Lock()
        # No access log: a callback answered 500 on purpose is not an error of the test run.
        app = tornado.web.Application([(r"/.*", _RecordHandler, {"receiver": self})], log_function=lambda handler: None)
        self.server = ServerThread(app, name="connect_notebook-test-deauth-receiver")

    def record(self, callback: Callback) -> None:
        with self._lock:
            self.callbacks.append(callback)
        self.received.set()

    def url(self, path: str = "/connect/deauthorized") -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    with r.server:
        yield r


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/connect/deauthorized"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback URL whose port accepts connections (the kernel's backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/connect/deauthorized"


# --- the authorize page ---------------------------------------------------------------------


def test_authorize_page_shows_app_details_permissions_and_every_customer(sandbox: Sandbox, http: httpx.Client) -> None:
    app = sandbox.connect_app

    response = http.get(sandbox.authorize_url)

    assert_html_page(response, 200)
    page = response.text
    for text in (app.friendly_name, app.company_name, app.homepage_url, app.description):
        assert text and text in page
    assert "Read all account data" in page
    assert "Charge" not in page  # only get-all is asked for
    form = parse_form(page)
    assert form.action == f"/authorize/{sandbox.connect_app_sid}"
    offered = [i["value"] for i in form.inputs if i.get("name") == "AccountSid" and i.get("type") == "radio"]
    assert offered == sandbox.customer_account_sids
    assert sandbox.owner_account_sid not in page
    assert sandbox.owner_auth_token not in page


def test_authorize_page_escapes_app_fields_and_lists_post_all(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.update_connect_app(
        friendly_name="Acme & Sons <Reports>",
        company_name='Acme "Data" Ltd',
        homepage_url="https://acme.example.com/?a=1&b=2",
        description="Reads <script>alert(1)</script> logs",
        permissions=("get-all", "post-all"),
    )

    response = http.get(sandbox.authorize_url)

    assert_html_page(response, 200)
    page = response.text
    assert "Acme &amp; Sons &lt;Reports&gt;" in page
    assert "Acme &quot;Data&quot; Ltd" in page
    assert "https://acme.example.com/?a=1&amp;b=2" in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in page and "<Reports>" not in page
    assert "Read all account data" in page
    assert "Charge" in page


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="without-state"),
        pytest.param("abc123", id="plain-state"),
        pytest.param("a b&c=d/é?#%+'\"<>", id="state-needing-escapes"),
    ],
)
def test_authorize_page_carries_state_into_its_form(sandbox: Sandbox, http: httpx.Client, state: str | None) -> None:
    params = {} if state is None else {"state": state}

    response = http.get(sandbox.authorize_url, params=params)

    assert_html_page(response, 200)
    states = [i.get("value") for i in parse_form(response.text).inputs if i.get("name") == "state"]
    assert states == ([] if state is None else [state])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_connect_app_is_a_404_page(sandbox: Sandbox, http: httpx.Client, method: str) -> None:
    unknown = "CN" + "0" * 32

    response = http.request(
        method,
        f"/authorize/{unknown}",
        data={"decision": "authorize", "AccountSid": sandbox.customer_account_sids[0]} if method == "POST" else None,
    )

    assert_html_page(response, 404)
    assert unknown in response.text
    assert api_status(http, sandbox, sandbox.customer_account_sids[0]) == 401


# --- deciding on the authorize page -----------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="without-state"),
        pytest.param("xyz-789", id="plain-state"),
        pytest.param("a b&AccountSid=AC1#frag%20+/?é=", id="state-needing-encoding"),
    ],
)
def test_authorizing_through_the_page_redirects_with_account_sid_and_grants_access(
    sandbox: Sandbox, http: httpx.Client, state: str | None
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    customer = sandbox.customer_account_sids[1]
    assert api_status(http, sandbox, customer) == 401
    # Submit the page's own form, as a browser would: its hidden fields plus the choice.
    page = http.get(sandbox.authorize_url, params={} if state is None else {"state": state})
    form = parse_form(page.text)
    fields = {i["name"]: i["value"] for i in form.inputs if i.get("type") == "hidden"}
    assert form.action is not None

    response = http.post(form.action, data={**fields, "AccountSid": customer, "decision": "authorize"})

    target, query = redirect_target(response)
    assert target == REDIRECT
    connected = sandbox.connected_sid(customer)
    # The app receives its Connect subaccount's SID, the last member of the customer's family.
    assert connected is not None and connected != customer
    assert sandbox.family(customer)[-1] == connected
    expected = [("AccountSid", connected)] + ([] if state is None else [("state", state)])
    assert sorted(query) == sorted(expected)
    assert api_status(http, sandbox, customer) == 200
    authorized = http.get(
        f"/2010-04-01/Accounts/{customer}/AuthorizedConnectApps.json", auth=(connected, sandbox.owner_auth_token)
    ).json()["authorized_connect_apps"]
    assert [(a["connect_app_sid"], a["permissions"]) for a in authorized] == [(sandbox.connect_app_sid, ["get-all"])]


@pytest.mark.parametrize(
    ("permissions", "post_status"),
    [
        pytest.param(("get-all",), 403, id="get-all-app"),
        pytest.param(("get-all", "post-all"), 201, id="post-all-app"),
    ],
)
def test_authorizing_grants_exactly_the_permissions_the_app_asks_for(
    sandbox: Sandbox, http: httpx.Client, permissions: tuple[str, ...], post_status: int
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT, permissions=permissions)
    customer = sandbox.customer_account_sids[0]

    decided = http.post(sandbox.authorize_url, data={"decision": "authorize", "AccountSid": customer})
    _, query = redirect_target(decided)
    connected = dict(query)["AccountSid"]
    placed = http.post(
        f"/2010-04-01/Accounts/{connected}/Calls.json",
        data={"To": "+14155550100", "From": "+14155550199", "Url": "https://example.com/t"},
        auth=(connected, sandbox.owner_auth_token),
    )

    assert placed.status_code == post_status


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="without-state"),
        pytest.param("s t&a=t#e", id="state-needing-encoding"),
    ],
)
def test_denying_redirects_with_unauthorized_client_and_grants_nothing(
    sandbox: Sandbox, http: httpx.Client, state: str | None
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    customer = sandbox.customer_account_sids[0]
    form = {"decision": "deny", "AccountSid": customer, **({} if state is None else {"state": state})}

    response = http.post(sandbox.authorize_url, data=form)

    target, query = redirect_target(response)
    assert target == REDIRECT
    expected = [("error", "unauthorized_client")] + ([] if state is None else [("state", state)])
    assert sorted(query) == sorted(expected)
    assert api_status(http, sandbox, customer) == 401


@pytest.mark.parametrize("decision", ["authorize", "deny"])
def test_app_without_authorize_url_gets_a_400_page(sandbox: Sandbox, http: httpx.Client, decision: str) -> None:
    assert sandbox.connect_app.authorize_redirect_url is None
    customer = sandbox.customer_account_sids[0]

    response = http.post(sandbox.authorize_url, data={"decision": decision, "AccountSid": customer})

    assert_html_page(response, 400)
    assert "location" not in response.headers
    assert api_status(http, sandbox, customer) == 401


@pytest.mark.parametrize(
    "account_sid",
    [
        pytest.param("{owner}", id="owner-account"),
        pytest.param("AC" + "0" * 32, id="unknown-account"),
        pytest.param("not-a-sid", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
    ],
)
def test_authorizing_a_non_customer_account_is_a_400_page(
    sandbox: Sandbox, http: httpx.Client, account_sid: str | None
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    form = {"decision": "authorize"}
    if account_sid is not None:
        form["AccountSid"] = account_sid.format(owner=sandbox.owner_account_sid)

    response = http.post(sandbox.authorize_url, data=form)

    assert_html_page(response, 400)
    assert "location" not in response.headers
    for customer in sandbox.customer_account_sids:
        assert api_status(http, sandbox, customer) == 401


def test_invalid_decision_is_a_400_page(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    customer = sandbox.customer_account_sids[0]

    response = http.post(sandbox.authorize_url, data={"decision": "maybe", "AccountSid": customer})

    assert_html_page(response, 400)
    assert api_status(http, sandbox, customer) == 401


def test_authorize_url_with_a_query_string_gets_the_parameters_appended_with_ampersand(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.update_connect_app(authorize_redirect_url="https://app.example.com/cb?flow=connect&v=2")
    customer = sandbox.customer_account_sids[0]

    response = http.post(sandbox.authorize_url, data={"decision": "authorize", "AccountSid": customer, "state": "s1"})

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://app.example.com/cb?flow=connect&v=2&")
    assert location.count("?") == 1
    assert parse_qsl(urlsplit(location).query) == [
        ("flow", "connect"),
        ("v", "2"),
        ("AccountSid", sandbox.connected_sid(customer)),
        ("state", "s1"),
    ]


def test_authorizing_again_through_the_page_redirects_with_the_same_connect_subaccount(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    customer = sandbox.customer_account_sids[2]
    form = {"decision": "authorize", "AccountSid": customer}

    first = dict(redirect_target(http.post(sandbox.authorize_url, data=form))[1])["AccountSid"]
    again = dict(redirect_target(http.post(sandbox.authorize_url, data=form))[1])["AccountSid"]
    sandbox.deauthorize(customer)
    after_revoking = dict(redirect_target(http.post(sandbox.authorize_url, data=form))[1])["AccountSid"]

    assert first == again == after_revoking == sandbox.connected_sid(customer)
    assert first not in sandbox.customer_account_sids
    assert api_status(http, sandbox, customer) == 200


# --- deauthorizing: the signed callback ---------------------------------------------------------


def _configure_callback(sandbox: Sandbox, how: str, url: str, method: str) -> None:
    if how == "python":
        sandbox.update_connect_app(deauthorize_callback_url=url, deauthorize_callback_method=method)
        return
    with httpx.Client(base_url=sandbox.api_url) as client:
        response = client.post(
            f"/2010-04-01/Accounts/{sandbox.owner_account_sid}/ConnectApps/{sandbox.connect_app_sid}.json",
            data={"DeauthorizeCallbackUrl": url, "DeauthorizeCallbackMethod": method},
            auth=(sandbox.owner_account_sid, sandbox.owner_auth_token),
        )
    assert response.status_code == 200, response.text


def _revoke(sandbox: Sandbox, http: httpx.Client, trigger: str, customer: str) -> int | None:
    """Revoke through the Python API or the revoke page; return the callback status seen."""
    if trigger == "api":
        result = sandbox.deauthorize(customer)
        assert result.account_sid == sandbox.connected_sid(customer)
        assert result.error is None
        return result.status
    page = http.post(sandbox.deauthorize_page_url, data={"AccountSid": customer})
    assert_html_page(page, 200)
    return None


@pytest.mark.parametrize("how", ["python", "rest"], ids=["set-by-update_connect_app", "set-by-rest-post"])
@pytest.mark.parametrize("trigger", ["api", "page"], ids=["sandbox-deauthorize", "revoke-page"])
@pytest.mark.parametrize("method", ["POST", "GET"], ids=["callback-post", "callback-get"])
def test_deauthorizing_sends_one_signed_callback_and_ends_access(
    sandbox: Sandbox, http: httpx.Client, receiver: Receiver, how: str, trigger: str, method: str
) -> None:
    url = receiver.url()
    _configure_callback(sandbox, how, url, method)
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer)
    assert api_status(http, sandbox, customer) == 200

    status = _revoke(sandbox, http, trigger, customer)

    assert receiver.received.wait(WAIT)
    assert len(receiver.callbacks) == 1
    cb = receiver.callbacks[0]
    # The callback names the SID the app was given: the Connect subaccount, not the main account.
    expected = {"AccountSid": connected, "ConnectAppSid": sandbox.connect_app_sid}
    assert cb.method == method
    assert cb.signature
    if method == "POST":
        assert cb.url == url
        assert cb.content_type is not None and cb.content_type.startswith("application/x-www-form-urlencoded")
        assert sorted(cb.form) == sorted(expected.items())
        signed = cb.form
    else:
        assert cb.url.startswith(url + "?")
        assert sorted(cb.query) == sorted(expected.items())
        assert cb.form == []
        signed = []
        # For GET only the URL, query included, is signed.
        assert compute_signature(cb.url, [], sandbox.owner_auth_token) == cb.signature
    assert is_valid_signature(cb.url, signed, cb.signature, sandbox.owner_auth_token)
    assert not is_valid_signature(cb.url, signed, cb.signature, OTHER_TOKEN)
    if trigger == "api":
        assert status == receiver.status
    assert api_status(http, sandbox, customer) == 401


def test_callback_carries_the_account_sid_the_authorize_redirect_carried(
    sandbox: Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT, deauthorize_callback_url=receiver.url())
    customer = sandbox.customer_account_sids[1]

    redirected = http.post(sandbox.authorize_url, data={"decision": "authorize", "AccountSid": customer})
    given = dict(redirect_target(redirected)[1])["AccountSid"]
    revoked = http.post(sandbox.deauthorize_page_url, data={"AccountSid": customer})

    assert_html_page(revoked, 200)
    assert receiver.received.wait(WAIT)
    [cb] = receiver.callbacks
    assert dict(cb.form)["AccountSid"] == given
    assert given != customer
    assert is_valid_signature(cb.url, cb.form, cb.signature or "", sandbox.owner_auth_token)


def test_get_callback_to_url_with_query_appends_parameters_and_signs_whole_url(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    url = receiver.url("/connect/deauthorized?tenant=acme&v=2")
    sandbox.update_connect_app(deauthorize_callback_url=url, deauthorize_callback_method="GET")
    customer = sandbox.customer_account_sids[2]
    connected = sandbox.authorize(customer)

    result = sandbox.deauthorize(customer)

    assert result.delivered
    assert receiver.received.wait(WAIT)
    [cb] = receiver.callbacks
    assert cb.url.startswith(url + "&")
    assert cb.query[:2] == [("tenant", "acme"), ("v", "2")]
    assert sorted(cb.query[2:]) == [("AccountSid", connected), ("ConnectAppSid", sandbox.connect_app_sid)]
    assert is_valid_signature(cb.url, [], cb.signature or "", sandbox.owner_auth_token)
    assert not is_valid_signature(url, [], cb.signature or "", sandbox.owner_auth_token)


def test_post_callback_signature_fails_when_a_parameter_is_tampered(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.update_connect_app(deauthorize_callback_url=receiver.url())
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    sandbox.deauthorize(customer)

    [cb] = receiver.callbacks
    tampered = [(k, sandbox.customer_account_sids[1] if k == "AccountSid" else v) for k, v in cb.form]
    main_instead = [(k, customer if k == "AccountSid" else v) for k, v in cb.form]
    assert is_valid_signature(cb.url, cb.form, cb.signature or "", sandbox.owner_auth_token)
    assert not is_valid_signature(cb.url, tampered, cb.signature or "", sandbox.owner_auth_token)
    assert not is_valid_signature(cb.url, main_instead, cb.signature or "", sandbox.owner_auth_token)


@pytest.mark.parametrize("status", [200, 204, 500, 404], ids=lambda s: f"callback-answers-{s}")
def test_deauthorize_result_reports_the_callbacks_status(sandbox: Sandbox, receiver: Receiver, status: int) -> None:
    receiver.status = status
    sandbox.update_connect_app(deauthorize_callback_url=receiver.url())
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    result = sandbox.deauthorize(customer)

    assert result.account_sid == sandbox.connected_sid(customer)
    assert result.callback_url == receiver.url()
    assert result.status == status
    assert result.error is None
    assert result.delivered is (200 <= status < 300)
    assert len(receiver.callbacks) == 1


def test_revoke_page_reports_the_callbacks_status(sandbox: Sandbox, http: httpx.Client, receiver: Receiver) -> None:
    receiver.status = 500
    sandbox.update_connect_app(deauthorize_callback_url=receiver.url())
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    response = http.post(sandbox.deauthorize_page_url, data={"AccountSid": customer})

    assert_html_page(response, 200)
    assert "500" in response.text
    assert len(receiver.callbacks) == 1
    assert api_status(http, sandbox, customer) == 401


def test_callback_nobody_listens_on_gives_a_result_with_an_error(
    sandbox: Sandbox, http: httpx.Client, refused_url: str
) -> None:
    sandbox.update_connect_app(deauthorize_callback_url=refused_url)
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    result = sandbox.deauthorize(customer, timeout=WAIT)

    assert result.account_sid == sandbox.connected_sid(customer)
    assert result.callback_url == refused_url
    assert result.status is None
    assert result.error
    assert not result.delivered
    assert api_status(http, sandbox, customer) == 401


def test_revoke_page_with_unreachable_callback_still_revokes(
    sandbox: Sandbox, http: httpx.Client, refused_url: str
) -> None:
    sandbox.update_connect_app(deauthorize_callback_url=refused_url)
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    response = http.post(sandbox.deauthorize_page_url, data={"AccountSid": customer})

    assert_html_page(response, 200)
    assert api_status(http, sandbox, customer) == 401


def test_callback_that_never_answers_gives_a_result_with_an_error_within_the_timeout(
    silent_url: str,
) -> None:
    # Its own sandbox, so the abandoned callback request ends when this sandbox stops.
    with Sandbox(seed=3, customers=[TINY], now="2026-11-01T12:00:00Z", deauthorize_callback_url=silent_url) as sb:
        customer = sb.customer_account_sids[0]
        connected = sb.authorize(customer)

        result = sb.deauthorize(customer, timeout=0.5)

        assert result.account_sid == connected
        assert result.callback_url == silent_url
        assert result.status is None
        assert result.error
        assert not result.delivered
        with httpx.Client(base_url=sb.api_url) as http:
            assert api_status(http, sb, customer) == 401


def test_deauthorize_on_a_stopped_sandbox_revokes_and_reports_that_nothing_was_sent(
    receiver: Receiver,
) -> None:
    sb = Sandbox(seed=3, customers=[TINY], now="2026-11-01T12:00:00Z", deauthorize_callback_url=receiver.url())
    customer = sb.customer_account_sids[0]
    sb.authorize(customer)

    result = sb.deauthorize(customer)

    assert result.callback_url == receiver.url()
    assert result.status is None
    assert result.error
    assert receiver.callbacks == []
    with pytest.raises(ValueError, match=customer):
        sb.deauthorize(customer)  # it is revoked: a second revocation has nothing to revoke


def test_deauthorize_without_callback_url_revokes_and_sends_nothing(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer)

    result = sandbox.deauthorize(customer)

    assert result.callback_url is None
    assert (result.status, result.error, result.delivered) == (None, None, False)
    assert api_status(http, sandbox, customer) == 401


def test_deauthorizing_a_customer_that_never_authorized_is_refused_and_sends_nothing(
    sandbox: Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    sandbox.update_connect_app(deauthorize_callback_url=receiver.url())
    customer = sandbox.customer_account_sids[0]

    with pytest.raises(ValueError, match=customer):
        sandbox.deauthorize(customer)
    page = http.post(sandbox.deauthorize_page_url, data={"AccountSid": customer})
    owner = http.post(sandbox.deauthorize_page_url, data={"AccountSid": sandbox.owner_account_sid})

    assert_html_page(page, 400)
    assert_html_page(owner, 400)
    assert receiver.callbacks == []


def test_revoke_page_lists_customers_with_a_revoke_form_only_for_authorized_ones(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    authorized, *others = sandbox.customer_account_sids
    sandbox.authorize(authorized)

    response = http.get(sandbox.deauthorize_page_url)

    assert_html_page(response, 200)
    for sid in sandbox.customer_account_sids:
        assert sid in response.text
    revocable = [i["value"] for i in parse_form(response.text).inputs if i.get("name") == "AccountSid"]
    assert revocable == [authorized]


# --- headers on every page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "form", "status"),
    [
        pytest.param("GET", "{authorize}", None, 200, id="authorize-page"),
        pytest.param("GET", "{authorize}?state=secret", None, 200, id="authorize-page-with-state"),
        pytest.param("GET", "/authorize/CN" + "0" * 32, None, 404, id="unknown-app-page"),
        pytest.param(
            "POST", "{authorize}", {"decision": "authorize", "AccountSid": "{customer}"}, 302, id="authorize-redirect"
        ),
        pytest.param(
            "POST", "{authorize}", {"decision": "authorize", "AccountSid": "ACnope"}, 400, id="authorize-error-page"
        ),
        pytest.param("GET", "/console/authorized-apps", None, 200, id="revoke-page"),
        pytest.param("POST", "/console/authorized-apps", {"AccountSid": "{customer}"}, 400, id="revoke-error-page"),
    ],
)
def test_pages_are_not_cached_and_send_no_referrer(
    sandbox: Sandbox, http: httpx.Client, method: str, path: str, form: dict[str, str] | None, status: int
) -> None:
    sandbox.update_connect_app(authorize_redirect_url=REDIRECT)
    names = {"authorize": f"/authorize/{sandbox.connect_app_sid}", "customer": sandbox.customer_account_sids[0]}
    data = None if form is None else {k: v.format(**names) for k, v in form.items()}

    response = http.request(method, path.format(**names), data=data)

    assert response.status_code == status
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
