"""Special editions' keys: unique per day, within the period column, never mistaken for a week."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mailer.content.calendar import parse_period, period_bounds, special_day, special_key

LONDON = ZoneInfo("Europe/London")


def test_a_special_key_names_its_day_and_fits_the_period_column():
    key = special_key(date(2026, 12, 2), 999999)
    assert key == "S20261202-999999" and len(key) <= 16
    assert special_day(key) == date(2026, 12, 2)
    for other in ("2026-W48", "S20261302-1", "S20261202-0", "S20261202-", "s20261202-1x"):
        assert special_day(other) is None, other
    with pytest.raises(ValueError):
        parse_period("S20261202-1")  # a build never takes a special's key for a week


def test_a_special_edition_covers_the_seven_days_up_to_its_day():
    start, end = period_bounds("S20261202-3", LONDON)
    assert (start, end) == (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    assert period_bounds("2026-W48", LONDON)[0] == datetime(2026, 11, 23, tzinfo=UTC)
