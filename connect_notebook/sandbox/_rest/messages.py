"""`sandbox._rest.messages`: ``/Accounts/{AC}/Messages.json`` and ``/Messages/{SM}.json``."""

from __future__ import annotations

from .._data import AccountData, Message
from .._errors import SandboxError, not_found
from .._formats import day_of
from .._query import day_page
from .._render import message_json, message_text
from .._sids import plain_sid
from .base import APIHandler
from .calls import day_filters

__all__ = ["MessageHandler", "MessagesHandler"]


def _message_texts(data: AccountData, ordinal: int) -> dict[str, bytes]:
    """A day's messages rendered once and cached."""
    sid = data.account.sid
    texts: dict[str, bytes] = data.cached(
        "message-texts",
        ordinal,
        lambda d: {m.sid: message_text(sid, m).encode() for m in data.messages_on(d)},
    )
    return texts


class MessagesHandler(APIHandler):
    """``/Accounts/{AC}/Messages.json``: the message log, newest first."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(("To", "From", "DateSent", "DateSent<", "DateSent>"))
        data = self.state.data(account_sid)
        on, on_or_before, on_or_after = day_filters(params, "DateSent")
        # Messages older than 400 days are no longer listed (they are in BulkExport).
        lo, hi = max(data.first_day, self.state.listed_from("messages")), data.last_day
        if on is not None:
            lo, hi = max(lo, on), min(hi, on)
        if on_or_before is not None:  # "on and before", unlike StartTime< for calls
            hi = min(hi, on_or_before)
        if on_or_after is not None:
            lo = max(lo, on_or_after)
        to, from_ = params.get("To"), params.get("From")

        def keep(m: Message) -> bool:
            return (to is None or m.to == to) and (from_ is None or m.from_ == from_)

        page = day_page(
            params, range(hi, lo - 1, -1), data.messages_on, keep, lambda m: m.sid, data.message_codec.decode
        )
        self.write_list("messages", params, page, render_bytes=lambda m: _message_texts(data, day_of(m.sent))[m.sid])

    def post(self, account_sid: str) -> None:
        """Send a message: acknowledged as queued; the synthetic history does not change."""
        form = self.form()
        if not form.get("To"):
            raise SandboxError(400, 21604, "A 'To' phone number is required")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            raise SandboxError(400, 21603, "A 'From' phone number is required")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            raise SandboxError(400, 21602, "Message body is required")
        now = self.state.now
        body = form.get("Body", "")
        sid = plain_sid("SM", self.state.seed, account_sid, "sent", form["To"], body, now)
        message = Message(
            sid,
            "outbound-api",
            "queued",
            form.get("From", ""),
            form["To"],
            body,
            max(1, -(-len(body) // 153)) if len(body) > 160 else 1,
            0,
            now,
            now,
            now,
            None,
            None,
            form.get("MessagingServiceSid"),
        )
        self.write_json(message_json(account_sid, message), 201)


class MessageHandler(APIHandler):
    """``/Accounts/{AC}/Messages/{SM}.json``: one message."""

    def get(self, account_sid: str, sid: str) -> None:
        message = self.state.data(account_sid).find_message(sid)
        if message is None:
            raise not_found(self.request.path)
        self.write_text(message_text(account_sid, message))
