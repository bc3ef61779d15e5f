"""SendGrid v3 mail/send: one personalization per recipient, 202 means accepted for delivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _http
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


DEFAULT_URL = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000


class SendGridTransport:
    """Messages identical but for the recipient share one call; others get a call each."""

    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS
    per_message = False  # a batch goes in one send() call
    idempotent = False
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(
        self, api_key: str, base_url: str, http: requests.Session, timeout: float = 10.0
    ) -> None:
        self.url = f"{base_url}/v3/mail/send"
        self.http = http
        self.timeout = timeout
        self.auth = {"Authorization": f"Bearer {api_key}"}

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        return _http.send_in_calls(_http.group_identical(messages), self._call, self.idempotent)

    def _call(self, group: Sequence[Message]) -> list[SendResult]:
        response = _http.post(
            self.http,
            self.name,
            self.url,
            json=payload(group),
            headers=self.auth,
            timeout=self.timeout,
        )
        _http.raise_for_call(self.name, response)
        if response.status_code in (200, 202):
            message_id = response.headers.get("X-Message-Id", "")
            return [SendResult(m.recipient, "queued", provider_id=message_id) for m in group]
        return _http.all_failed(
            group, f"sendgrid refused (HTTP {response.status_code}): {_http.body_text(response)}"
        )

    def close(self) -> None:
        return None


def _address(value: str) -> dict[str, str]:
    name, email = _http.split_address(value)
    return {"email": email, "name": name} if name else {"email": email}


def payload(group: Sequence[Message]) -> dict:
    """The mail/send body; every message in the group has the same content."""
    first = group[0]
    headers = dict(first.headers)
    if first.message_id:
        headers["Message-ID"] = first.message_id
    personalizations = []
    for message in group:
        one: dict = {"to": [_address(message.recipient)]}
        if message.metadata:
            one["custom_args"] = dict(message.metadata)
        personalizations.append(one)
    content = [{"type": "text/plain", "value": first.text}]
    if first.html is not None:
        content.append({"type": "text/html", "value": first.html})
    body: dict = {
        "personalizations": personalizations,
        "from": _address(first.sender),
        "subject": first.subject,
        "content": content,
    }
    if headers:
        body["headers"] = headers
    if first.reply_to:
        body["reply_to"] = _address(first.reply_to)
    return body


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> SendGridTransport:
    """sendgrid://KEY@default (or @127.0.0.1:PORT for a local stand-in)."""
    if not dsn.user:
        raise ValueError("sendgrid:// needs the API key as the user part: sendgrid://KEY@default")
    return SendGridTransport(
        dsn.user,
        _http.base_url(dsn, DEFAULT_URL),
        _http.session(http),
        _http.timeout_for(dsn, options),
    )
