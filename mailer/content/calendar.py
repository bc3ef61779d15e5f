"""The newsroom's calendar: ISO weeks as period keys such as 2019-W04 (a daily newsletter's
are days such as 2019-01-21), in the site's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def period_bounds(key: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of an ISO week, or of a day, in UTC: local
    midnight to midnight."""
    if _DAY.match(key):
        day = parse_day(key)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)
    year, week = parse_period(key)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
