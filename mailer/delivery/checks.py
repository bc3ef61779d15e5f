"""Start-up checks of the provider settings: config only parses, the providers judge the values.

The composition root runs these once per process, so a bad DSN or webhook key stops the CLI
(exit 2) and the web app with one sentence naming the setting, not the first send.
"""

from __future__ import annotations

from collections.abc import Callable

from mailer.core.config import Settings, env_name
from mailer.core.errors import ConfigError
from mailer.delivery.transports import (
    DSN_HELP,
    TransportOptions,
    parse_dsn,
    transport_from_dsn,
    transport_options,
)
from mailer.delivery.verp import check_bounce_address
from mailer.delivery.webhooks import resend, sendgrid, ses


def check_transport(settings: Settings) -> TransportOptions:
    """Build the transport once, without sending, so every DSN rule applies at start-up."""
    try:
        parse_dsn(settings.transport)
    except ValueError as exc:
        # the value itself is never echoed: a DSN carries credentials
        raise ConfigError(
            f"MAILER_TRANSPORT cannot be used ({exc}); it accepts {DSN_HELP}."
        ) from None
    options = transport_options(settings)
    transport_from_dsn(settings.transport, options).close()
    return options


def check_webhooks(settings: Settings) -> None:
    """The providers' webhook keys must be keys those providers could have issued."""
    checks: tuple[tuple[str, object, Callable[[object], str | None]], ...] = (
        ("sendgrid_webhook_key", settings.sendgrid_webhook_key, sendgrid.check_key),
        ("resend_webhook_secret", settings.resend_webhook_secret, resend.check_secret),
        ("ses_cert_hosts", settings.ses_cert_hosts, ses.check_hosts),
    )
    for name, value, check in checks:
        if expected := check(value):
            raise ConfigError(f"{env_name(name)} is {value!r}; it accepts {expected}.")


def check_providers(settings: Settings) -> TransportOptions:
    """Raise ConfigError for the first provider setting that cannot be used; return the
    transport options, built once, for the composition root to keep."""
    options = check_transport(settings)
    check_webhooks(settings)
    if problem := check_bounce_address(settings):
        raise ConfigError(f"{problem}.")
    return options
