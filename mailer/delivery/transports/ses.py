"""Amazon SES v2, signed with SigV4: SendBulkEmail for a digest, SendEmail (Raw) otherwise.

SendBulkEmail carries up to 50 readers: an inline template (TemplateContent, which SES fills
with simple `{{name}}` substitution) holds the issue once, each BulkEmailEntry holds its
reader's values (ReplacementTemplateData, under variable names random per call), its own
List-Unsubscribe (ReplacementHeaders) and its delivery id (ReplacementTags); the answer has
one BulkEmailEntryResult per reader. Our own DKIM signature needs the raw message, so with
MAILER_DKIM_* set, and for content that itself spells `{{` or `}}`, each reader gets a
SendEmail call with the whole message instead.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import requests

from mailer.delivery.transports import _batch, _http, sigv4
from mailer.delivery.transports.base import Message, SendResult, TransportError

if TYPE_CHECKING:
    from mailer.delivery.transports import Dsn, TransportOptions


PATH = "/v2/email/outbound-emails"
BULK_PATH = "/v2/email/outbound-bulk-emails"
MAX_BULK = 50
# BulkEmailEntryResult.Status -> (our status, retryable); anything unlisted: failed for good
BULK_STATUS: dict[str, tuple[str, bool]] = {
    "SUCCESS": ("queued", False),
    "MESSAGE_REJECTED": ("rejected", False),
    "ACCOUNT_THROTTLED": ("failed", True),
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": ("failed", True),
    "TRANSIENT_FAILURE": ("failed", True),
}
_TEMPLATE_SPELLING = re.compile(r"\{\{|\}\}")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@functools.lru_cache(maxsize=8)
def _spells_template(subject: str, text: str, html: str) -> bool:
    """Whether the parts spell SES's template syntax; cached, as every reader of an issue
    shares its parts in the batch form (a search through the whole issue per reader was a
    tenth of a send)."""
    return any(_TEMPLATE_SPELLING.search(part) for part in (subject, text, html))


# x-amzn-ErrorType -> what it means for the message (anything else: "failed", not retryable)
THROTTLED = {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}
REJECTED = {"MessageRejected"}
WHOLE_ACCOUNT = {"AccountSuspendedException", "SendingPausedException"}


class SesTransport:
    """Bulk calls of up to 50 readers; whole raw messages when signing or unsafe to template."""

    name = "ses"
    max_batch = MAX_BULK
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
        self.bulk_url = base_url + BULK_PATH
        self.http, self.timeout = http, timeout
        self.configuration_set = configuration_set
        self.session_token = session_token
        self.signer = signer
        self.clock = clock
        # the batch form only when SES may build the message: our DKIM needs the raw bytes
        self.personalises = signer is None

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        bulk = [i for i, m in enumerate(messages) if self._bulk_ready(m)]
        groups = [
            [bulk[i] for i in g] for g in _batch.batches([messages[i] for i in bulk], MAX_BULK)
        ]
        chosen = set(bulk)
        groups += [[i] for i in range(len(messages)) if i not in chosen]
        return _http.send_in_calls(messages, groups, self._dispatch, self.idempotent)

    def _bulk_ready(self, message: Message) -> bool:
        return (
            self.personalises
            and bool(message.markers)
            and not _spells_template(message.subject, message.text, message.html or "")
        )

    def _dispatch(self, batch: Sequence[Message]) -> list[SendResult]:
        if self._bulk_ready(batch[0]):
            return self._bulk(batch)
        return self._raw(batch[0].filled())

    def _post(self, url: str, document: dict) -> requests.Response:
        if self.configuration_set:
            document["ConfigurationSetName"] = self.configuration_set
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json"}
        if self.session_token:
            headers["X-Amz-Security-Token"] = self.session_token
        headers = sigv4.sign(
            "POST",
            url,
            headers,
            body,
            key_id=self.key_id,
            secret=self.secret,
            region=self.region,
            service="ses",
            now=self.clock(),
        )
        return _http.post(
            self.http, self.name, url, data=body, headers=headers, timeout=self.timeout
        )

    def _bulk(self, batch: Sequence[Message]) -> list[SendResult]:
        response = self._post(self.bulk_url, bulk_document(batch))
        if response.status_code != 200:
            _kind, text = call_error(response)
            return _http.all_failed(batch, text)
        body = _http.json_body(response)
        entries = body.get("BulkEmailEntryResults") if isinstance(body, dict) else None
        if not isinstance(entries, list) or len(entries) != len(batch):
            return _http.all_failed(batch, f"ses answered {_http.body_text(response)}")
        return [bulk_result(m, entry) for m, entry in zip(batch, entries, strict=True)]

    def _raw(self, message: Message) -> list[SendResult]:
        raw = message.as_bytes()
        if self.signer is not None:
            raw = self.signer.sign(raw)  # type: ignore[attr-defined]
        document: dict = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.recipient]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode()}},
        }
        if message.metadata:
            document["EmailTags"] = _tags(message.metadata)
        response = self._post(self.url, document)
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


def call_error(response: requests.Response) -> tuple[str, str]:
    """Raise for what concerns the whole call; else (error type, a line for the ledger)."""
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
    return kind, text


def classify(message: Message, response: requests.Response) -> SendResult:
    if response.status_code == 200:
        body = _http.json_body(response)
        provider_id = str(body.get("MessageId", "")) if isinstance(body, dict) else ""
        return SendResult(message.recipient, "queued", provider_id=provider_id)
    kind, text = call_error(response)
    if kind in REJECTED:
        return SendResult(message.recipient, "rejected", error=text)
    return SendResult(message.recipient, "failed", error=text)


def _tags(metadata) -> list[dict[str, str]]:
    return [
        {"Name": _TAG_UNSAFE.sub("_", k), "Value": _TAG_UNSAFE.sub("_", v)}
        for k, v in metadata.items()
    ]


def _spell(variable: str) -> str:
    return "{{" + variable + "}}"


def bulk_document(batch: Sequence[Message]) -> dict:
    """The SendBulkEmail request: the issue once as an inline template, one entry per reader.

    SES sets the Message-ID itself; the reader's message is known by its MessageId."""
    first = batch[0]
    tag = _batch.new_tag()
    subject, text, html = _batch.shared_content(first, tag, _spell)
    headers, own_headers = _batch.split_shared([dict(m.headers) for m in batch])
    metadata, own_metadata = _batch.split_shared([m.metadata for m in batch])
    content: dict = {"Subject": subject, "Text": text}
    if html is not None:
        content["Html"] = html
    template: dict = {"TemplateContent": content, "TemplateData": "{}"}
    if headers:
        template["Headers"] = [{"Name": k, "Value": v} for k, v in headers.items()]
    entries = []
    for message in batch:
        entry: dict = {
            "Destination": {"ToAddresses": [message.recipient]},
            "ReplacementEmailContent": {
                "ReplacementTemplate": {
                    "ReplacementTemplateData": json.dumps(_batch.reader_values(message, tag))
                }
            },
        }
        if own_headers:
            entry["ReplacementHeaders"] = [
                {"Name": n, "Value": message.headers[n]} for n in own_headers
            ]
        if own_metadata:
            entry["ReplacementTags"] = _tags({n: message.metadata[n] for n in own_metadata})
        entries.append(entry)
    document: dict = {
        "FromEmailAddress": first.sender,
        "DefaultContent": {"Template": template},
        "BulkEmailEntries": entries,
    }
    if first.reply_to:
        document["ReplyToAddresses"] = [first.reply_to]
    if metadata:
        document["DefaultEmailTags"] = _tags(metadata)
    return document


def bulk_result(message: Message, entry: object) -> SendResult:
    """One BulkEmailEntryResult: {"Status": "SUCCESS", "MessageId": ...} or an error status."""
    if not isinstance(entry, dict):
        return SendResult(message.recipient, "failed", error=f"ses answered {entry!r}")
    status = str(entry.get("Status", ""))
    verdict, retryable = BULK_STATUS.get(status, ("failed", False))
    if verdict == "queued":
        return SendResult(message.recipient, "queued", provider_id=str(entry.get("MessageId", "")))
    error = f"ses {status}: {str(entry.get('Error', ''))[:300]}"
    return SendResult(message.recipient, verdict, retryable=retryable, error=error)  # type: ignore[arg-type]


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
