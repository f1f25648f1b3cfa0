"""`_config`: every environment variable connect_notebook reads, in one table, and the values built from them.

``Settings.from_env`` is the one reader of the environment (``CONNECT_NOTEBOOK_*``,
``JUPYTERHUB_*``, ``XDG_CONFIG_HOME``): a ``Kernel`` reads it once when it is built,
and the rest of the package takes what it needs from the frozen value, so a test
or a second kernel builds its own ``Settings`` instead of patching the environment.
``ConnectApp`` is the Connect App's credentials and URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from ._arguments import folder
from ._exceptions import ConfigError
from ._redact import shown

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CALL_RETENTION_DAYS",
    "DEFAULT_AUTHORIZE_BASE_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_LOOKBACK_DAYS",
    "DEFAULT_MONITOR_URL",
    "ENV_VARS",
    "CREDENTIALS",
    "DEFAULT_CALLBACK_PORT",
    "ConnectApp",
    "EnvVar",
    "Hub",
    "Settings",
    "check_sid",
]

DEFAULT_API_URL = "https://api.twilio.com"
DEFAULT_MONITOR_URL = "https://monitor.twilio.com"
DEFAULT_INSIGHTS_URL = "https://insights.twilio.com"
DEFAULT_BULKEXPORTS_URL = "https://bulkexports.twilio.com"
DEFAULT_AUTHORIZE_BASE_URL = "https://www.twilio.com"
DEFAULT_CONCURRENCY = 16  # requests in flight per load; halves on 429 (Twilio publishes no limit, §8.6)
DEFAULT_LOOKBACK_DAYS = 3
# The calls list serves "13 months" (twilio-api-notes.md §8.3; the exact figure is UNCONFIRMED): older calls
# are read from BulkExport. 395 days is 13 months of 30.4 days.
DEFAULT_CALL_RETENTION_DAYS = 395
MAX_CALL_RETENTION_DAYS = 20 * 366
DEFAULT_CALLBACK_PORT = 8791  # the Authorize URL registered on the Connect App names it
CREDENTIALS = ("CONNECT_NOTEBOOK_ACCOUNT_SID", "CONNECT_NOTEBOOK_AUTH_TOKEN", "CONNECT_NOTEBOOK_CONNECT_APP_SID")


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its name, default and meaning."""

    name: str
    default: str | None
    help: str


ENV_VARS = (
    EnvVar("CONNECT_NOTEBOOK_ACCOUNT_SID", None, "AccountSid (AC…) of the Connect App's owner."),
    EnvVar("CONNECT_NOTEBOOK_AUTH_TOKEN", None, "The owner's Auth Token. Never printed or stored."),
    EnvVar("CONNECT_NOTEBOOK_CONNECT_APP_SID", None, "SID (CN…) of the owner's Connect App."),
    EnvVar("CONNECT_NOTEBOOK_API_URL", DEFAULT_API_URL, "Base URL of the REST API (2010-04-01)."),
    EnvVar("CONNECT_NOTEBOOK_MONITOR_URL", DEFAULT_MONITOR_URL, "Base URL of the Monitor API (alerts)."),
    EnvVar(
        "CONNECT_NOTEBOOK_INSIGHTS_URL", DEFAULT_INSIGHTS_URL, "Base URL of the Voice Insights API (call summaries)."
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_BULKEXPORTS_URL",
        DEFAULT_BULKEXPORTS_URL,
        "Base URL of the BulkExport API (history past the list APIs' retention).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_CALL_RETENTION_DAYS",
        str(DEFAULT_CALL_RETENTION_DAYS),
        "Days back the calls list serves (Twilio's figure is unconfirmed); older calls come from BulkExport.",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL",
        DEFAULT_AUTHORIZE_BASE_URL,
        "Where the Connect authorize page lives (…/authorize/CN…).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_CALLBACK_PORT",
        str(DEFAULT_CALLBACK_PORT),
        "Port of the kernel's Connect callback server (the Authorize URL registered on the app names it).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_PUBLIC_URL",
        None,
        "Public base URL of the callback server when a proxy serves it (JupyterHub 5+ is detected by itself).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_REGISTER_CALLBACK",
        None,
        "1: set the Connect App's Authorize and Deauthorize URLs on %load_ext (`make lab` sets it).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_SANDBOX_NOW",
        None,
        "Pins the embedded sandbox's clock (ISO 8601), for reproducible notebooks.",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT",
        None,
        "Embedded sandbox only: the sandbox clicks the Connect button's link as this customer (1: the first), for CI.",
    ),
    EnvVar("CONNECT_NOTEBOOK_CACHE_DIR", None, "Folder for the parquet cache of completed days (off when unset)."),
    EnvVar(
        "CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS",
        None,
        "Set by `connect-notebook lab`: the AccountSids the sandbox's Connect App holds, comma-separated.",
    ),
)


