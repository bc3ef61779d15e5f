"""Resend emails/batch: up to 100 per call, an Idempotency-Key makes a retried call safe."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _batch, _http, _splice
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


DEFAULT_URL = "https://api.resend.com"
MAX_BATCH = 100
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class ResendTransport:
    """Permissive batch validation, so one bad address does not sink the other 99."""

    name = "resend"
    max_batch = MAX_BATCH
    per_message = False  # a batch goes in one send() call
    personalises = True  # takes the batch form: fills each reader's values into JSON (_splice)
    sends_mime = False  # text and HTML go as JSON fields: no MIME body is needed
    idempotent = True  # Resend keeps an Idempotency-Key for 24 hours
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(self, api_key: str, base_url: str, http: requests.Session, timeout: float) -> None:
        self.url = f"{base_url}/emails/batch"
        self.auth = {
            "Authorization": f"Bearer {api_key}",
            "x-batch-validation": "permissive",
            "Content-Type": "application/json",
        }
        self.http = http
        self.timeout = timeout

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        groups = _batch.by_size([1] * len(messages), MAX_BATCH, MAX_BATCH)
        calls = iter(range(len(groups)))

        def call(batch: Sequence[Message]) -> list[SendResult]:
            headers = dict(self.auth)
            number = next(calls)
            if idempotency_key:  # one key per call: a retry repeats the same calls
                headers["Idempotency-Key"] = idempotency_key + (f"-{number}" if number else "")
            body = _splice.json_array([_splice.encoded_entry(one, m) for m in batch])
            response = _http.post(
                self.http, self.name, self.url, data=body, headers=headers, timeout=self.timeout
            )
            _http.raise_for_call(self.name, response)
            return classify(batch, response)

        return _http.send_in_calls(messages, groups, call, self.idempotent)

    def close(self) -> None:
        return None


def one(message: Message) -> dict:
    """A complete message as Resend's JSON (a batch-form one goes through _splice)."""
    headers = dict(message.headers)
    if message.message_id:
        headers["Message-ID"] = message.message_id
    item: dict = {
        "from": message.sender,
        "to": [message.recipient],
        "subject": message.subject,
        "text": message.text,
    }
    if message.html is not None:
        item["html"] = message.html
    if message.reply_to:
        item["reply_to"] = message.reply_to
    if headers:
        item["headers"] = headers
    if message.metadata:
        item["tags"] = [
            {"name": _TAG_UNSAFE.sub("_", k), "value": _TAG_UNSAFE.sub("_", v)}
            for k, v in message.metadata.items()
        ]
    return item


def classify(batch: Sequence[Message], response: requests.Response) -> list[SendResult]:
    """200 {data: [{id}...], errors: [{index, message}]}: ids go, in order, to the accepted ones."""
    answer = _http.json_body(response)
    if response.status_code != 200 or not isinstance(answer, dict):
        return _http.all_failed(
            batch, f"resend refused (HTTP {response.status_code}): {_http.body_text(response)}"
        )
    errors = {e.get("index"): e.get("message", "") for e in answer.get("errors") or []}
    ids = [d.get("id", "") for d in answer.get("data") or []]
    results = []
    for index, message in enumerate(batch):
        if index in errors:
            text = str(errors[index])
            status = "invalid" if re.search(r"email|address|\bto\b", text, re.I) else "failed"
            results.append(SendResult(message.recipient, status, error=f"resend: {text}"))  # type: ignore[arg-type]
        else:
            provider_id = ids.pop(0) if ids else ""
            results.append(SendResult(message.recipient, "queued", provider_id=provider_id))
    return results


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> ResendTransport:
    """resend://KEY@default."""
    if not dsn.user:
        raise ValueError("resend:// needs the API key as the user part: resend://KEY@default")
    return ResendTransport(
        dsn.user,
        _http.base_url(dsn, DEFAULT_URL),
        _http.session(http),
        _http.timeout_for(dsn, options),
    )
