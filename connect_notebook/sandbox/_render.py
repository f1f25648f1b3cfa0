"""`sandbox._render`: compact records to the exact JSON shapes of Twilio's API.

Field names, order and formats follow the 2010-04-01 and Monitor v1 schemas in
Twilio's OpenAPI specs: RFC 2822 ``+0000`` dates and string numbers in 2010
resources, ISO 8601 dates and absolute URLs in v1.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._data import MESSAGE_ERRORS, Alert, Call, Message
from ._families import Account
from ._formats import API_VERSION, formatted_number, iso8601, money, rfc2822

__all__ = ["account_json", "alert_json", "call_json", "call_text", "message_json", "message_text"]

_CALL_SUBRESOURCES = (
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("payments", "Payments"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
)
_ACCOUNT_SUBRESOURCES = (
    ("available_phone_numbers", "AvailablePhoneNumbers"),
    ("calls", "Calls"),
    ("conferences", "Conferences"),
    ("incoming_phone_numbers", "IncomingPhoneNumbers"),
    ("notifications", "Notifications"),
    ("outgoing_caller_ids", "OutgoingCallerIds"),
    ("recordings", "Recordings"),
    ("transcriptions", "Transcriptions"),
    ("addresses", "Addresses"),
    ("signing_keys", "SigningKeys"),
    ("connect_apps", "ConnectApps"),
    ("sip", "SIP"),
    ("authorized_connect_apps", "AuthorizedConnectApps"),
    ("usage", "Usage"),
    ("keys", "Keys"),
    ("applications", "Applications"),
    ("short_codes", "SMS/ShortCodes"),
    ("queues", "Queues"),
    ("messages", "Messages"),
    ("balance", "Balance"),
)


def account_json(account: Account, *, auth_token: str | None) -> dict[str, Any]:
    """Render an Account; ``auth_token`` is only shown to the account's own credentials."""
    base = f"/2010-04-01/Accounts/{account.sid}"
    return {
        "auth_token": auth_token,
        "date_created": rfc2822(account.created),
        "date_updated": rfc2822(account.closed if account.closed is not None else account.created),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.parent_sid,
        "sid": account.sid,
        "status": account.status,
        "subresource_uris": {key: f"{base}/{name}.json" for key, name in _ACCOUNT_SUBRESOURCES},
        "type": "Full",
        "uri": f"{base}.json",
    }


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f-\U0010ffff]')
_CALL_SUBRESOURCE_PIECES = [f'"{key}":"' for key, _ in _CALL_SUBRESOURCES]


def _q(value: str | None) -> str:
    """A JSON string literal, or ``null``; plain ASCII skips the (slower) escaper."""
    if value is None:
        return "null"
    if _NEEDS_ESCAPE.search(value):
        return json.dumps(value)
    return f'"{value}"'


def _call_subresources(base: str) -> str:
    return ",".join(
        f'{piece}{base}/{name}.json"'
        for piece, (_, name) in zip(_CALL_SUBRESOURCE_PIECES, _CALL_SUBRESOURCES, strict=True)
    )


def call_text(account_sid: str, c: Call) -> str:
    """Render a Call as JSON text, in the field order of Twilio's call schema.

    Written out as text rather than built as a dict and dumped: pages of 1,000
    calls are the sandbox's hot path. ``call_json`` parses this same text, so the
    ground truth cannot drift from what the API sends.
    """
    base = f"/2010-04-01/Accounts/{account_sid}/Calls/{c.sid}"
    subresources = _call_subresources(base)
    return (
        f'{{"sid":"{c.sid}","date_created":"{rfc2822(c.created)}","date_updated":"{rfc2822(c.updated)}",'
        f'"parent_call_sid":{_q(c.parent_sid)},"account_sid":"{account_sid}",'
        f'"to":{_q(c.to)},"to_formatted":{_q(formatted_number(c.to))},'
        f'"from":{_q(c.from_)},"from_formatted":{_q(formatted_number(c.from_))},'
        f'"phone_number_sid":{_q(c.phone_number_sid)},"status":"{c.status}",'
        f'"start_time":"{rfc2822(c.start)}",'
        f'"end_time":{_q(rfc2822(c.end)) if c.end is not None else "null"},'
        f'"duration":{_q(str(c.duration)) if c.duration is not None else "null"},'
        f'"price":{_q(money(c.price)) if c.price is not None else "null"},"price_unit":"USD",'
        f'"direction":"{c.direction}","answered_by":{_q(c.answered_by)},"api_version":"{API_VERSION}",'
        f'"forwarded_from":{_q(c.forwarded_from)},"group_sid":null,"caller_name":{_q(c.caller_name)},'
        f'"queue_time":"{c.queue_time}","trunk_sid":null,"uri":"{base}.json",'
        f'"subresource_uris":{{{subresources}}}}}'
    )


def call_json(account_sid: str, c: Call) -> dict[str, Any]:
    """Render a Call as the dict a client gets after parsing the API's JSON."""
    return json.loads(call_text(account_sid, c))  # type: ignore[no-any-return]


def message_text(account_sid: str, m: Message) -> str:
    """Render a Message as JSON text, in the field order of Twilio's message schema."""
    base = f"/2010-04-01/Accounts/{account_sid}/Messages/{m.sid}"
    error = MESSAGE_ERRORS.get(m.error_code) if m.error_code else None
    return (
        f'{{"body":{_q(m.body)},"num_segments":"{m.num_segments}","direction":"{m.direction}",'
        f'"from":{_q(m.from_)},"to":{_q(m.to)},"date_updated":"{rfc2822(m.updated)}",'
        f'"price":{_q(money(m.price)) if m.price is not None else "null"},"error_message":{_q(error)},'
        f'"uri":"{base}.json","account_sid":"{account_sid}","num_media":"{m.num_media}",'
        f'"status":"{m.status}","messaging_service_sid":{_q(m.messaging_service_sid)},"sid":"{m.sid}",'
        f'"date_sent":"{rfc2822(m.sent)}","date_created":"{rfc2822(m.created)}",'
        f'"error_code":{"null" if m.error_code is None else m.error_code},"price_unit":"USD",'
        f'"api_version":"{API_VERSION}",'
        f'"subresource_uris":{{"media":"{base}/Media.json","feedback":"{base}/Feedback.json"}}}}'
    )


def message_json(account_sid: str, m: Message) -> dict[str, Any]:
    """Render a Message as the dict a client gets after parsing the API's JSON."""
    return json.loads(message_text(account_sid, m))  # type: ignore[no-any-return]


def alert_json(account_sid: str, a: Alert, monitor_url: str) -> dict[str, Any]:
    """Render a Monitor v1 Alert, with its absolute ``url``."""
    return {
        "account_sid": account_sid,
        "alert_text": a.alert_text,
        "api_version": API_VERSION,
        "date_created": iso8601(a.created),
        "date_generated": iso8601(a.created),
        "date_updated": iso8601(a.created),
        "error_code": a.error_code,
        "log_level": a.log_level,
        "more_info": f"https://www.twilio.com/docs/errors/{a.error_code}",
        "request_method": a.request_method,
        "request_url": a.request_url,
        "resource_sid": a.resource_sid,
        "sid": a.sid,
        "url": f"{monitor_url}/v1/Alerts/{a.sid}",
        "service_sid": None,
    }
