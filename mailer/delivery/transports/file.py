"""A real backend that writes each message as an .eml file, for development and audits."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.delivery.transports.base import Message, SendResult

if TYPE_CHECKING:
    import requests

    from mailer.delivery.transports import Dsn, TransportOptions


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileTransport:
    """One RFC 5322 file per message, written atomically so a reader never sees half a file."""

    name = "file"
    max_batch = 500
    per_message = True  # sends one message at a time; the engine marks a group handed at once
    idempotent = True  # the file name comes from the Message-ID: a retry overwrites
    holds_connection = False  # nothing kept between calls: workers may share one

    def __init__(self, folder: Path, signer: object = None) -> None:
        self.folder = folder
        self.signer = signer  # a DkimSigner when MAILER_DKIM_* is set, so audits see it

    def send(
        self, messages: Sequence[Message], idempotency_key: str | None = None
    ) -> list[SendResult]:
        self.folder.mkdir(parents=True, exist_ok=True)
        return [self._write(message) for message in messages]

    def _write(self, message: Message) -> SendResult:
        data = message.as_bytes()
        if self.signer is not None:
            data = self.signer.sign(data)  # type: ignore[attr-defined]
        stem = _UNSAFE.sub("_", message.message_id.strip("<>")) or _UNSAFE.sub(
            "_", message.recipient
        )
        target = self.folder / f"{stem}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return SendResult(message.recipient, "sent", provider_id=target.name)

    def close(self) -> None:
        return None


def from_dsn(
    dsn: Dsn, options: TransportOptions, http: requests.Session | None = None
) -> FileTransport:
    folder = Path(dsn.path)
    if not folder.is_absolute() and options.instance_path and dsn.path.startswith("instance/"):
        folder = options.instance_path / dsn.path.removeprefix("instance/")
    return FileTransport(folder.resolve(), signer=options.signer)