def check_sid(value: object, prefix: str, what: str) -> str:
    """Return ``value`` if it is ``prefix`` + 32 hex digits, else raise ``ConfigError`` saying so."""
    if not isinstance(value, str) or re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value) is None:
        msg = (
            f"{what} must be {prefix!r} followed by 32 hex digits, got {shown(value)}; copy it from the Twilio Console"
        )
        raise ConfigError(msg)
    return value


def _check_url(value: object, name: str) -> str:
    if not isinstance(value, str):
        msg = f"{name} must be an absolute http(s) URL such as https://api.twilio.com, got {type(value).__name__}"
        raise ConfigError(msg)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"{name} must be an absolute http(s) URL such as https://api.twilio.com, got {shown(value)}"
        raise ConfigError(msg)
    if parts.username is not None or parts.password is not None:
        msg = f"{name} must not contain a user name or password; the Auth Token goes in CONNECT_NOTEBOOK_AUTH_TOKEN"
        raise ConfigError(msg)
    return value.rstrip("/")


def _check_folder(value: object, name: str) -> Path | None:
    """``_arguments.folder``'s check, its mistakes as ``ConfigError`` like every other setting's."""
    try:
        return folder(value, name, none_means="no cache")
    except (TypeError, ValueError) as exc:
        problem = str(exc)
    raise ConfigError(problem)  # outside the except: the first error is not chained


