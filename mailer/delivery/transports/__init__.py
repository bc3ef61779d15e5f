"""Pick a transport from the MAILER_TRANSPORT DSN; one module per backend, all the same shape."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from mailer.delivery.transports.base import Transport

DSN_HELP = (
    "a DSN such as file://instance/outbox, console://, smtp://user:pass@host:587, "
    "sendgrid://KEY@default, mailgun://KEY:DOMAIN@default, postmark://TOKEN@default, "
    "ses://KEY_ID:SECRET@default?region=us-east-1 or resend://KEY@default"
)

# scheme -> module under mailer.delivery.transports that defines `from_dsn(dsn, settings, http)`
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
    if "://" not in text:
        raise ValueError("no scheme")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in BACKENDS:
        raise ValueError(f"unknown scheme {scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number") from None
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


def transport_from_dsn(text: str, settings: object = None, http: object = None) -> Transport:
    """Build the transport a DSN names; each backend module exports `from_dsn`."""
    from mailer.core.config import ConfigError

    try:
        dsn = parse_dsn(text)
        module = importlib.import_module(f"mailer.delivery.transports.{BACKENDS[dsn.scheme]}")
        return module.from_dsn(dsn, settings=settings, http=http)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"MAILER_TRANSPORT cannot be used: {exc}.") from exc
