"""SendGrid v3 mail/send: one call carries up to 1000 readers as personalizations.

Messages that differ only in per-reader values share the call: the content goes once, each
personalization carries its reader's `substitutions` (the values, under variable names random
per call), its own headers (List-Unsubscribe, Message-ID) and `custom_args`. A 400 naming
`personalizations.N` fails only those readers; the rest are sent again without them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _batch, _http
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


DEFAULT_URL = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000
_NAMED = re.compile(r"^personalizations\.(\d+)\b")


class SendGridTransport:
    """Messages that share their content share one call; others get a call each."""

    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS
    per_message = False  # a batch goes in one send() call
    personalises = True  # takes the batch form: substitutions place each reader's values
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
        return _http.send_in_calls(
            messages, _batch.batches(messages, self.max_batch), self._isolated, self.idempotent
        )

    def _isolated(self, batch: Sequence[Message]) -> list[SendResult]:
        return _batch.isolate(batch, self._call, self.idempotent)

    def _call(self, batch: Sequence[Message]) -> list[SendResult]:
        response = _http.post(
            self.http,
            self.name,
            self.url,
            json=payload(batch),
            headers=self.auth,
            timeout=self.timeout,
        )
        _http.raise_for_call(self.name, response)
        if response.status_code in (200, 202):
            message_id = response.headers.get("X-Message-Id", "")
            return [SendResult(m.recipient, "queued", provider_id=message_id) for m in batch]
        error = f"sendgrid refused (HTTP {response.status_code}): {_http.body_text(response)}"
        named = named_personalizations(response)
        if response.status_code == 400 and named:
            raise _batch.Refused(error, named)
        return _http.all_failed(batch, error)

    def close(self) -> None:
        return None


def named_personalizations(response: requests.Response) -> frozenset[int]:
    """The personalizations a 400 blames ({"errors": [{"field": "personalizations.3.to..."}]})."""
    body = _http.json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    named = set()
    for error in errors if isinstance(errors, list) else []:
        field = error.get("field") if isinstance(error, dict) else None
        found = _NAMED.match(field) if isinstance(field, str) else None
        if found:
            named.add(int(found.group(1)))
    return frozenset(named)


def _address(value: str) -> dict[str, str]:
    name, email = _http.split_address(value)
    return {"email": email, "name": name} if name else {"email": email}


def payload(batch: Sequence[Message]) -> dict:
    """The mail/send body: shared content once, one personalization per reader."""
    first = batch[0]
    tag = _batch.new_tag()
    subject, text, html = _batch.shared_content(first, tag, _spell)
    headers, own_headers = _batch.split_shared([_batch.headers_of(m) for m in batch])
    personalizations = []
    for message in batch:
        one: dict = {"to": [_address(message.recipient)]}
        if message.markers:
            one["substitutions"] = {
                _spell(k): v for k, v in _batch.reader_values(message, tag).items()
            }
        if own_headers:
            mine = _batch.headers_of(message)
            one["headers"] = {name: mine[name] for name in own_headers}
        if message.metadata:
            one["custom_args"] = dict(message.metadata)
        personalizations.append(one)
    content = [{"type": "text/plain", "value": text}]
    if html is not None:
        content.append({"type": "text/html", "value": html})
    body: dict = {
        "personalizations": personalizations,
        "from": _address(first.sender),
        "subject": subject,
        "content": content,
    }
    if headers:
        body["headers"] = headers
    if first.reply_to:
        body["reply_to"] = _address(first.reply_to)
    return body


def _spell(variable: str) -> str:
    """A substitution key is matched as a literal string anywhere in the message."""
    return f"-{variable}-"


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