@dataclass(frozen=True, kw_only=True)
class ConnectApp:
    """A Twilio Connect App: the owner's AccountSid and Auth Token, and the app's ``CN…`` SID.

    Requests for a connected customer authenticate as (customer AccountSid, this
    Auth Token). The token is kept out of ``repr``, ``str`` and the HTML repr.

    Parameters
    ----------
    account_sid, auth_token
        The owner's credentials (the account that owns the Connect App).
    connect_app_sid
        The Connect App's SID, ``CN`` followed by 32 hex digits.
    api_url, monitor_url, authorize_base_url
        Where Twilio's REST API, Monitor API and authorize page live; the sandbox
        (or a proxy) changes them.
    insights_url, bulkexports_url
        Where the Voice Insights API (call summaries) and the BulkExport API (history
        past the list APIs' retention, one file per UTC day) live.
    cache_dir
        Folder for the parquet cache of completed days; None turns caching off.
    concurrency
        How many requests one load keeps in flight (16 by default; halved on 429, then regained).
    call_retention_days
        How many days back from today Twilio's calls list still serves (395, about
        13 months, by default; Twilio's exact figure is unconfirmed). ``load_calls``
        reads older days from BulkExport. Messages are listed for 400 days, a
        documented figure, so it has no setting.
    """

    account_sid: str
    auth_token: str = field(repr=False)
    connect_app_sid: str
    api_url: str = DEFAULT_API_URL
    monitor_url: str = DEFAULT_MONITOR_URL
    authorize_base_url: str = DEFAULT_AUTHORIZE_BASE_URL
    insights_url: str = DEFAULT_INSIGHTS_URL
    bulkexports_url: str = DEFAULT_BULKEXPORTS_URL
    cache_dir: Path | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    call_retention_days: int = DEFAULT_CALL_RETENTION_DAYS

    def __post_init__(self) -> None:
        check_sid(self.account_sid, "AC", "account_sid")
        check_sid(self.connect_app_sid, "CN", "connect_app_sid")
        if not isinstance(self.auth_token, str) or not self.auth_token:
            msg = "auth_token must be the owner's Auth Token (a non-empty string); copy it from the Twilio Console"
            raise ConfigError(msg)
        for name in ("api_url", "monitor_url", "authorize_base_url", "insights_url", "bulkexports_url"):
            object.__setattr__(self, name, _check_url(getattr(self, name), name))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", _check_folder(self.cache_dir, "cache_dir"))
        # bool is an int to Python, but concurrency=True is a mistake, not one request at a time.
        concurrency = self.concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 64:
            msg = f"concurrency must be a whole number from 1 to 64, got {shown(self.concurrency)}"
            raise ConfigError(msg)
        days = self.call_retention_days
        if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= MAX_CALL_RETENTION_DAYS:
            msg = (
                f"call_retention_days must be a whole number of days from 7 to {MAX_CALL_RETENTION_DAYS}, "
                f"got {shown(days)}"
            )
            raise ConfigError(msg)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConnectApp:
        """Build from ``CONNECT_NOTEBOOK_*`` variables (see docs/configuration.md).

        Raises ``ConfigError`` naming the missing variables when the credentials are not all set.
        """
        env = Settings.from_env().environ if environ is None else environ
        missing = [name for name in CREDENTIALS if not env.get(name)]
        if missing:
            msg = f"set {', '.join(missing)} to use a real Connect App (see docs/configuration.md)"
            raise ConfigError(msg)
        defaults = {v.name: v.default for v in ENV_VARS}

        def get(name: str) -> str:
            value = env.get(name) or defaults[name]
            assert value is not None
            return value

        cache = env.get("CONNECT_NOTEBOOK_CACHE_DIR")
        retention = get("CONNECT_NOTEBOOK_CALL_RETENTION_DAYS")
        if not retention.isdigit() or len(retention) > 5:
            msg = f"CONNECT_NOTEBOOK_CALL_RETENTION_DAYS must be a whole number of days, got {shown(retention)}"
            raise ConfigError(msg)
        return cls(
            account_sid=env["CONNECT_NOTEBOOK_ACCOUNT_SID"],
            auth_token=env["CONNECT_NOTEBOOK_AUTH_TOKEN"],
            connect_app_sid=env["CONNECT_NOTEBOOK_CONNECT_APP_SID"],
            api_url=get("CONNECT_NOTEBOOK_API_URL"),
            monitor_url=get("CONNECT_NOTEBOOK_MONITOR_URL"),
            authorize_base_url=get("CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL"),
            insights_url=get("CONNECT_NOTEBOOK_INSIGHTS_URL"),
            bulkexports_url=get("CONNECT_NOTEBOOK_BULKEXPORTS_URL"),
            cache_dir=Path(cache) if cache else None,
            call_retention_days=int(retention),
        )

    @property
    def authorize_url(self) -> str:
        """The page a customer opens to authorize this app (``…/authorize/CN…``)."""
        return f"{self.authorize_base_url}/authorize/{self.connect_app_sid}"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td><code>{escape(str(value))}</code></td></tr>"
            for name, value in (
                ("Owner AccountSid", self.account_sid),
                ("Auth Token", "•••• (hidden)"),
                ("Connect App", self.connect_app_sid),
                ("REST API", self.api_url),
            )
        )
        return f"<table><caption style='text-align:left'><b>ConnectApp</b></caption>{rows}</table>"


@dataclass(frozen=True, kw_only=True)
class Hub:
    """What JupyterHub tells a single-user server (and so its kernels) about where it is served.

    Read from JupyterHub's own ``Spawner.get_env`` (6.1.1): ``JUPYTERHUB_SERVICE_PREFIX`` is
    the server's path (``/user/<name>/``, or ``/user/<name>/<server>/`` for a named server);
    ``JUPYTERHUB_PUBLIC_URL`` (JupyterHub 5.0 and later) its public URL with that path,
    empty unless the hub's ``public_url`` or subdomains are configured.
    """

    service_prefix: str
    public_url: str = ""

    def proxied(self, port: int) -> str | None:
        """jupyter-server-proxy's public address of ``port`` on this server; None without a public URL."""
        if not self.public_url.startswith(("http://", "https://")):
            return None
        return f"{self.public_url.rstrip('/')}/proxy/{port}"

    def template(self, port: int) -> str:
        """What to set CONNECT_NOTEBOOK_PUBLIC_URL to when the hub did not say its address."""
        return f"https://<your hub's address>{self.service_prefix.rstrip('/')}/proxy/{port}"


