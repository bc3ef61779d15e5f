"""Amazon SES v2 SendEmail with Raw content, one call per message, signed with SigV4."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _http, sigv4
from mailer.delivery.transports.base import Message, SendResult, TransportError

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


PATH = "/v2/email/outbound-emails"
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# x-amzn-ErrorType -> what it means for the message (anything else: "failed", not retryable)
THROTTLED = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}
REJECTED = {"MessageRejected"}
WHOLE_ACCOUNT = {"AccountSuspendedException", "SendingPausedException"}


class SesTransport:
    """SES takes one raw MIME message per call; our headers and DKIM pass through untouched."""

    name = "ses"
    max_batch = 50
    per_message = False  # a batch goes in one send() call
    idempotent = False
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(
        self,
        key_id: str,
        secret: str,
        region: str,
        base_url: str,
        http: requests.Session,
        timeout: float,
        *,
        configuration_set: str = "",
        session_token: str = "",
        signer: object = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.key_id, self.secret, self.region = key_id, secret, region
        self.url = base_url + PATH
        self.http, self.timeout = http, timeout
        self.configuration_set = configuration_set
        self.session_token = session_token
        self.signer = signer
        self.clock = clock

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        return _http.send_in_calls([[m] for m in messages], self._call, self.idempotent)

    def _call(self, batch: Sequence[Message]) -> list[SendResult]:
        message = batch[0]
        raw = message.as_bytes()
        if self.signer is not None:
            raw = self.signer.sign(raw)  # type: ignore[attr-defined]
        document: dict = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.recipient]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode()}},
        }
        if message.metadata:
            document["EmailTags"] = [
                {"Name": _TAG_UNSAFE.sub("_", k), "Value": _TAG_UNSAFE.sub("_", v)}
                for k, v in message.metadata.items()
            ]
        if self.configuration_set:
            document["ConfigurationSetName"] = self.configuration_set
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json"}
        if self.session_token:
            headers["X-Amz-Security-Token"] = self.session_token
        headers = sigv4.sign(
            "POST",
            self.url,
            headers,
            body,
            key_id=self.key_id,
            secret=self.secret,
            region=self.region,
            service="ses",
            now=self.clock(),
        )
        response = _http.post(
            self.http, self.name, self.url, data=body, headers=headers, timeout=self.timeout
        )
        return [classify(message, response)]

    def close(self) -> None:
        return None


def error_type(response: requests.Response) -> str:
    """SES names the error in x-amzn-ErrorType ('MessageRejected:http://...') or the body."""
    raw = response.headers.get("x-amzn-ErrorType", "")
    if not raw:
        body = _http.json_body(response)
        if isinstance(body, dict):
            raw = str(body.get("__type") or body.get("code") or "")
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


def classify(message: Message, response: requests.Response) -> SendResult:
    if response.status_code == 200:
        body = _http.json_body(response)
        provider_id = str(body.get("MessageId", "")) if isinstance(body, dict) else ""
        return SendResult(message.recipient, "queued", provider_id=provider_id)
    kind = error_type(response)
    text = f"ses {kind or 'error'} (HTTP {response.status_code}): {_http.body_text(response)}"
    if kind in THROTTLED or response.status_code == 429:
        raise TransportError(
            text,
            retry_after=_http.parse_retry_after(response.headers.get("Retry-After")),
            throttled=True,
        )
    if kind in WHOLE_ACCOUNT:
        raise TransportError(text, retryable=False)
    _http.raise_for_call("ses", response)
    if kind in REJECTED:
        return SendResult(message.recipient, "rejected", error=text)
    return SendResult(message.recipient, "failed", error=text)


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> SesTransport:
    """ses://KEY_ID:SECRET@default?region=us-east-1[&configuration_set=NAME]."""
    if not dsn.user or not dsn.password:
        raise ValueError("ses:// needs KEY_ID:SECRET as the user part")
    region = dsn.options.get("region", "")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError("ses:// needs ?region=, such as ?region=us-east-1")
    return SesTransport(
        dsn.user,
        dsn.password,
        region,
        _http.base_url(dsn, f"https://email.{region}.amazonaws.com"),
        _http.session(http),
        _http.timeout_for(dsn, options),
        configuration_set=dsn.options.get("configuration_set", ""),
        session_token=dsn.options.get("session_token", ""),
        signer=options.signer,
    )
