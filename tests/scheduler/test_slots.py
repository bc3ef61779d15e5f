import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mailer.core.db import Database
from mailer.scheduler.slots import claim_slot, interval_slot, last_fire_time

LONDON = ZoneInfo("Europe/London")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_last_fire_time_of_a_weekly_build():
    # Sunday 2026-11-29 18:00 London is 18:00 UTC (winter time)
    assert last_fire_time("0 18 * * sun", LONDON, utc(2026, 11, 29, 18, 0)) == utc(
        2026, 11, 29, 18, 0
    )
    assert last_fire_time("0 18 * * sun", LONDON, utc(2026, 11, 29, 17, 59)) == utc(
        2026, 11, 22, 18, 0
    )


def test_fire_times_follow_local_time_across_dst():
    # Summer: Sunday 2026-07-05 18:00 London is 17:00 UTC
    assert last_fire_time("0 18 * * sun", LONDON, utc(2026, 7, 5, 17, 30)) == utc(2026, 7, 5, 17, 0)


def test_a_time_skipped_by_spring_forward_fires_once_after_the_gap():
    # 2026-03-29: London clocks jump 01:00 -> 02:00; a 01:30 job must still run that day
    fire = last_fire_time("30 1 * * *", LONDON, utc(2026, 3, 29, 3, 0))
    assert fire is not None
    assert fire.date().isoformat() == "2026-03-29"


def test_a_time_repeated_by_fall_back_keeps_one_slot(db, now):
    # 2026-10-25: London clocks go 02:00 -> 01:00, so 01:30 local happens twice
    first = last_fire_time("30 1 * * *", LONDON, utc(2026, 10, 25, 0, 45))
    second = last_fire_time("30 1 * * *", LONDON, utc(2026, 10, 25, 1, 45))
    assert first is not None and second is not None
    slots = [f"daily:{fire.astimezone(LONDON).date()}" for fire in (first, second)]
    assert slots[0] == slots[1]
    assert claim_slot(db, "daily", slots[0], now) is True
    assert claim_slot(db, "daily", slots[1], now) is False


def test_interval_slot_changes_every_period():
    assert interval_slot(utc(2026, 1, 1, 10, 5), 60) == interval_slot(utc(2026, 1, 1, 10, 55), 60)
    assert interval_slot(utc(2026, 1, 1, 10, 5), 60) != interval_slot(utc(2026, 1, 1, 11, 5), 60)


def test_claim_slot_once_across_threads(migrated_database_url, now):
    winners = []

    def claim():
        db = Database(migrated_database_url)
        if claim_slot(db, "build", "2026-W48", now):
            winners.append(1)
        db.dispose()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert winners == [1]
