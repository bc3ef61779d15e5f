"""DKIM signatures (dkimpy) over the headers that prove a message and its unsubscribe links."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim

from mailer.config import ConfigError, Settings

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
)


@dataclass(frozen=True)
class DkimKey:
    selector: bytes
    private_key: bytes
    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"


class DkimSigner:
    """Keys are read once; sign() adds one DKIM-Signature per key (RSA, then Ed25519)."""

    def __init__(self, domain: str, keys: list[DkimKey]) -> None:
        self.domain = domain.encode()
        self.keys = keys

    def sign(self, data: bytes) -> bytes:
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        present = [
            h for h in SIGNED_HEADERS if head.startswith(h + b":") or b"\r\n" + h + b":" in head
        ]
        signatures = b""
        for key in self.keys:
            signatures += dkim.sign(
                data,
                key.selector,
                self.domain,
                key.private_key,
                include_headers=present,
                signature_algorithm=key.algorithm,
                linesep=b"\r\n",
            )
        return signatures + data


def signer_from_settings(settings: Settings) -> DkimSigner | None:
    """None when DKIM is not configured; a clear ConfigError when it is half configured."""
    if not settings.dkim_domain:
        return None
    keys = []
    if settings.dkim_selector or settings.dkim_private_key:
        keys.append(
            DkimKey(
                settings.dkim_selector.encode(),
                _read(settings.dkim_private_key, "MAILER_DKIM_PRIVATE_KEY"),
                b"rsa-sha256",
            )
        )
    if settings.dkim_ed25519_selector or settings.dkim_ed25519_key:
        keys.append(
            DkimKey(
                settings.dkim_ed25519_selector.encode(),
                _read(settings.dkim_ed25519_key, "MAILER_DKIM_ED25519_KEY").strip(),
                b"ed25519-sha256",
            )
        )
    if not keys or any(not k.selector for k in keys):
        raise ConfigError(
            "MAILER_DKIM_DOMAIN is set; it needs MAILER_DKIM_SELECTOR with MAILER_DKIM_PRIVATE_KEY "
            "and/or MAILER_DKIM_ED25519_SELECTOR with MAILER_DKIM_ED25519_KEY."
        )
    return DkimSigner(settings.dkim_domain, keys)


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        raise ConfigError(
            f"{name} is {path!r}; it accepts the path of a readable key file."
        ) from None
