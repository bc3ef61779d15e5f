"""Mailgun messages API: basic auth api:KEY, a batch is many `to` plus recipient-variables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _http
from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
MAX_RECIPIENTS = 1000


class MailgunTransport:
    """Messages identical but for the recipient share one call; others get a call each."""

    name = "mailgun"
    max_batch = MAX_RECIPIENTS
    per_message = False  # a batch goes in one send() call
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
        return _http.send_in_calls(_http.group_identical(messages), self._call, self.idempotent)

    def _call(self, group: Sequence[Message]) -> list[SendResult]:
        response = _http.post(
            self.http, self.name, self.url, data=form(group), auth=self.auth, timeout=self.timeout
        )
        _http.raise_for_call(self.name, response)
        if response.status_code == 200:
            body = _http.json_body(response)
            provider_id = body.get("id", "") if isinstance(body, dict) else ""
            return [SendResult(m.recipient, "queued", provider_id=provider_id) for m in group]
        return _http.all_failed(
            group, f"mailgun refused (HTTP {response.status_code}): {_http.body_text(response)}"
        )

    def close(self) -> None:
        return None


def form(group: Sequence[Message]) -> list[tuple[str, str]]:
    """The form fields; recipient-variables make Mailgun send each `to` its own copy."""
    first = group[0]
    fields = [("from", first.sender)]
    fields += [("to", m.recipient) for m in group]
    fields += [("subject", first.subject), ("text", first.text)]
    if first.html is not None:
        fields.append(("html", first.html))
    if first.reply_to:
        fields.append(("h:Reply-To", first.reply_to))
    if first.message_id:
        fields.append(("h:Message-Id", first.message_id))
    fields += [(f"h:{name}", value) for name, value in first.headers.items()]
    fields += [(f"v:{name}", value) for name, value in first.metadata.items()]
    if len(group) > 1:
        variables = {m.recipient: {} for m in group}
        fields.append(("recipient-variables", json.dumps(variables)))
    return fields


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
