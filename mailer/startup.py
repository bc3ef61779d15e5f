"""What the composition root checks before anything runs: provider settings, and production.

Config only parses. Here the parsed values are judged: a value a provider cannot use, or a
value production must not run with, stops the CLI (exit 2) and the web app with one sentence
naming the setting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from email.utils import parseaddr
from urllib.parse import urlsplit

from mailer.core.config import Settings, unknown_variables
from mailer.core.errors import ConfigError
from mailer.delivery.checks import check_providers
from mailer.delivery.transports import TransportOptions, is_loopback, parse_dsn
from mailer.readers.captcha import SITEVERIFY_URLS

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
MIN_SECRET_VARIETY = 10  # distinct characters: 'x' * 40 or 'abab...' is not a secret
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606, never a sender
SNS_HOST = re.compile(r"sns\.(\*|[a-z0-9-]+)\.amazonaws\.com(\.cn)?")  # SNS's own hosts only


def check_settings(settings: Settings) -> TransportOptions:
    """Every start-up check, in order; return the transport options built on the way."""
    if settings.is_production:
        check_production(settings)
    if settings.sunset and settings.click_tracking != "per_reader":
        raise ConfigError(
            "MAILER_SUNSET=true needs MAILER_CLICK_TRACKING=per_reader: without it nobody's "
            "clicks are known, so nobody can be judged quiet."
        )
    return check_providers(settings)


def warn_unknown(environ: Mapping[str, str] | None = None) -> list[str]:
    """Log one warning per MAILER_* variable that is no setting (a typo is otherwise silent)."""
    sentences = [sentence for _, sentence in unknown_variables(environ)]
    for sentence in sentences:
        log.warning("%s", sentence)
    return sentences


def check_production(settings: Settings) -> None:
    """Raise ConfigError naming the first setting production must not run with."""
    problems = production_problems(settings)
    if problems:
        raise ConfigError(problems[0])


def production_problems(settings: Settings) -> list[str]:
    """One sentence per unsafe setting; the README's "Production" section lists the same."""
    problems: list[str] = []
    base = urlsplit(settings.base_url)
    if base.scheme != "https" or is_loopback(base.hostname or ""):
        problems.append(
            f"MAILER_BASE_URL is {settings.base_url!r}; production needs the public https "
            "address readers reach, such as https://news.example.com."
        )
    domain = parseaddr(settings.from_addr)[1].rpartition("@")[2].lower()
    if domain in RESERVED_DOMAINS:
        problems.append(
            f"MAILER_FROM_ADDR is {settings.from_addr!r}; production needs the newsletter's "
            "own From address, not an example one."
        )
    scheme = settings.transport.partition("://")[0].lower()
    if scheme in ("file", "console"):
        problems.append(
            f"MAILER_TRANSPORT is {scheme}://, which delivers nothing; production needs smtp://, "
            "smtps:// or a provider."
        )
    if _weak_secret(settings.secret_key):
        problems.append(
            f"MAILER_SECRET_KEY is too weak for production; it needs at least "
            f"{MIN_SECRET_LENGTH} random characters, such as the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    problems += _captcha_problems(settings)
    if any(not SNS_HOST.fullmatch(p.lower()) for p in settings.ses_cert_hosts):
        problems.append(
            f"MAILER_SES_CERT_HOSTS is {','.join(settings.ses_cert_hosts)!r}; production "
            "accepts only SNS's own hosts, such as the default sns.*.amazonaws.com."
        )
    if any("*" in origin for origin in settings.embed_origins):
        problems.append(
            "MAILER_EMBED_ORIGINS contains '*'; production names each site allowed to embed "
            "the form, such as https://www.example.com."
        )
    if _smtp_without_tls(settings.transport):
        problems.append(
            "MAILER_TRANSPORT is smtp:// with tls=none to a host that is not loopback; "
            "production sends mail and passwords only over TLS."
        )
    return problems


def _weak_secret(key: str) -> bool:
    return len(key) < MIN_SECRET_LENGTH or len(set(key)) < MIN_SECRET_VARIETY


def _captcha_problems(settings: Settings) -> list[str]:
    problems = []
    if settings.captcha == "none":
        problems.append(
            "MAILER_CAPTCHA is 'none'; production accepts only a real CAPTCHA provider."
        )
    elif settings.captcha in SITEVERIFY_URLS and not (
        settings.captcha_site_key and settings.captcha_secret
    ):
        problems.append(
            f"MAILER_CAPTCHA is {settings.captcha!r} but MAILER_CAPTCHA_SITE_KEY and "
            "MAILER_CAPTCHA_SECRET are not both set; production needs the provider's keys."
        )
    verify_url = settings.captcha_verify_url
    if verify_url and urlsplit(verify_url).scheme != "https":
        problems.append(
            f"MAILER_CAPTCHA_VERIFY_URL is {verify_url!r}; production sends the CAPTCHA "
            "secret only over https."
        )
    return problems


def _smtp_without_tls(transport: str) -> bool:
    try:
        dsn = parse_dsn(transport)
    except ValueError:
        return False  # the provider checks say what is wrong with it
    return (
        dsn.scheme in ("smtp", "smtps")
        and dsn.options.get("tls", "").lower() == "none"
        and not is_loopback(dsn.host)
    )
