"""Per-process rate-limit counters that expire when read, with no timer thread per request.

The `limits` package's memory storage starts a thread to expire counters whenever its last one
has finished, which under load is a thread start on most requests: on a busy machine that is
milliseconds of a signup's answer. Fixed windows need only a count and an end time per key.
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage

SWEEP_EVERY = 1000  # writes between passes that drop expired keys, so memory stays bounded


class ProcessMemoryStorage(Storage):
    """`memory://` for this app: counts per key in this process, each with its window's end."""

    STORAGE_SCHEME = ["mailer-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self._counts: dict[str, int] = {}
        self._ends: dict[str, float] = {}
        self._lock = threading.Lock()
        self._writes = 0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def _expire(self, key: str, now: float) -> None:
        end = self._ends.get(key)
        if end is not None and end <= now:
            del self._ends[key]
            self._counts.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            for key in [k for k, end in self._ends.items() if end <= now]:
                self._expire(key, now)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._sweep(now)
            self._expire(key, now)
            count = self._counts.get(key, 0) + amount
            self._counts[key] = count
            if count == amount:
                self._ends[key] = now + expiry
            return count

    def get(self, key: str) -> int:
        with self._lock:
            self._expire(key, time.time())
            return self._counts.get(key, 0)

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._ends.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            dropped = len(self._counts)
            self._counts.clear()
            self._ends.clear()
            return dropped

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._ends.pop(key, None)
