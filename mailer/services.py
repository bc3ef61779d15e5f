"""The one composition root: every entry point (web, CLI, scheduler, workers) builds this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.delivery.transports import TransportOptions, transport_from_dsn
from mailer.delivery.transports.base import Transport
from mailer.startup import check_settings, warn_unknown

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class TimeoutSession(requests.Session):
    """A requests session that never waits forever: every call gets the default timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "newsletter-mailer/0.1"

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, **kwargs)


@dataclass
class Services:
    """What the use cases need, built once per process."""

    settings: Settings
    db: Database
    http: requests.Session
    clock: Clock = system_clock
    transport_options: TransportOptions = field(default_factory=TransportOptions, repr=False)
    _transport: Transport | None = field(default=None, repr=False)

    @property
    def transport(self) -> Transport:
        """Built on first use, so commands that send nothing never open a connection."""
        if self._transport is None:
            self._transport = self.new_transport()
        return self._transport

    def new_transport(self) -> Transport:
        """A fresh transport for one sending worker (SMTP connections are not shared)."""
        if self._transport is not None and not self._transport.holds_connection:
            return self._transport  # nothing held between calls: every worker may share it
        return transport_from_dsn(self.settings.transport, self.transport_options, self.http)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.http.close()
        self.db.dispose()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment, warn about MAILER_* names that are no setting, run the checks."""
    settings = Settings.from_env(environ)
    warn_unknown(environ)
    check_settings(settings)
    return settings


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> Services:
    """Wire settings to a database, an HTTP session, a transport and a clock; settings a
    provider or production cannot use raise ConfigError here, before anything runs."""
    if settings is None:
        settings = Settings.from_env()
        warn_unknown()
    options = check_settings(settings)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings,
        db=Database(settings.effective_database_url),
        http=TimeoutSession(settings.http_timeout),
        clock=clock or system_clock,
        transport_options=options,
        _transport=transport,
    )
