"""The desk's audience pages: segments with today's counts, the digest's audience, sunsetting."""

import re

import pytest
from sqlalchemy import select, update

from mailer.core.models import Delivery, Subscriber
from mailer.editions import digests
from tests.fixtures.editors import signed_in, token
from tests.fixtures.mailing import add_subscribers, send_now


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0, "click_tracking": "per_reader"}


def test_the_count_on_the_desk_is_who_the_send_reaches(
    client, db, settings, now, accounts, draft, smtp_server
):
    add_subscribers(db, now, 9)
    with db.session() as session:
        session.execute(update(Subscriber).where(Subscriber.id % 3 == 0).values(origin="import"))
    signed_in(client)
    page = client.get("/admin/segments").get_data(as_text=True)
    added = client.post(
        "/admin/segments",
        data={"name": "Imported", "source": "import", "csrf_token": token(page)},
        follow_redirects=True,
    )
    listing = added.get_data(as_text=True)
    assert "Segment imported saved by ed@example.com: 3 readers now." in listing
    assert "signed up through import" in listing

    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "Audience: every reader: 9 readers today" in html
    client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "target", "segment": "imported", "csrf_token": token(html)},
    )
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    shown = int(
        re.search(
            r"Audience: segment <strong>Imported</strong>.*?: (\d+) readers? today", html
        ).group(1)
    )
    assert f"once approved it would go to {shown} readers" in html
    client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "approve", "confirm": "yes", "csrf_token": token(html)},
    )
    assert digests.find_digest(db, draft).status == "approved"

    report = send_now(db, settings, draft)
    with db.session() as session:
        ledger = session.scalars(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.digest_id == draft, Delivery.status == "sent")
        ).all()
    recipients = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert report.sent == shown == len(ledger) == 3
    assert recipients == sorted(ledger) == [f"reader{i}@example.com" for i in (2, 5, 8)]


def test_a_bad_rule_is_a_400_saying_which_and_a_viewer_adds_nothing(client, accounts):
    signed_in(client)
    page = client.get("/admin/segments").get_data(as_text=True)
    bad = client.post(
        "/admin/segments",
        data={"name": "Odd", "confirmed_since": "2026-13-01", "csrf_token": token(page)},
    )
    assert bad.status_code == 400
    assert "Not saved: confirmed_since must be a date" in bad.get_data(as_text=True)
    both = client.post(
        "/admin/segments",
        data={
            "name": "Odd",
            "clicked_in_last_n_issues": "2",
            "not_clicked_in_last_n_issues": "2",
            "csrf_token": token(page),
        },
    )
    assert both.status_code == 400 and "not both" in both.get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": token(page)})
    signed_in(client, "view@example.com")
    page = client.get("/admin/segments").get_data(as_text=True)
    assert "Add a segment" not in page
    denied = client.post(
        "/admin/segments", data={"name": "Mine", "source": "form", "csrf_token": token(page)}
    )
    assert denied.status_code == 403


def test_the_sunset_page_counts_before_it_is_turned_on(client, accounts):
    page = signed_in(client).get("/admin/sunset").get_data(as_text=True)
    assert "Sunsetting is off" in page
    assert "0 readers would get the re-engagement mail" in page
    assert "Run it now" not in page
    refused = client.post(
        "/admin/sunset/run", data={"csrf_token": token(page)}, follow_redirects=True
    )
    assert "Not done: sunsetting is off" in refused.get_data(as_text=True)


def test_removing_a_segment_an_issue_targets_is_a_409(client, db, accounts, draft):
    signed_in(client)
    page = client.get("/admin/segments").get_data(as_text=True)
    client.post(
        "/admin/segments", data={"name": "Forms", "source": "form", "csrf_token": token(page)}
    )
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "target", "segment": "forms", "csrf_token": token(html)},
    )
    refused = client.post("/admin/segments/forms/remove", data={"csrf_token": token(page)})
    assert refused.status_code == 409 and "targets forms" in refused.get_data(as_text=True)
    missing = client.post("/admin/segments/nothing/remove", data={"csrf_token": token(page)})
    assert missing.status_code == 404
