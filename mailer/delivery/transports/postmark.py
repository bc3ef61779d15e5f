"""Postmark email/batch: up to 500 messages, a 200 whose array says what became of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _batch, _http, _splice
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


DEFAULT_URL = "https://api.postmarkapp.com"
MAX_BATCH = 500
MAX_BYTES = 45 * 1024 * 1024  # Postmark takes 50 MB a batch call; JSON escaping adds a little
# Postmark ErrorCode -> (status, retryable). 0 is success; anything unlisted is "failed".
ERROR_CODES: dict[int, tuple[str, bool]] = {
    300: ("invalid", False),  # invalid email request (bad address)
    406: ("rejected", False),  # inactive recipient: bounced, complained or unsubscribed
    429: ("failed", True),  # rate limit exceeded
}


class PostmarkTransport:
    """One call per batch; each message carries its own headers and Message-ID."""

    name = "postmark"
    max_batch = MAX_BATCH
    per_message = False  # a batch goes in one send() call
    personalises = True  # takes the batch form: fills each reader's values into JSON (_splice)
    sends_mime = False  # text and HTML go as JSON fields: no MIME body is needed
    idempotent = False
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(
        self, token: str, base_url: str, stream: str, http: requests.Session, timeout: float
    ) -> None:
        self.url = f"{base_url}/email/batch"
        self.headers = {
            "X-Postmark-Server-Token": token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self.stream = stream
        self.http = http
        self.timeout = timeout

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        entries = [_splice.encoded_entry(self.one, m) for m in messages]
        sizes = [sum(map(len, e)) + 2 for e in entries]
        groups = _batch.by_size(sizes, MAX_BATCH, MAX_BYTES)
        by_message = {id(m): entry for m, entry in zip(messages, entries, strict=True)}

        def call(batch: Sequence[Message]) -> list[SendResult]:
            return self._call(batch, [by_message[id(m)] for m in batch])

        return _http.send_in_calls(messages, groups, call, self.idempotent)

    def _call(self, batch: Sequence[Message], entries: list[list[bytes]]) -> list[SendResult]:
        body = _splice.json_array(entries)
        response = _http.post(
            self.http, self.name, self.url, data=body, headers=self.headers, timeout=self.timeout
        )
        _http.raise_for_call(self.name, response)
        answer = _http.json_body(response)
        if response.status_code != 200 or not isinstance(answer, list) or len(answer) != len(batch):
            return _http.all_failed(
                batch,
                f"postmark refused (HTTP {response.status_code}): {_http.body_text(response)}",
            )
        return [classify(m, item) for m, item in zip(batch, answer, strict=True)]

    def one(self, message: Message) -> dict:
        """A complete message as Postmark's JSON (a batch-form one goes through _splice)."""
        headers = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        if message.message_id:
            headers.append({"Name": "Message-ID", "Value": message.message_id})
        item: dict = {
            "From": message.sender,
            "To": message.recipient,
            "Subject": message.subject,
            "TextBody": message.text,
            "Headers": headers,
            "MessageStream": self.stream,
        }
        if message.html is not None:
            item["HtmlBody"] = message.html
        if message.reply_to:
            item["ReplyTo"] = message.reply_to
        if message.metadata:
            item["Metadata"] = dict(message.metadata)
        return item

    def close(self) -> None:
        return None


def classify(message: Message, item: object) -> SendResult:
    """One element of the batch answer: ErrorCode 0 is accepted, the rest by the table."""
    if not isinstance(item, dict):
        return SendResult(message.recipient, "failed", error=f"postmark answered {item!r}")
    code = item.get("ErrorCode")
    if code == 0:
        return SendResult(message.recipient, "queued", provider_id=str(item.get("MessageID", "")))
    status, retryable = ERROR_CODES.get(code, ("failed", False))  # type: ignore[arg-type]
    error = f"postmark ErrorCode {code}: {item.get('Message', '')}"
    return SendResult(message.recipient, status, retryable=retryable, error=error)  # type: ignore[arg-type]


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> PostmarkTransport:
    """postmark://TOKEN@default?stream=broadcast."""
    if not dsn.user:
        raise ValueError("postmark:// needs the server token as the user part")
    return PostmarkTransport(
        dsn.user,
        _http.base_url(dsn, DEFAULT_URL),
        dsn.options.get("stream", "broadcast"),
        _http.session(http),
        _http.timeout_for(dsn, options),
    )
