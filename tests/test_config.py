"""``ConnectApp`` validation, ``from_env``, secret hygiene, and ``active_app()`` resolution."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import connect_notebook as cn
from connect_notebook import ConfigError, ConnectApp
from connect_notebook._config import (
    DEFAULT_API_URL,
    DEFAULT_AUTHORIZE_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MONITOR_URL,
    ENV_VARS,
    Hub,
    Settings,
)
from connect_notebook._kernel import Kernel

OWNER = "AC" + "1" * 32
APP_SID = "CN" + "2" * 32
TOKEN = "0123456789abcdef0123456789abcdef"  # 32 hex digits, like a real Auth Token
REQUIRED = {
    "CONNECT_NOTEBOOK_ACCOUNT_SID": OWNER,
    "CONNECT_NOTEBOOK_AUTH_TOKEN": TOKEN,
    "CONNECT_NOTEBOOK_CONNECT_APP_SID": APP_SID,
}


def make(**overrides: Any) -> ConnectApp:
    fields: dict[str, Any] = {"account_sid": OWNER, "auth_token": TOKEN, "connect_app_sid": APP_SID, **overrides}
    return ConnectApp(**fields)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """A kernel of the test's own, built from a fresh reading of the environment; closed afterwards."""
    with Kernel(Settings.from_env({"XDG_CONFIG_HOME": str(tmp_path)})) as k:
        yield k


def kernel_of(environ: dict[str, str]) -> Kernel:
    return Kernel(Settings.from_env(environ))


# --- construction and validation --------------------------------------------------


def test_connect_app_keeps_its_fields_and_defaults() -> None:
    app = make()
    assert app.account_sid == OWNER
    assert app.auth_token == TOKEN
    assert app.connect_app_sid == APP_SID
    assert app.api_url == DEFAULT_API_URL == "https://api.twilio.com"
    assert app.monitor_url == DEFAULT_MONITOR_URL == "https://monitor.twilio.com"
    assert app.authorize_base_url == DEFAULT_AUTHORIZE_BASE_URL == "https://www.twilio.com"
    assert app.cache_dir is None
    assert app.concurrency == DEFAULT_CONCURRENCY == 16


def test_connect_app_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ConnectApp(OWNER, TOKEN, APP_SID)  # type: ignore[misc]


def test_connect_app_is_frozen_and_compares_by_value() -> None:
    app = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        app.auth_token = "x"  # type: ignore[misc]
    assert app == make()
    assert app != make(api_url="http://127.0.0.1:1")


def test_urls_lose_their_trailing_slash_and_cache_dir_becomes_a_path(tmp_path: Path) -> None:
    app = make(api_url="http://127.0.0.1:8080/", monitor_url="http://127.0.0.1:8081//", cache_dir=str(tmp_path))
    assert app.api_url == "http://127.0.0.1:8080"
    assert app.monitor_url == "http://127.0.0.1:8081"
    assert app.cache_dir == tmp_path


BAD_SIDS = [
    pytest.param("account_sid", "AC123", id="account-too-short"),
    pytest.param("account_sid", APP_SID, id="account-given-a-connect-app-sid"),
    pytest.param("account_sid", "AC" + "x" * 32, id="account-not-hex"),
    pytest.param("account_sid", "", id="account-empty"),
    pytest.param("account_sid", None, id="account-none"),
    pytest.param("connect_app_sid", OWNER, id="connect-app-given-an-account-sid"),
    pytest.param("connect_app_sid", "CN" + "2" * 31, id="connect-app-too-short"),
    pytest.param("connect_app_sid", "CN" + "2" * 33, id="connect-app-too-long"),
]