def _port(raw: str | None) -> int:
    if not raw:
        return DEFAULT_CALLBACK_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        msg = f"CONNECT_NOTEBOOK_CALLBACK_PORT must be a port number from 0 to 65535, got {shown(raw)}"
        raise ConfigError(msg)
    return int(raw)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the kernel reads from its environment, read once.

    ``environ`` holds the ``CONNECT_NOTEBOOK_*`` variables as given (the app is
    built from them on demand, so half-set credentials are reported when an app
    is needed, not when the package is imported).
    """

    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    callback_port: int = DEFAULT_CALLBACK_PORT
    public_url: str | None = None
    register_callback: bool = False
    sandbox_now: str | None = None
    sandbox_autoconnect: str | None = None
    sandbox_customers: tuple[str, ...] = ()
    hub: Hub | None = None
    config_home: Path = field(default_factory=lambda: Path.home() / ".config")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the variables this package uses from ``environ`` (default: ``os.environ``)."""
        env = dict(os.environ if environ is None else environ)
        ours = {k: v for k, v in env.items() if k.startswith("CONNECT_NOTEBOOK_")}
        hub = None
        if env.get("JUPYTERHUB_SERVICE_PREFIX"):
            hub = Hub(
                service_prefix=env["JUPYTERHUB_SERVICE_PREFIX"],
                public_url=env.get("JUPYTERHUB_PUBLIC_URL", ""),
            )
        customers = ours.get("CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS", "")
        config_home = env.get("XDG_CONFIG_HOME")
        return cls(
            environ=ours,
            callback_port=_port(ours.get("CONNECT_NOTEBOOK_CALLBACK_PORT")),
            public_url=(ours.get("CONNECT_NOTEBOOK_PUBLIC_URL") or "").rstrip("/") or None,
            register_callback=ours.get("CONNECT_NOTEBOOK_REGISTER_CALLBACK") == "1",
            sandbox_now=ours.get("CONNECT_NOTEBOOK_SANDBOX_NOW") or None,
            sandbox_autoconnect=ours.get("CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT") or None,
            sandbox_customers=tuple(s for s in customers.split(",") if s),
            hub=hub,
            config_home=Path(config_home) if config_home else Path.home() / ".config",
        )

    @property
    def has_credentials(self) -> bool:
        """Whether any of the Connect App's credentials is set (then all must be)."""
        return any(self.environ.get(name) for name in CREDENTIALS)

    def app(self) -> ConnectApp | None:
        """The Connect App the variables describe; None when no credential is set.

        ``ConfigError`` naming the missing variables when only some are set: a
        mistake to report, not a reason to fall back to the sandbox.
        """
        if not self.has_credentials:
            return None
        return ConnectApp.from_env(self.environ)

    def session_file(self, app: ConnectApp) -> Path:
        """Where the session of ``app`` is remembered: the user's config folder, one file per Connect App."""
        name = f"accounts-{app.account_sid[-8:]}-{app.connect_app_sid[-8:]}.json"
        return self.config_home / "connect_notebook" / name

    def callback_public_url(self, port: int) -> str | None:
        """The public URL of the callback server on ``port`` when a proxy serves it (JupyterHub, Binder).

        ``CONNECT_NOTEBOOK_PUBLIC_URL`` wins; behind JupyterHub, jupyter-server-proxy's
        ``<JUPYTERHUB_PUBLIC_URL>proxy/<port>``; else None (loopback: the browser must run
        on this machine, or the customer pastes the AccountSid).
        """
        if self.public_url:
            return self.public_url
        return None if self.hub is None else self.hub.proxied(port)
