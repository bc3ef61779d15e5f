"""Token buckets: the rate and burst hold, across threads and across bucket objects sharing a row.

Two SharedBucket objects on one database stand for workers on two hosts.
"""

import threading
import time
from dataclasses import replace

import pytest

from mailer.delivery.ratelimit import LocalBucket, SharedBucket, bucket_for, pause_remaining, refill
from tests.fixtures.http import Response
from tests.fixtures.mailing import add_subscribers, send_now


@pytest.fixture
def settings_overrides():
    """Sending here uses the shared bucket, as workers on the queue do."""
    return {"retry_base_seconds": 0.05, "send_rate": 1000.0, "queue": "procrastinate"}


def test_refill_caps_at_capacity_and_says_how_long_to_wait():
    assert refill(0.0, 100.0, rate=10, capacity=10, count=1) == (9.0, 0.0)
    tokens, wait = refill(0.0, 0.0, rate=10, capacity=10, count=2)
    assert tokens == 0.0 and wait == pytest.approx(0.2)
    # a batch bigger than the burst waits for a full bucket, then drains it below zero
    assert refill(10.0, 0.0, rate=10, capacity=10, count=50) == (-40.0, 0.0)
    assert refill(3.0, 0.0, rate=10, capacity=10, count=50)[1] == pytest.approx(0.7)


def take_from_threads(buckets, takes_each: int) -> float:
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda b=b: [b.take() for _ in range(takes_each)]) for b in buckets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def test_local_bucket_holds_the_rate_over_threads():
    bucket = LocalBucket(rate=100)
    elapsed = take_from_threads([bucket] * 4, 50)  # 200 takes: 100 from the burst, 100 at rate
    assert elapsed >= 0.9


def test_shared_bucket_holds_one_rate_over_two_hosts(db):
    one, two = SharedBucket(db, rate=50), SharedBucket(db, rate=50)
    elapsed = take_from_threads([one, two, one, two], 25)  # 100 takes: 50 burst + 50 at rate
    assert elapsed >= 0.9


def test_a_pause_on_one_host_stops_the_other(db):
    one, two = SharedBucket(db, rate=1000), SharedBucket(db, rate=1000)
    one.pause(1.0)
    left = pause_remaining(db)
    assert left is not None and 0.5 < left.total_seconds() <= 1.0
    started = time.monotonic()
    two.take()
    assert time.monotonic() - started >= 0.5
    assert pause_remaining(db) is None


def test_bucket_for_shares_only_on_the_queue(db, settings):
    assert isinstance(bucket_for(db, replace(settings, queue="none")), LocalBucket)
    assert isinstance(bucket_for(db, replace(settings, queue="procrastinate")), SharedBucket)


def test_a_providers_429_pauses_every_worker_through_the_database(
    db, settings, now, approved_digest, postmark_fake, http_server
):
    add_subscribers(db, now, 60)
    http_server.expect(
        "POST",
        "/email/batch",
        Response(429, {"ErrorCode": 429, "Message": "slow down"}, {"Retry-After": "2"}),
    )
    reports = []
    sender = threading.Thread(
        target=lambda: reports.append(
            send_now(db, settings, approved_digest, postmark_fake.dsn, time_budget=30)
        )
    )
    sender.start()
    deadline = time.monotonic() + 10
    while pause_remaining(db) is None and time.monotonic() < deadline:
        time.sleep(0.02)  # until the 429 is answered and its pause is in the database
    assert pause_remaining(db) is not None
    other_host = SharedBucket(db, rate=1000)
    started = time.monotonic()
    other_host.take()  # a worker elsewhere waits for the Retry-After too
    waited = time.monotonic() - started
    sender.join(timeout=30)
    assert waited >= 1.0
    assert reports and reports[0].done and reports[0].sent == 60
