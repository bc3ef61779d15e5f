"""The newsroom's calendar: ISO weeks as period keys such as 2019-W04, in the site's time zone,
special editions' keys such as S20261202-1 (the day it was composed, then a counter), and a daily
newsletter's days such as 2019-01-21."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SPECIAL = re.compile(r"^S(\d{4})(\d{2})(\d{2})-([1-9]\d{0,5})$")
SPECIAL_DAYS = 7  # a special edition's period: the week of days up to and including its day


def period_key(moment: datetime, zone: ZoneInfo) -> str:
    """The ISO week that contains `moment` in the newsroom's zone, e.g. 2019-W04."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_period(key: str) -> tuple[int, int]:
    match = _PERIOD.match(key)
    if not match:
        raise ValueError(f"{key!r} is not a week such as 2019-W04")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{key!r} is not a week of {year}") from None
    return year, week


def day_key(moment: datetime, zone: ZoneInfo) -> str:
    """The day that contains `moment` in the newsroom's zone, e.g. 2019-01-21."""
    return moment.astimezone(zone).date().isoformat()


def parse_day(key: str) -> date:
    if not _DAY.match(key):
        raise ValueError(f"{key!r} is not a day such as 2019-01-21")
    try:
        return date.fromisoformat(key)
    except ValueError:
        raise ValueError(f"{key!r} is not a day of the calendar") from None


def special_key(day: date, number: int) -> str:
    """The key of the day's `number`th special edition, e.g. S20261202-1 (fits 16 characters)."""
    return f"S{day:%Y%m%d}-{number}"


def special_day(key: str) -> date | None:
    """The day of a special edition's key; None for any other key (a week's among them)."""
    match = _SPECIAL.match(key)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def period_bounds(key: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of an ISO week in UTC: local midnight to midnight;
    for a special edition's key, the SPECIAL_DAYS days that end with its day; for a day (a daily
    newsletter's issue), that day."""
    if _DAY.match(key):
        day = parse_day(key)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)
    day = special_day(key)
    if day is not None:
        monday = day - timedelta(days=SPECIAL_DAYS - 1)  # not a Monday: the week up to the day
    else:
        year, week = parse_period(key)
        monday = date.fromisocalendar(year, week, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
