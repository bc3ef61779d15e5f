"""Mailgun messages API: basic auth api:KEY; one call carries up to 1000 readers.

A batch is many `to` plus `recipient-variables`: the content goes once with
`%recipient.VAR%` where each reader's values go (variable names random per call, so no
content can name one), and the headers and `v:` data that differ per reader (List-Unsubscribe,
Message-Id, delivery id) are `%recipient.VAR%` too, which Mailgun fills per recipient.
Mailgun refuses a whole batch for one bad address without naming it: the batch is halved
until the bad ones are found, and only they fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _batch, _http
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
MAX_RECIPIENTS = 1000
# content that spells Mailgun's own recipient placeholders would be filled: send it whole
_PROVIDER_SPELLING = re.compile(r"%recipient[.%]", re.I)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
# a 400 about an address: some `to` in the batch (Mailgun does not say which)
_ABOUT_ADDRESS = re.compile(r"'to' parameter|not a valid address|invalid address", re.I)


class MailgunTransport:
    """Messages that share their content share one call; others get a call each."""

    name = "mailgun"
    max_batch = MAX_RECIPIENTS
    per_message = False  # a batch goes in one send() call
    personalises = True  # takes the batch form: recipient-variables place each reader's values
    idempotent = False
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(
        self, api_key: str, domain: str, base_url: str, http: requests.Session, timeout: float
    ) -> None:
        self.url = f"{base_url}/v3/{domain}/messages"
        self.auth = ("api", api_key)
        self.http = http
        self.timeout = timeout

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        messages = [m if _batchable(m) else m.filled() for m in messages]
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
            data=urlencoded(form(batch)),
            auth=self.auth,
            headers=_FORM_TYPE,
            timeout=self.timeout,
        )
        _http.raise_for_call(self.name, response)
        if response.status_code == 200:
            body = _http.json_body(response)
            provider_id = body.get("id", "") if isinstance(body, dict) else ""
            return [SendResult(m.recipient, "queued", provider_id=provider_id) for m in batch]
        error = f"mailgun refused (HTTP {response.status_code}): {_http.body_text(response)}"
        if response.status_code == 400 and _ABOUT_ADDRESS.search(response.text or ""):
            raise _batch.Refused(error)
        return _http.all_failed(batch, error)

    def close(self) -> None:
        return None


def _batchable(message: Message) -> bool:
    """False when the shared content itself spells a Mailgun placeholder."""
    parts = (message.subject, message.text, message.html or "")
    return not any(_PROVIDER_SPELLING.search(part) for part in parts)


def _spell(variable: str) -> str:
    return f"%recipient.{variable}%"


def form(batch: Sequence[Message]) -> list[tuple[str, str]]:
    """The form fields; recipient-variables make Mailgun send each `to` its own copy."""
    first = batch[0]
    tag = _batch.new_tag()
    subject, text, html = _batch.shared_content(first, tag, _spell)
    headers, own_headers = _batch.split_shared([_batch.headers_of(m) for m in batch])
    metadata, own_metadata = _batch.split_shared([m.metadata for m in batch])
    fields = [("from", first.sender)]
    fields += [("to", m.recipient) for m in batch]
    fields += [("subject", subject), ("text", text)]
    if html is not None:
        fields.append(("html", html))
    if first.reply_to:
        fields.append(("h:Reply-To", first.reply_to))
    heads = {**headers, **{n: _spell(f"{tag}_h{i}") for i, n in enumerate(own_headers)}}
    fields += [(f"h:{_header_name(name)}", value) for name, value in heads.items()]
    data = {**metadata, **{n: _spell(f"{tag}_v{i}") for i, n in enumerate(own_metadata)}}
    fields += [(f"v:{name}", value) for name, value in data.items()]
    if len(batch) > 1 or first.markers:
        variables = {}
        for message in batch:
            mine = _batch.reader_values(message, tag)
            mine_headers = _batch.headers_of(message)
            mine.update({f"{tag}_h{i}": mine_headers[n] for i, n in enumerate(own_headers)})
            mine.update({f"{tag}_v{i}": message.metadata[n] for i, n in enumerate(own_metadata)})
            variables[_http.split_address(message.recipient)[1]] = mine
        fields.append(("recipient-variables", json.dumps(variables)))
    return fields


def urlencoded(fields: list[tuple[str, str]]) -> bytes:
    """urllib's urlencode(fields), made a character at a time only where one needs escaping:
    urllib escapes byte by byte in Python, which for a call's recipient-variables (about a
    kilobyte a reader) cost more than the rest of the reader's share of the call."""
    return "&".join(f"{_plus(name)}={_plus(value)}" for name, value in fields).encode("ascii")


def _plus(value: str) -> str:
    """quote_plus(value): UTF-8 bytes, the unreserved kept, space as +, the rest as %XX."""
    text = value.encode().decode("latin-1")  # one character per UTF-8 byte
    unsafe = set(text) - _UNRESERVED
    if "%" in unsafe:  # first, so the escapes made below stay as they are
        text = text.replace("%", "%25")
        unsafe.discard("%")
    space = " " in unsafe
    unsafe.discard(" ")
    for char in unsafe:
        text = text.replace(char, f"%{ord(char):02X}")
    return text.replace(" ", "+") if space else text


def _header_name(name: str) -> str:
    return "Message-Id" if name == "Message-ID" else name


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> MailgunTransport:
    """mailgun://KEY:DOMAIN@default?region=eu."""
    if not dsn.user or not dsn.password:
        raise ValueError(
            "mailgun:// needs KEY:DOMAIN as the user part: mailgun://KEY:DOMAIN@default"
        )
    region = dsn.options.get("region", "us").lower()
    if region not in REGIONS:
        raise ValueError(f"mailgun region {region!r} is not one of: us, eu")
    return MailgunTransport(
        dsn.user,
        dsn.password,
        _http.base_url(dsn, REGIONS[region]),
        _http.session(http),
        _http.timeout_for(dsn, options),
    )
