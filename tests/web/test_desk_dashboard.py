"""The dashboard's chart counts every reader who arrived, imported ones too, on a labelled axis."""

import io
import re

from mailer.editions import figures
from mailer.readers.roster import import_subscribers, read_rows
from tests.fixtures.editors import signed_in


def test_imported_readers_show_in_the_weekly_flow(db, now, settings):
    rows = "email\n" + "".join(f"r{n}@example.com\n" for n in range(7))
    import_subscribers(db, read_rows(io.StringIO(rows)), now, confirmed=True)
    import_subscribers(db, read_rows(io.StringIO("email\np@example.com\n")), now, confirmed=False)
    week = figures.weekly_flow(db, now, settings.zone)[-1]
    assert (week.week, week.joins, week.imported, week.leaves) == ("2026-W48", 0, 7, 0)


def test_the_chart_has_an_axis_and_numbers(client, db, now, accounts):
    rows = "email\n" + "".join(f"r{n}@example.com\n" for n in range(7))
    import_subscribers(db, read_rows(io.StringIO(rows)), now, confirmed=True)
    page = signed_in(client).get("/admin/").get_data(as_text=True)
    chart = page[page.index('<svg class="chart"') : page.index("</svg>")]
    ticks = re.findall(r'text-anchor="end" fill="currentColor">([\d,]+)</text>', chart)
    assert ticks == ["0", "5", "10"]  # a round top above the largest week
    assert ">7</text>" in chart  # the week's bar says its number
    assert "2026-W48: 0 joined, 7 imported, 0 left" in chart


def test_axis_tops_are_round():
    assert [figures.axis_top(n) for n in (1, 3, 7, 12, 180, 2001)] == [1, 5, 10, 20, 200, 5000]
