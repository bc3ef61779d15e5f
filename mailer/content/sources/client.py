"""The HTTP client sources are read with: checked addresses only, and one deadline per fetch.

requests' timeout bounds each socket read, so a server sending a byte every few seconds could
hold a fetch for as long as it liked. Here every fetch runs inside a Budget: connections are
made only to the addresses the Budget resolved and checked (so DNS cannot change between the
check and the connect), and when its deadline passes a timer shuts down every socket it
opened, whatever phase the fetch is in (TLS handshake, headers, body).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from contextvars import ContextVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from mailer.content.sources.guard import checked_addresses, host_key, parse_allowlist

_CURRENT: ContextVar[Budget | None] = ContextVar("source_fetch_budget", default=None)


class Budget:
    """One fetch's deadline and the addresses it checked; entered with `with`."""

    def __init__(self, seconds: float, allowed: frozenset[tuple[str, int | None]]) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds  # restarted on entering
        self.allowed = allowed
        self.pinned: dict[tuple[str, int], list[str]] = {}
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Budget:
        self.deadline = time.monotonic() + self.seconds
        self._token = _CURRENT.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _CURRENT.reset(self._token)

    def left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def pin(self, url: str) -> None:
        """Resolve and check the URL's host before any connection to it (raises Refused)."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = host_key(parts.hostname or "")
        if (host, port) not in self.pinned:
            self.pinned[(host, port)] = checked_addresses(host, port, self.allowed, self.left())

    def watch(self, sock: socket.socket) -> None:
        """Cut this socket when the deadline passes (or now, if it has)."""
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """Unblock any read on the socket; the plain socket call, so TLS state is left alone."""
    with contextlib.suppress(OSError):  # closed or detached already
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Guarded:
    """Mixed into urllib3's connections: connect only to the Budget's checked addresses."""

    host: str
    port: int
    timeout: float | None
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        budget = _CURRENT.get()
        addresses = budget.pinned.get((host_key(self.host), self.port)) if budget else None
        if not addresses:
            raise NewConnectionError(self, "sources connect only to checked addresses")
        error: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            budget.watch(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(min(self.timeout or budget.seconds, budget.left()))
            try:
                sock.connect((address, self.port))
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise NewConnectionError(self, f"cannot connect to {self.host}: {error}")

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        budget = _CURRENT.get()
        if budget is not None and self.sock is not None:
            budget.watch(self.sock)  # the TLS socket that replaced the plain one

    def request(self, *args, **kwargs) -> None:
        budget = _CURRENT.get()
        if budget is not None and self.sock is not None:
            budget.watch(self.sock)  # a kept-alive connection from an earlier fetch
        super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class SourceSession(requests.Session):
    """The only session sources are fetched with; no proxies or .netrc from the environment."""

    def __init__(
        self, *, read_timeout: float, deadline: float, allow_hosts: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.trust_env = False  # a proxy would connect where the address check cannot see
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.allowed = parse_allowlist(allow_hosts)
        adapter = _GuardedAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "newsletter-mailer/0.1"

    def budget(self, seconds: float | None = None) -> Budget:
        return Budget(self.deadline if seconds is None else seconds, self.allowed)
