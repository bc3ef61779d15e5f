"""Pick a transport from the MAILER_TRANSPORT DSN; one module per backend, all the same shape."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

from mailer.core.dsn import is_loopback as is_loopback
from mailer.core.dsn import split_dsn
from mailer.core.errors import ConfigError
from mailer.delivery.transports.base import Transport

if TYPE_CHECKING:
    import requests

    from mailer.core.config import Settings
    from mailer.delivery.dkim import DkimSigner

DSN_HELP = (
    "a DSN such as file://instance/outbox, console://, smtp://user:pass@host:587, "
    "sendgrid://KEY@default, mailgun://KEY:DOMAIN@default, postmark://TOKEN@default, "
    "ses://KEY_ID:SECRET@default?region=us-east-1 or resend://KEY@default"
)

# scheme -> module under mailer.delivery.transports that defines `from_dsn(dsn, options, http)`
BACKENDS: dict[str, str] = {
    "file": "file",
    "console": "console",
    "smtp": "smtp",
    "smtps": "smtp",
    "sendgrid": "sendgrid",
    "mailgun": "mailgun",
    "postmark": "postmark",
    "ses": "ses",
    "resend": "resend",
}


@dataclass(frozen=True)
class Dsn:
    """A parsed MAILER_TRANSPORT value."""

    scheme: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: int | None = None
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def uses_default_endpoint(self) -> bool:
        return self.host in ("", "default")


def parse_dsn(text: str) -> Dsn:
    """Split a DSN into parts; raise ValueError naming what is wrong."""
    parts = split_dsn(text, BACKENDS)
    scheme, port = parts.scheme.lower(), parts.port
    path = parts.path
    if scheme == "file":
        # file://instance/outbox is relative (netloc 'instance'); file:///var/mail is absolute
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise ValueError("file:// needs a folder")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return Dsn(
        scheme=scheme,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "",
        port=port,
        path=path,
        options=options,
    )


@dataclass(frozen=True)
class TransportOptions:
    """What a backend needs besides its DSN; the composition root builds it once."""

    instance_path: Path | None = None  # where file://instance/... lands; None: the working folder
    http_timeout: float = 10.0  # seconds, for HTTP providers without ?timeout=
    envelope_sender: str = ""  # SMTP Return-Path (MAILER_BOUNCE_ADDRESS); empty: the From
    signer: DkimSigner | None = None  # DKIM, for the backends that send raw MIME


def transport_options(settings: Settings) -> TransportOptions:
    """The options the settings give; a DKIM key that cannot be loaded is a ConfigError."""
    from mailer.delivery.dkim import signer_from_settings

    try:
        signer = signer_from_settings(settings)
    except ValueError as exc:
        raise ConfigError(f"The DKIM settings (MAILER_DKIM_*) cannot be used: {exc}.") from exc
    return TransportOptions(
        instance_path=settings.instance_path,
        http_timeout=settings.http_timeout,
        envelope_sender=settings.bounce_address,
        signer=signer,
    )


def transport_from_dsn(
    text: str,
    options: TransportOptions | None = None,
    http: requests.Session | None = None,
) -> Transport:
    """Build the transport a DSN names; each backend module exports `from_dsn`."""
    try:
        dsn = parse_dsn(text)
        module = importlib.import_module(f"mailer.delivery.transports.{BACKENDS[dsn.scheme]}")
        return module.from_dsn(dsn, options or TransportOptions(), http)
    except ValueError as exc:
        raise ConfigError(f"MAILER_TRANSPORT cannot be used: {exc}.") from exc
