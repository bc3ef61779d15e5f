"""The contract every transport keeps: messages in, one result per recipient out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

Status = Literal["sent", "queued", "rejected", "invalid", "failed", "unknown"]

# Results that mean the provider took the message.
ACCEPTED: frozenset[str] = frozenset({"sent", "queued"})


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
    # The batch form (for transports that personalise): subject, text and html are the issue
    # shared by every reader, still holding this render's random markers (name -> marker);
    # `values` holds this reader's value for each name. Empty: the message is complete.
    markers: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)

    def filled(self) -> Message:
        """This reader's complete message, every marker replaced by the reader's value."""
        if not self.markers:
            return self
        from mailer.editions.render import fill

        subject, text, html = fill(self.subject, self.text, self.html, self.markers, self.values)
        return replace(self, subject=subject, text=text, html=html, markers={}, values={})

    # The envelope sender for this message alone (VERP, delivery/verp.py); "": the transport's.
    return_path: str = ""
    # The MIME body after MIME-Version, already encoded from text and html (mime.PreparedBody),
    # when the composer has it; otherwise mime.py encodes text and html itself.
    mime_body: bytes | None = field(default=None, repr=False, compare=False)

    def as_bytes(self) -> bytes:
        """The RFC 5322 form (text part, HTML alternative): the one MIME writer, mime.py.
        A prepared body is this reader's already: text and HTML are not filled for it (the
        subject, filled by the composer, is the same in either form)."""
        from mailer.delivery.transports.mime import message_bytes

        return message_bytes(self if self.mime_body is not None else self.filled())


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


@runtime_checkable
class Transport(Protocol):
    """A mail backend; it translates and classifies, the engine chunks, retries and records.

    Everything the engine and the composition root ask of a transport is declared here.
    """

    name: str
    max_batch: int  # most messages in one send() call
    per_message: bool  # True: one message at a time (SMTP-like); the engine groups hand-offs
    idempotent: bool  # True when a retried call cannot deliver twice (idempotency keys)
    holds_connection: bool  # True: keeps a connection between calls, so one per worker
    # A transport may also say `personalises = True`: it takes messages in the batch form
    # (Message.markers) and places each reader's values itself: with the provider's own
    # mechanism, or spliced into JSON encoded once for every reader (Postmark, Resend);
    # and `sends_mime = False`: it never sends our MIME bytes, so none are prepared for it;
    # and `sends_bytes_only = True`: it reads nothing of a message but as_bytes() and the
    # envelope, so a message with a prepared body keeps its text and HTML in the batch form.

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        """One result per message, in order; raise TransportError only for whole-call failure.

        A transport that holds a connection opens it on the first send and after a drop."""
        ...

    def close(self) -> None:
        """Release what the transport holds (its connection); a later send may open it again."""
        ...
