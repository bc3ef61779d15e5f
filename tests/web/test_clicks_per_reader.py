"""per_reader click counting: the issue is rendered once, each message's links name its reader."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.core.models import Delivery, ReaderClick, Subscriber
from mailer.editions.clicks.counts import digest_clicks
from mailer.readers.privacy import export_data, forget
from tests.fixtures.mailing import add_subscribers, send_now
from tests.web.test_clicks import BROWSER, click

LINK = re.compile(r'href="(http://localhost/r/[^"]+)"')


@pytest.fixture
def settings_overrides():
    return {"click_tracking": "per_reader", "send_rate": 1000.0}


def links_by_reader(settings) -> dict[str, list[str]]:
    found = {}
    for path in Path(settings.transport.removeprefix("file://")).glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        html = message.get_body(("html",)).get_content()
        found[message["To"]] = list(dict.fromkeys(LINK.findall(html)))
    return found


@pytest.fixture
def sent(client, db, settings, approved_digest, now):
    """The digest sent to two readers; the app's clock an hour after it was handed over."""
    add_subscribers(db, now, 2)
    assert send_now(db, settings, approved_digest).sent == 2
    with db.session() as session:
        handed = max(session.scalars(select(Delivery.handed_at)).all())
        ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
    svc = client.application.extensions["mailer"]
    svc.clock = lambda: handed + timedelta(hours=1)
    return approved_digest, links_by_reader(settings), ids, svc, handed


def reader_rows(db) -> dict[int, int]:
    with db.session() as session:
        rows = session.scalars(select(ReaderClick)).all()
        return {r.subscriber_id: r.clicks for r in rows}


def test_each_message_carries_the_same_links_with_its_own_reader_part(sent):
    _digest, links, _ids, _svc, _handed = sent
    first, second = links["reader0@example.com"], links["reader1@example.com"]
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        assert a.split("?r=")[0] == b.split("?r=")[0]  # one rendering for everyone
        assert "?r=" in a and a != b


def test_clicks_are_counted_per_link_and_per_reader(client, db, sent):
    digest_id, links, ids, _svc, _handed = sent
    click(client, links["reader0@example.com"][0], ip="198.51.100.1")
    click(client, links["reader0@example.com"][0], ip="198.51.100.2")
    click(client, links["reader1@example.com"][0], ip="198.51.100.3")
    assert reader_rows(db) == {ids["reader0@example.com"]: 2, ids["reader1@example.com"]: 1}
    [link] = digest_clicks(db, digest_id).values()
    assert (link.clicks, link.readers) == (3, 2)


def test_a_click_seconds_after_hand_over_is_a_scanner_and_names_nobody(client, db, sent):
    digest_id, links, _ids, svc, handed = sent
    svc.clock = lambda: handed + timedelta(seconds=2)
    assert click(client, links["reader0@example.com"][0]).status_code == 302
    [link] = digest_clicks(db, digest_id).values()
    assert (link.clicks, link.machine["machine_early"]) == (0, 1)
    assert reader_rows(db) == {}


def test_a_burst_takes_back_the_readers_clicks_too(client, db, sent):
    digest_id, links, _ids, _svc, _handed = sent
    for url in links["reader0@example.com"][:4]:
        click(client, url, ip="192.0.2.8")
    assert sum(link.clicks for link in digest_clicks(db, digest_id).values()) == 0
    assert set(reader_rows(db).values()) <= {0}


def test_a_damaged_reader_part_still_redirects_and_counts_for_nobody(client, db, sent):
    digest_id, links, _ids, _svc, _handed = sent
    base = links["reader0@example.com"][0].split("?r=")[0]
    response = click(client, base + "?r=forged.token", agent=BROWSER)
    assert response.status_code == 302
    assert sum(link.clicks for link in digest_clicks(db, digest_id).values()) == 1
    assert reader_rows(db) == {}


def test_a_reader_sees_their_clicks_in_their_data_and_forgetting_deletes_them(
    client, db, sent, now
):
    _digest_id, links, ids, _svc, _handed = sent
    click(client, links["reader0@example.com"][0])
    reader = ids["reader0@example.com"]
    [row] = export_data(db, reader)["clicks"]
    assert row["clicks"] == 1 and row["digest"] == "2026-W48" and row["link"]
    forget(db, reader, now)
    assert reader_rows(db) == {}


def test_the_desk_shows_how_many_readers_clicked(client, db, now, sent):
    from tests.web.test_hooks_delivery import desk_page

    digest_id, links, _ids, _svc, _handed = sent
    click(client, links["reader0@example.com"][0], ip="198.51.100.1")
    click(client, links["reader1@example.com"][0], ip="198.51.100.2")
    page = desk_page(client, db, now, digest_id)
    assert "<th>readers</th>" in page
    assert "2 clicks by readers on 2 messages sent" in page
