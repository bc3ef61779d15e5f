"""A real backend that prints each message, for trying things out in a terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    import requests

    from mailer.delivery.transports import Dsn, TransportOptions


class ConsoleTransport:
    """Writes each message to a stream with a separator line."""

    name = "console"
    max_batch = 100
    per_message = True  # sends one message at a time; the engine marks a group handed at once
    idempotent = False
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        out = self.stream or sys.stdout
        results = []
        for message in messages:
            out.write(message.as_bytes().decode("utf-8", "replace"))
            out.write("\n" + "-" * 72 + "\n")
            results.append(SendResult(message.recipient, "sent"))
        out.flush()
        return results

    def close(self) -> None:
        return None


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> ConsoleTransport:
    return ConsoleTransport()
