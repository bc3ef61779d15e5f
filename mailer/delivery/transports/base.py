"""The contract every transport keeps: messages in, one result per recipient out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Literal, Protocol

Status = Literal["sent", "queued", "rejected", "invalid", "failed", "unknown"]

# Results that mean the provider took the message.
ACCEPTED: frozenset[str] = frozenset({"sent", "queued"})


def _clean(value: str) -> str:
    """Header values never carry line breaks, whatever a caller passes."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


@dataclass(frozen=True)
class Message:
    """A fully formed message for one recipient."""

    sender: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    message_id: str = ""
    reply_to: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    # Opaque values a provider may echo back in webhooks (delivery id, digest id).
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_email(self) -> EmailMessage:
        """The RFC 5322 form: text part, plus an HTML alternative when there is one."""
        msg = EmailMessage(policy=SMTP)
        msg["From"] = _clean(self.sender)
        msg["To"] = _clean(self.recipient)
        msg["Subject"] = _clean(self.subject)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        if self.message_id:
            msg["Message-ID"] = _clean(self.message_id)
        if self.reply_to:
            msg["Reply-To"] = _clean(self.reply_to)
        for name, value in self.headers.items():
            msg[_clean(name)] = _clean(value)
        msg.set_content(self.text, cte="quoted-printable")
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html", cte="quoted-printable")
        return msg

    def as_bytes(self) -> bytes:
        """The same message as to_email(), serialised without the (slow) email package."""
        from mailer.delivery.transports.mime import message_bytes

        return message_bytes(self)


@dataclass(frozen=True)
class SendResult:
    """What became of one recipient's message."""

    recipient: str
    status: Status
    retryable: bool = False
    retry_after: float | None = None
    provider_id: str = ""
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED


class TransportError(Exception):
    """A whole call failed (connection refused, 5xx, auth); nothing in it was sent.

    `throttled` is True when the provider asked us to slow down (HTTP 429), so the engine
    can pause every worker rather than only this one.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        throttled: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.throttled = throttled


class Transport(Protocol):
    """A mail backend; it translates and classifies, the engine chunks, retries and records."""

    name: str
    max_batch: int  # most messages in one send() call
    idempotent: bool  # True when a retried call cannot deliver twice (idempotency keys)

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        """One result per message, in order; raise TransportError only for whole-call failure."""
        ...

    def close(self) -> None: ...
