"""A return path per message (VERP): bounces+<delivery>-<mac>@domain for each digest delivery.

A bounce then comes back to an address that names the delivery it is about, so `mailer
inbound` finds the reader without a quoted Message-ID (many bounces quote nothing, or quote a
forwarded copy). The token is the delivery id in base 36 and 60 bits of an HMAC over it with
the secret key, in lower case because some MTAs fold the case of local parts: a token cannot be
made up for another delivery, and one guess in 2**60 is not a plan. Whoever holds a message
can read its token, as they can read its Message-ID: they can only report that very message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from mailer.core.config import Settings
from mailer.core.errors import ConfigError, MailerError

MAC_CHARS = 12  # base 32: 60 bits
_TOKEN = re.compile(r"([0-9a-z]{1,13})-([a-z2-7]{12})")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class ForgedReturnPath(MailerError):
    """Mail to our return path whose token we did not issue (exit 1: the MTA returns it)."""


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
        if not number:
            return digits


def _mac(settings: Settings, delivery_id: int) -> str:
    digest = hmac.new(
        settings.secret_key.encode(), f"verp:delivery:{delivery_id}".encode(), hashlib.sha256
    ).digest()
    return base64.b32encode(digest).decode().lower()[:MAC_CHARS]


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return local, domain.lower()


def check_bounce_address(settings: Settings) -> str | None:
    """Why MAILER_BOUNCE_VERP cannot be used with these settings, or None."""
    if not settings.bounce_verp:
        return None
    local, domain = _split(settings.bounce_address)
    if not local or not domain:
        return "MAILER_BOUNCE_VERP needs MAILER_BOUNCE_ADDRESS, such as bounces@news.example.com"
    if "+" in local:
        return (
            f"MAILER_BOUNCE_ADDRESS {settings.bounce_address!r} has a '+' in its local part; "
            "MAILER_BOUNCE_VERP adds '+<token>' itself"
        )
    return None


def return_path(settings: Settings, delivery_id: int | None) -> str:
    """This delivery's envelope sender, or "" for the transport's usual one (VERP off)."""
    if not settings.bounce_verp or delivery_id is None:
        return ""
    problem = check_bounce_address(settings)
    if problem:
        raise ConfigError(problem)
    local, domain = _split(settings.bounce_address)
    return f"{local}+{_base36(delivery_id)}-{_mac(settings, delivery_id)}@{domain}"


def delivery_of(settings: Settings, recipient: str) -> int | None:
    """The delivery a mail to `recipient` is about: None when the address is not one of our
    return paths; ForgedReturnPath when it looks like one but its token is not ours."""
    local, domain = _split(recipient)
    ours_local, ours_domain = _split(settings.bounce_address)
    base, plus, token = local.partition("+")
    if not ours_local or not plus or base.lower() != ours_local.lower() or domain != ours_domain:
        return None
    match = _TOKEN.fullmatch(token.lower())
    if match is not None:
        delivery_id = int(match.group(1), 36)
        if hmac.compare_digest(match.group(2), _mac(settings, delivery_id)):
            return delivery_id
    raise ForgedReturnPath("the mail came to a return path whose token we did not issue")