@pytest.mark.parametrize(("field", "value"), BAD_SIDS)
def test_a_malformed_sid_is_a_config_error_naming_the_field_and_prefix(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        make(**{field: value})
    message = str(info.value)
    assert field in message
    assert ("'AC'" if field == "account_sid" else "'CN'") in message
    assert "32 hex digits" in message


@pytest.mark.parametrize(
    "field", [pytest.param("account_sid", id="account-sid"), pytest.param("connect_app_sid", id="connect-app-sid")]
)
@pytest.mark.parametrize(
    "pasted",
    [
        pytest.param(TOKEN, id="bare-token"),
        pytest.param(" " + TOKEN, id="token-with-a-space"),
        pytest.param("AC" + TOKEN + "0", id="token-behind-a-prefix"),
    ],
)
def test_a_token_pasted_into_a_sid_field_is_not_echoed_in_the_error(field: str, pasted: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(**{field: pasted})
    for text in (str(info.value), repr(info.value)):
        assert TOKEN not in text
        assert TOKEN[8:] not in text  # not even most of it
    assert field in str(info.value)


@pytest.mark.parametrize("token", [pytest.param("", id="empty"), pytest.param(None, id="none")])
def test_a_missing_auth_token_is_a_config_error(token: Any) -> None:
    with pytest.raises(ConfigError, match="auth_token"):
        make(auth_token=token)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        pytest.param("api_url", "api.twilio.com", id="api-no-scheme"),
        pytest.param("monitor_url", "ftp://monitor.twilio.com", id="monitor-ftp"),
        pytest.param("authorize_base_url", "https://", id="authorize-no-host"),
    ],
)
def test_a_url_that_is_not_absolute_http_is_a_config_error(field: str, url: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make(**{field: url})


@pytest.mark.parametrize("concurrency", [0, 65, -1, 2.5])
def test_concurrency_outside_1_to_64_is_a_config_error(concurrency: Any) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        make(concurrency=concurrency)


# --- secrets stay out of every rendering --------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(repr, id="repr"),
        pytest.param(str, id="str"),
        pytest.param(lambda a: f"{a}", id="format"),
        pytest.param(lambda a: a._repr_html_(), id="html"),
        pytest.param(lambda a: a.authorize_url, id="authorize-url"),
        pytest.param(lambda a: repr([a, {"app": a}]), id="repr-inside-containers"),
    ],
)
def test_the_auth_token_is_never_rendered(render: Any) -> None:
    app = make()
    text = render(app)
    assert TOKEN not in text
    assert OWNER in text or APP_SID in text  # the rendering does say which app it is


def test_the_html_repr_says_the_token_is_hidden() -> None:
    html = make()._repr_html_()
    assert "Auth Token" in html
    assert "hidden" in html
    assert OWNER in html
    assert APP_SID in html


def test_authorize_url_is_the_authorize_page_of_the_connect_app() -> None:
    assert make().authorize_url == f"https://www.twilio.com/authorize/{APP_SID}"
    assert make(authorize_base_url="http://127.0.0.1:9/").authorize_url == f"http://127.0.0.1:9/authorize/{APP_SID}"


# --- from_env -------------------------------------------------------------------


def test_from_env_reads_every_variable(tmp_path: Path) -> None:
    environ = {
        **REQUIRED,
        "CONNECT_NOTEBOOK_API_URL": "http://127.0.0.1:8001",
        "CONNECT_NOTEBOOK_MONITOR_URL": "http://127.0.0.1:8002",
        "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL": "http://127.0.0.1:8003",
        "CONNECT_NOTEBOOK_CACHE_DIR": str(tmp_path),
        "CONNECT_NOTEBOOK_CALL_RETENTION_DAYS": "365",
    }
    app = ConnectApp.from_env(environ)
    assert app == make(
        api_url="http://127.0.0.1:8001",
        monitor_url="http://127.0.0.1:8002",
        authorize_base_url="http://127.0.0.1:8003",
        cache_dir=tmp_path,
        call_retention_days=365,
    )
    assert app.auth_token == TOKEN


def test_from_env_expands_a_home_relative_cache_dir() -> None:
    app = ConnectApp.from_env({**REQUIRED, "CONNECT_NOTEBOOK_CACHE_DIR": "~/connect-cache"})
    assert app.cache_dir == Path.home() / "connect-cache"


def test_from_env_uses_the_defaults_for_unset_optional_variables() -> None:
    assert ConnectApp.from_env(REQUIRED) == make()


def test_from_env_treats_empty_optional_variables_as_unset() -> None:
    environ = {**REQUIRED, "CONNECT_NOTEBOOK_API_URL": "", "CONNECT_NOTEBOOK_CACHE_DIR": ""}
    assert ConnectApp.from_env(environ) == make()


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param(["CONNECT_NOTEBOOK_ACCOUNT_SID"], id="account-sid"),
        pytest.param(["CONNECT_NOTEBOOK_AUTH_TOKEN"], id="auth-token"),
        pytest.param(["CONNECT_NOTEBOOK_CONNECT_APP_SID"], id="connect-app-sid"),
        pytest.param(["CONNECT_NOTEBOOK_ACCOUNT_SID", "CONNECT_NOTEBOOK_CONNECT_APP_SID"], id="two"),
        pytest.param(list(REQUIRED), id="all"),
    ],
)
@pytest.mark.parametrize("how", [pytest.param("absent", id="absent"), pytest.param("empty", id="empty")])
def test_from_env_names_exactly_the_missing_variables(missing: list[str], how: str) -> None:
    environ = {name: value for name, value in REQUIRED.items() if name not in missing}
    if how == "empty":
        environ.update(dict.fromkeys(missing, ""))
    with pytest.raises(ConfigError) as info:
        ConnectApp.from_env(environ)
    message = str(info.value)
    for name in REQUIRED:
        assert (name in message) == (name in missing)
    assert TOKEN not in message


