"""Segment rules narrow the readers a send goes to: clicks (never opens) in the last issues."""

import pytest
from sqlalchemy import update

from mailer.core.models import Subscriber
from mailer.delivery import ledger
from mailer.editions.clicks.counts import LinkKey, record
from mailer.readers import segments
from tests.fixtures.audience import Roster


@pytest.fixture
def settings_overrides():
    return {"click_tracking": "per_reader"}


def _readers(db, rules) -> int:
    return ledger.reader_count(db, segments.validate_rules(rules, "per_reader"))


def test_click_rules_count_the_last_issues_and_never_opens(db, now):
    roster = Roster(db, now)
    everyone = (1, 2, 3, 4)
    roster.issue(everyone, clicks=(1,))
    second = roster.issue(everyone, clicks=(2,))
    roster.issue(everyone, clicks=(3,))
    # An open reported for reader 4 is no click.
    key = LinkKey(second, "open", 0, now.date(), "sendgrid")
    record(db, key, None, subscriber_id=4, now=now)
    assert _readers(db, {"clicked_in_last_n_issues": 2}) == 2  # readers 2 and 3
    assert _readers(db, {"clicked_in_last_n_issues": 3}) == 3
    assert _readers(db, {"not_clicked_in_last_n_issues": 2}) == 2  # readers 1 and 4
    with db.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == 2).values(origin="import"))
    both = {"clicked_in_last_n_issues": 3, "source": "import"}
    assert _readers(db, both) == 1
    assert ledger.reader_count(db) == 4  # the fifth paused herself


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ({"sql": "1=1"}, "unknown rule 'sql'"),
        ({"source": ["form", "x'; drop table subscribers; --"]}, "is not a plain word"),
        ({"clicked_in_last_n_issues": 0}, "between 1 and 52"),
        ({"clicked_in_last_n_issues": "many"}, "whole number"),
        ({"clicked_in_last_n_issues": 2, "not_clicked_in_last_n_issues": 2}, "not both"),
        ("source=form", "an object of known keys"),
    ],
)
def test_rules_outside_the_schema_are_refused(rules, words):
    with pytest.raises(segments.SegmentError, match=words):
        segments.validate_rules(rules, "per_reader")


def test_a_language_rule_holds_readers_with_none_recorded_when_it_names_the_default(db, now):
    roster = Roster(db, now)
    roster.issue((1, 2, 3, 4), clicks=())
    with db.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id == 1).values(language="de"))
        session.execute(update(Subscriber).where(Subscriber.id == 2).values(language="en"))
    offered = ("en", "de")  # the default first
    english = segments.validate_rules({"language": "en"}, "per_reader", offered)
    german = segments.validate_rules({"language": "de"}, "per_reader", offered)
    assert ledger.reader_count(db, english) == 3  # reader 2, and 3 and 4 who chose none
    assert ledger.reader_count(db, german) == 1
    with pytest.raises(segments.SegmentError, match="'fr' is not offered"):
        segments.validate_rules({"language": "fr"}, "per_reader", offered)
