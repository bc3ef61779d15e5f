"""The one composition root: every entry point (web, CLI, scheduler, workers) builds this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter

from mailer.content.sources.client import SourceSession
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.delivery.transports import transport_from_dsn
from mailer.delivery.transports.base import Transport

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
    _transport: Transport | None = field(default=None, repr=False)
    _source_http: SourceSession | None = field(default=None, repr=False)

    @property
    def transport(self) -> Transport:
        """Built on first use, so commands that send nothing never open a connection."""
        if self._transport is None:
            self._transport = transport_from_dsn(
                self.settings.transport, settings=self.settings, http=self.http
            )
        return self._transport

    @property
    def source_http(self) -> SourceSession:
        """The session sources are fetched with: checked addresses, one deadline a fetch."""
        if self._source_http is None:
            self._source_http = SourceSession(
                read_timeout=self.settings.http_timeout,
                deadline=self.settings.source_deadline,
                allow_hosts=self.settings.source_allow_hosts,
            )
        return self._source_http

    def new_transport(self) -> Transport:
        """A fresh transport for one sending worker (SMTP connections are not shared)."""
        if self._transport is not None and not hasattr(self._transport, "conn"):
            return self._transport  # a stateless backend handed in by the caller
        return transport_from_dsn(self.settings.transport, settings=self.settings, http=self.http)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.http.close()
        if self._source_http is not None:
            self._source_http.close()
        self.db.dispose()


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
) -> Services:
    """Wire settings to a database, an HTTP session, a transport and a clock."""
    settings = settings or Settings.from_env()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings,
        db=Database(settings.effective_database_url),
        http=TimeoutSession(settings.http_timeout),
        clock=clock or system_clock,
        _transport=transport,
    )