def test_from_env_validates_what_it_reads_without_echoing_the_token() -> None:
    environ = {**REQUIRED, "CONNECT_NOTEBOOK_ACCOUNT_SID": TOKEN}  # the token pasted in the wrong variable
    with pytest.raises(ConfigError) as info:
        ConnectApp.from_env(environ)
    assert TOKEN not in str(info.value)
    assert "account_sid" in str(info.value)


@pytest.mark.parametrize("value", ["13 months", "-5", "3.5", "0x10", "9" * 40])
def test_from_env_refuses_a_call_retention_that_is_not_a_number_of_days(value: str) -> None:
    with pytest.raises(ConfigError, match="CONNECT_NOTEBOOK_CALL_RETENTION_DAYS must be a whole number of days"):
        ConnectApp.from_env({**REQUIRED, "CONNECT_NOTEBOOK_CALL_RETENTION_DAYS": value})


def test_from_env_refuses_a_call_retention_under_a_week() -> None:
    with pytest.raises(ConfigError, match="call_retention_days must be a whole number of days from 7"):
        ConnectApp.from_env({**REQUIRED, "CONNECT_NOTEBOOK_CALL_RETENTION_DAYS": "3"})


def test_from_env_without_a_mapping_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONNECT_NOTEBOOK_API_URL", "http://127.0.0.1:8001")
    assert ConnectApp.from_env() == make(api_url="http://127.0.0.1:8001")


def test_every_variable_from_env_reads_is_in_env_vars_with_its_default() -> None:
    table = {v.name: v.default for v in ENV_VARS}
    assert all(name.startswith("CONNECT_NOTEBOOK_") for name in table)
    assert set(REQUIRED) <= set(table)
    assert table["CONNECT_NOTEBOOK_API_URL"] == DEFAULT_API_URL
    assert table["CONNECT_NOTEBOOK_MONITOR_URL"] == DEFAULT_MONITOR_URL
    assert table["CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL"] == DEFAULT_AUTHORIZE_BASE_URL
    assert "CONNECT_NOTEBOOK_CACHE_DIR" in table
    assert all(v.help for v in ENV_VARS)


# --- active_app ---------------------------------------------------------------------


def test_active_app_comes_from_the_environment_when_credentials_are_set() -> None:
    with kernel_of({**REQUIRED, "CONNECT_NOTEBOOK_API_URL": "http://127.0.0.1:8001"}) as kernel:
        assert kernel.active_app() == make(api_url="http://127.0.0.1:8001")
        assert kernel.started_sandbox is None


def test_the_public_active_app_reads_the_environment_of_the_current_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    assert cn.active_app() == make()  # conftest gives each test a fresh current kernel, built on first use


@pytest.mark.parametrize(
    "present",
    [
        pytest.param(["CONNECT_NOTEBOOK_ACCOUNT_SID"], id="only-account-sid"),
        pytest.param(["CONNECT_NOTEBOOK_AUTH_TOKEN"], id="only-auth-token"),
        pytest.param(["CONNECT_NOTEBOOK_ACCOUNT_SID", "CONNECT_NOTEBOOK_AUTH_TOKEN"], id="no-connect-app-sid"),
    ],
)
def test_half_set_credentials_are_a_config_error_not_a_silent_sandbox(present: list[str]) -> None:
    with kernel_of({name: REQUIRED[name] for name in present}) as kernel:
        with pytest.raises(ConfigError) as info:
            kernel.active_app()
        assert kernel.started_sandbox is None  # no sandbox was started as a fallback
    for name in REQUIRED:
        assert (name in str(info.value)) == (name not in present)
    assert TOKEN not in str(info.value)


def test_use_app_wins_over_the_environment_until_cleared() -> None:
    chosen = make(api_url="http://127.0.0.1:9999")
    with kernel_of(REQUIRED) as kernel:
        kernel.use_app(chosen)
        assert kernel.active_app() is chosen
        kernel.use_app(None)
        assert kernel.active_app() == make()


