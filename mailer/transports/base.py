"""The contract every transport keeps: messages in, one result per recipient out."""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message as MimeMessage
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Literal, Protocol

Status = Literal["sent", "queued", "rejected", "invalid", "failed", "unknown"]

# Results that mean the provider took the message.
ACCEPTED: frozenset[str] = frozenset({"sent", "queued"})


def _clean(value: str) -> str:
    """Header values never carry line breaks, whatever a caller passes."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


# The wire form is built with the compat32 API: the modern header registry parses every header
# it is given, which costs about 15 ms a message and would cap a sender near 60 messages a second.
_WIRE = compat32.clone(linesep="\r\n", max_line_length=None)  # we fold what needs folding


def _header(value: str) -> str:
    """ASCII as it is (URLs stay whole); anything else as RFC 2047 words of legal length."""
    value = _clean(value)
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address(value: str) -> str:
    name, addr = parseaddr(_clean(value))
    if not addr:
        return _clean(value)
    if not name:
        return addr
    return formataddr((name, addr)) if name.isascii() else f"{_header(name)} <{addr}>"


def _qp_part(body: str, subtype: str) -> MimeMessage:
    """A text part, quoted-printable encoded by binascii (in C)."""
    part = MimeMessage()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    part.set_payload(binascii.b2a_qp(text.encode("utf-8")).decode("ascii"))
    return part


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

    def to_mime(self) -> MimeMessage:
        """The RFC 5322 form: text part, plus an HTML alternative when there is one."""
        if self.html is None:
            msg = _qp_part(self.text, "plain")
        else:
            msg = MimeMessage()
            msg["Content-Type"] = "multipart/alternative"
            msg.set_boundary(f"=_{secrets.token_hex(12)}")
            msg.attach(_qp_part(self.text, "plain"))
            msg.attach(_qp_part(self.html, "html"))
        msg["MIME-Version"] = "1.0"
        msg["From"] = _address(self.sender)
        msg["To"] = _address(self.recipient)
        msg["Subject"] = _header(self.subject)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        if self.message_id:
            msg["Message-ID"] = _clean(self.message_id)
        if self.reply_to:
            msg["Reply-To"] = _address(self.reply_to)
        for name, value in self.headers.items():
            msg[_clean(name)] = _header(value)
        return msg

    def as_bytes(self) -> bytes:
        return self.to_mime().as_bytes(policy=_WIRE)


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
