"""The per-process rate-limit storage: fixed windows that end on time, and no thread per hit."""

from __future__ import annotations

import threading
import time

from mailer.web.limit_storage import SWEEP_EVERY, ProcessMemoryStorage
from mailer.web.limits import limiter


def test_counts_within_a_window_and_start_again_after_it():
    storage = ProcessMemoryStorage()
    assert [storage.incr("signup/1.2.3.4", 1) for _ in range(3)] == [1, 2, 3]
    assert storage.get("signup/1.2.3.4") == 3 and storage.get("other") == 0
    assert time.time() < storage.get_expiry("signup/1.2.3.4") <= time.time() + 1
    time.sleep(1.05)
    assert storage.get("signup/1.2.3.4") == 0
    assert storage.incr("signup/1.2.3.4", 1) == 1
    storage.clear("signup/1.2.3.4")
    assert storage.get("signup/1.2.3.4") == 0
    storage.incr("a", 60)
    assert storage.reset() == 1 and storage.get("a") == 0


def test_a_hit_starts_no_thread():
    storage = ProcessMemoryStorage()
    before = threading.active_count()
    for n in range(200):
        storage.incr(f"key{n % 7}", 60)
    assert threading.active_count() == before


def test_expired_keys_are_dropped_as_writes_go_on():
    storage = ProcessMemoryStorage()
    for n in range(SWEEP_EVERY // 2):
        storage.incr(f"old{n}", 0)  # ends at once
    for _ in range(SWEEP_EVERY):
        storage.incr("live", 60)
    assert storage.get("live") == SWEEP_EVERY
    assert len(storage._counts) == 1  # the bound is the point of the test


def test_the_app_counts_in_it_by_default(app):
    with app.app_context():
        assert isinstance(limiter.storage, ProcessMemoryStorage)
