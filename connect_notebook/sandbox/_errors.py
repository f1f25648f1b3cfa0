"""`sandbox._errors`: API errors as Twilio sends them (``{code, message, more_info, status}``)."""

from __future__ import annotations

import tornado.web

__all__ = ["SandboxError", "bad_request", "not_found", "unauthorized"]


class SandboxError(tornado.web.HTTPError):
    """An HTTP error that the sandbox renders as Twilio's JSON error body."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, log_message=None)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        """Return the error body in the field order Twilio uses."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status_code,
        }


def unauthorized() -> SandboxError:
    """401 / 20003, what Twilio answers to any credentials it does not accept."""
    return SandboxError(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})


def not_found(path: str) -> SandboxError:
    """404 / 20404 for an unknown resource."""
    return SandboxError(404, 20404, f"The requested resource {path} was not found")


def bad_request(message: str) -> SandboxError:
    """400 / 20001 for a parameter the API cannot use."""
    return SandboxError(400, 20001, message)
