"""One check of Twilio's JSON error body, shared by every test that expects an error from the sandbox."""

from __future__ import annotations

from typing import Any

import httpx

ERROR_KEYS = {"code", "message", "more_info", "status"}  # Twilio's body; "details" may come too


def assert_twilio_error(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """``response`` is Twilio's JSON error for ``status`` (and ``code``, when given); returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) - {"details"} == ERROR_KEYS, body
    assert body["status"] == status
    assert isinstance(body["code"], int)
    if code is not None:
        assert body["code"] == code, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    assert isinstance(body["message"], str) and body["message"]
    return body
