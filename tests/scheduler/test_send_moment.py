"""When the desk says an approved issue goes: the slot the tick would send it in."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from mailer.scheduler.slots import send_moment

LONDON = ZoneInfo("Europe/London")
BUILD, SEND = "0 18 * * sun", "0 7 * * mon"  # the defaults: built Sunday, sent Monday
GRACE = timedelta(days=6)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_week_built_on_sunday_goes_on_monday_morning():
    # Sunday 29 Nov 18:00 builds 2026-W48; Monday 30 Nov 07:00 sends it.
    now = utc(2026, 11, 25, 12)
    assert send_moment(BUILD, SEND, LONDON, "2026-W48", now, GRACE) == ("at", utc(2026, 11, 30, 7))


def test_a_slot_just_passed_is_due_at_the_next_tick():
    now = utc(2026, 11, 30, 9)
    assert send_moment(BUILD, SEND, LONDON, "2026-W48", now, GRACE) == ("due", utc(2026, 11, 30, 7))


def test_a_slot_taken_over_by_the_next_week_is_missed():
    now = utc(2026, 12, 7, 9)  # 2026-W49's send time has passed: W48's will not come again
    assert send_moment(BUILD, SEND, LONDON, "2026-W48", now, GRACE) == ("missed", None)
    assert send_moment(BUILD, SEND, LONDON, "2026-W49", now, GRACE)[0] == "due"


def test_summer_time_slots_are_local_mornings():
    now = utc(2026, 7, 1, 12)  # 2026-W27, built Sunday 5 July, sent Monday 6 July 07:00 BST
    assert send_moment(BUILD, SEND, LONDON, "2026-W27", now, GRACE) == ("at", utc(2026, 7, 6, 6))
