"""`sandbox._render`: compact records to the exact JSON shapes of Twilio's API.

Field names, order and formats follow the 2010-04-01 and Monitor v1 schemas in
Twilio's OpenAPI specs: RFC 2822 ``+0000`` dates and string numbers in 2010
resources, ISO 8601 dates and absolute URLs in v1.
"""

from __future__ import annotations

from typing import Any

from ._data import API_VERSION, MESSAGE_ERRORS, Account, Alert, Call, Message, iso8601, money, rfc2822

__all__ = ["account_json", "alert_json", "call_json", "message_json"]

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


def _formatted(number: str) -> str:
    if number.startswith("+1") and len(number) == 12:
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def account_json(account: Account, *, auth_token: str | None) -> dict[str, Any]:
    """Render an Account; ``auth_token`` is only shown to the account's own credentials."""
    base = f"/2010-04-01/Accounts/{account.sid}"
    return {
        "auth_token": auth_token,
        "date_created": rfc2822(account.created),
        "date_updated": rfc2822(account.created),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.sid,
        "sid": account.sid,
        "status": "active",
        "subresource_uris": {key: f"{base}/{name}.json" for key, name in _ACCOUNT_SUBRESOURCES},
        "type": "Full",
        "uri": f"{base}.json",
    }


def call_json(account_sid: str, c: Call) -> dict[str, Any]:
    """Render a Call in the field order of Twilio's call schema."""
    base = f"/2010-04-01/Accounts/{account_sid}/Calls/{c.sid}"
    return {
        "sid": c.sid,
        "date_created": rfc2822(c.created),
        "date_updated": rfc2822(c.updated),
        "parent_call_sid": c.parent_sid,
        "account_sid": account_sid,
        "to": c.to,
        "to_formatted": _formatted(c.to),
        "from": c.from_,
        "from_formatted": _formatted(c.from_),
        "phone_number_sid": c.phone_number_sid,
        "status": c.status,
        "start_time": rfc2822(c.start),
        "end_time": rfc2822(c.end) if c.end is not None else None,
        "duration": str(c.duration) if c.duration is not None else None,
        "price": money(c.price) if c.price is not None else None,
        "price_unit": "USD",
        "direction": c.direction,
        "answered_by": c.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": c.forwarded_from,
        "group_sid": None,
        "caller_name": c.caller_name,
        "queue_time": str(c.queue_time),
        "trunk_sid": None,
        "uri": f"{base}.json",
        "subresource_uris": {key: f"{base}/{name}.json" for key, name in _CALL_SUBRESOURCES},
    }




def message_json(account_sid: str, m: Message) -> dict[str, Any]:
    """Render a Message in the field order of Twilio's message schema."""
    base = f"/2010-04-01/Accounts/{account_sid}/Messages/{m.sid}"
    return {
        "body": m.body,
        "num_segments": str(m.num_segments),
        "direction": m.direction,
        "from": m.from_,
        "to": m.to,
        "date_updated": rfc2822(m.updated),
        "price": money(m.price) if m.price is not None else None,
        "error_message": MESSAGE_ERRORS.get(m.error_code) if m.error_code else None,
        "uri": f"{base}.json",
        "account_sid": account_sid,
        "num_media": str(m.num_media),
        "status": m.status,
        "messaging_service_sid": m.messaging_service_sid,
        "sid": m.sid,
        "date_sent": rfc2822(m.sent),
        "date_created": rfc2822(m.created),
        "error_code": m.error_code,
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
    }


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
