"""Checking the sandbox's answers against Twilio's OpenAPI specs: httpx in, openapi-core's protocols out."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


class SpecRequest:
    """An httpx request as openapi-core sees it, addressed to the Twilio host it stands for.

    The specs declare ``servers`` on Twilio's hosts; the sandbox serves the same paths
    on 127.0.0.1, so the operation is looked up with the host swapped back.
    """

    def __init__(self, request: httpx.Request, host_url: str) -> None:
        self.host_url = host_url
        self.path = request.url.path
        self.method = request.method.lower()
        self.body: bytes | None = None
        self.content_type = "application/x-www-form-urlencoded"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class SpecResponse:
    """An httpx response as openapi-core sees it."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("Content-Type", "")
        self.headers = Headers(dict(response.headers))


def schema_errors(app: OpenAPI, response: httpx.Response, host_url: str) -> list[str]:
    """Every schema violation in ``response``, as ``path: message`` lines."""
    lines = []
    for error in app.iter_response_errors(SpecRequest(response.request, host_url), SpecResponse(response)):
        cause = error.__cause__
        details = getattr(cause, "schema_errors", None)
        if not details:
            lines.append(f"{type(error).__name__}: {cause or error}")
            continue
        lines.extend(f"{'/'.join(map(str, d.absolute_path))}: {d.message[:200]}" for d in details)
    return lines
