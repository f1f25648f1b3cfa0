"""`_config`: every environment variable connect_notebook reads, in one table.

Library code takes settings as arguments; only ``from_env``-style constructors
and the command line read the environment, and only the names listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_API_URL", "DEFAULT_AUTHORIZE_BASE_URL", "DEFAULT_MONITOR_URL", "ENV_VARS", "EnvVar"]

DEFAULT_API_URL = "https://api.twilio.com"
DEFAULT_MONITOR_URL = "https://monitor.twilio.com"
DEFAULT_AUTHORIZE_BASE_URL = "https://www.twilio.com"


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
        "CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL",
        DEFAULT_AUTHORIZE_BASE_URL,
        "Where the Connect authorize page lives (…/authorize/CN…).",
    ),
    EnvVar(
        "CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS",
        None,
        "Set by `connect-notebook lab`: the sandbox customer AccountSids already authorized, "
        "comma-separated.",
    ),
)