def test_two_kernels_keep_their_own_apps() -> None:
    with kernel_of(REQUIRED) as one, kernel_of({}) as other:
        one.use_app(make(api_url="http://127.0.0.1:9999"))
        assert other.settings.app() is None
        assert one.active_app() != make()


def test_active_app_without_credentials_is_the_embedded_sandbox_with_its_customers_authorized(kernel: Kernel) -> None:
    import httpx

    app = kernel.active_app()
    sandbox = kernel.started_sandbox
    assert sandbox is not None
    assert app.api_url == sandbox.api_url
    assert app.account_sid == sandbox.owner_account_sid
    assert app.connect_app_sid == sandbox.connect_app_sid
    assert kernel.active_app() == app  # started once, reused
    # Every customer is authorized: the app holds one Connect subaccount per customer, and reads
    # the customer's main account with it (twilio-api-notes.md §8.1).
    customers = sandbox.customer_account_sids
    connected = sandbox.connected_account_sids
    assert connected == [sandbox.connected_sid(c) for c in customers]
    assert not set(connected) & set(customers)
    assert kernel.default_customer() == connected[0]  # nothing connected in this kernel: the sandbox's first
    with httpx.Client(auth=(connected[0], app.auth_token)) as client:
        response = client.get(f"{app.api_url}/2010-04-01/Accounts/{customers[0]}.json")
    assert response.status_code == 200
    assert response.json()["sid"] == customers[0]
    with httpx.Client(auth=(customers[0], app.auth_token)) as client:
        refused = client.get(f"{app.api_url}/2010-04-01/Accounts/{customers[0]}.json")
    assert refused.status_code == 401  # a main account's SID with the owner's token is not an authorization


# --- Settings: the one reader of the environment -----------------------------------


def test_settings_read_every_variable_the_kernel_uses(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "CONNECT_NOTEBOOK_CALLBACK_PORT": "9123",
            "CONNECT_NOTEBOOK_PUBLIC_URL": "https://example.org/proxy/9123/",
            "CONNECT_NOTEBOOK_REGISTER_CALLBACK": "1",
            "CONNECT_NOTEBOOK_SANDBOX_NOW": "2026-11-01T12:00:00+00:00",
            "CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT": "first",
            "CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS": f"{OWNER},AC{'3' * 32}",
            "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
            "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/user/alice/",
            "XDG_CONFIG_HOME": str(tmp_path),
            "UNRELATED": "ignored",
        }
    )
    assert settings.callback_port == 9123
    assert settings.public_url == "https://example.org/proxy/9123"
    assert settings.register_callback is True
    assert settings.sandbox_now == "2026-11-01T12:00:00+00:00"
    assert settings.sandbox_autoconnect == "first"
    assert settings.sandbox_customers == (OWNER, "AC" + "3" * 32)
    assert settings.hub == Hub(service_prefix="/user/alice/", public_url="https://hub.example.org/user/alice/")
    assert settings.hub.proxied(9123) == "https://hub.example.org/user/alice/proxy/9123"
    assert settings.config_home == tmp_path
    assert "UNRELATED" not in settings.environ
    assert settings.app() == make()
    assert settings.session_file(make()).parent == tmp_path / "connect_notebook"
    assert TOKEN not in repr(settings)


def test_settings_without_variables_are_the_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.callback_port == 8791 == int(next(v.default for v in ENV_VARS if v.name.endswith("CALLBACK_PORT")))
    assert (settings.public_url, settings.hub, settings.app()) == (None, None, None)
    assert settings.register_callback is False
    assert settings.callback_public_url(8791) is None


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings.from_env({}).callback_port = 1  # type: ignore[misc]


@pytest.mark.parametrize("raw", ["http", "70000", "-1", "80 "])
def test_a_malformed_callback_port_is_a_config_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="CONNECT_NOTEBOOK_CALLBACK_PORT"):
        Settings.from_env({"CONNECT_NOTEBOOK_CALLBACK_PORT": raw})


def test_only_the_config_module_reads_the_environment() -> None:
    # The command line passes the environment on to the JupyterLab it starts; nothing else reads it.
    package = Path(__file__).resolve().parents[1] / "connect_notebook"
    readers = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if any(word in p.read_text() for word in ("os.environ", "os.getenv", "environ.get("))
    }
    assert readers <= {"_config.py", "_cli.py"}, readers
