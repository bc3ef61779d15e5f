"""The desk's special editions: compose from the picker or around a breaking story, then the
digest page previews, tests, schedules, approves and sends it; the archive marks it."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.content.demo import load_demo
from mailer.core.models import Article, AuditEntry
from mailer.editions import digests
from tests.fixtures.editors import signed_in, token
from tests.fixtures.mailing import add_subscribers, delivery_states, send_now


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0}


@pytest.fixture
def demo(db, settings, now):
    load_demo(db, now, settings.zone, settings.base_url)
    with db.session() as session:
        return {a.id: a.title for a in session.scalars(select(Article))}


def test_an_editor_composes_tests_approves_and_sends_a_special(
    client, db, settings, now, accounts, demo, smtp_server
):
    signed_in(client)
    page = client.get("/admin/specials/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Compose a special edition" in html
    offered = [int(i) for i in re.findall(r'name="article" value="(\d+)"', html)]
    with db.session() as session:
        recent = session.scalars(
            select(Article.id)
            .where(Article.published_at >= now - timedelta(days=14), Article.published_at <= now)
            .order_by(Article.published_at.desc(), Article.id.desc())
        ).all()
    assert offered == recent and len(recent) < len(demo)  # the last 14 days, newest first
    word = demo[offered[0]].split()[0]
    found = client.get("/admin/specials/", query_string={"q": word}).get_data(as_text=True)
    assert all(
        word.lower() in demo[int(i)].lower()
        for i in re.findall(r'name="article" value="(\d+)"', found)
    )

    response = client.post(
        "/admin/specials/",
        data={"mode": "articles", "article": [offered[2], offered[0]], "title": "Comet night",
              "at": "", "csrf_token": token(html)},
    )  # fmt: skip
    assert response.status_code == 303
    digest_id = int(response.headers["Location"].rsplit("/", 1)[1])
    digest = digests.find_digest(db, digest_id)
    assert (digest.kind, digest.period_key, digest.subject) == (
        "special",
        "S20261125-1",
        "Comet night",
    )
    assert [i.article_id for i in digest.items] == [offered[2], offered[0]]

    desk = client.get(f"/admin/digests/{digest_id}").get_data(as_text=True)
    assert "special edition</span>" in desk and "Rebuild from the archive" not in desk
    assert "when someone presses Send now (no send time is set)" in desk
    preview = client.get(f"/admin/digests/{digest_id}/preview.html").get_data(as_text=True)
    assert "Special edition, Wednesday 25 November 2026" in preview

    act = f"/admin/digests/{digest_id}/act"
    client.post(
        act, data={"action": "schedule", "at": "2026-11-26T09:30", "csrf_token": token(desk)}
    )
    assert (
        digests.find_digest(db, digest_id).scheduled_for.isoformat() == "2026-11-26T09:30:00+00:00"
    )
    client.post(act, data={"action": "schedule", "at": "yesterday", "csrf_token": token(desk)})
    desk = client.get(f"/admin/digests/{digest_id}").get_data(as_text=True)
    assert "Not done: &#39;yesterday&#39; is not a time" in desk
    assert "Thursday 26 November 2026 at 09:30" in desk
    client.post(act, data={"action": "schedule", "at": "", "csrf_token": token(desk)})
    assert digests.find_digest(db, digest_id).scheduled_for is None

    client.post(
        f"/admin/digests/{digest_id}/test",
        data={"addresses": "desk@example.com", "csrf_token": token(desk)},
    )
    unconfirmed = client.post(act, data={"action": "send_now", "csrf_token": token(desk)})
    assert unconfirmed.status_code == 200 and digests.find_digest(db, digest_id).status == "draft"
    client.post(act, data={"action": "approve", "confirm": "yes", "csrf_token": token(desk)})
    add_subscribers(db, now, 3)
    client.post(act, data={"action": "send_now", "confirm": "yes", "csrf_token": token(desk)})
    assert digests.find_digest(db, digest_id).status == "sending"
    send_now(db, settings, digest_id)
    assert sorted(delivery_states(db, digest_id).values()) == ["sent"] * 3
    subjects = {m.rcpt_tos[0]: m.message["Subject"] for m in smtp_server.messages}
    assert subjects["desk@example.com"] == "[TEST] Comet night"
    assert subjects["reader0@example.com"] == "Comet night"
    test_mail = next(m.message for m in smtp_server.messages if m.rcpt_tos[0] == "desk@example.com")
    body = test_mail.get_body(("plain",)).get_content()
    signed = re.search(r"http://localhost(/preview/\S+)", body).group(1)
    shown = client.get(signed).get_data(as_text=True)  # the signed preview of the special
    assert "Special edition, Wednesday 25 November 2026" in shown and "Comet night" in shown
    with db.session() as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target == "digest:S20261125-1")
            .order_by(AuditEntry.id)
        ).all()
    assert actions[0] == "compose" and {
        "schedule",
        "send test",
        "approve",
        "start",
        "settle",
    } <= set(actions)

    archive = client.get("/archive").get_data(as_text=True)
    assert "<strong>Special edition</strong>" in archive and "/archive/S20261125-1" in archive
    issue = client.get("/archive/S20261125-1").get_data(as_text=True)
    assert "Special edition, Wednesday 25 November 2026" in issue


def test_a_breaking_edition_and_bad_requests_get_clear_answers(client, db, accounts, demo):
    signed_in(client)
    html = client.get("/admin/specials/").get_data(as_text=True)
    csrf = token(html)
    lead = int(re.search(r'name="breaking" value="(\d+)"', html).group(1))
    made = client.post(
        "/admin/specials/",
        data={"mode": "breaking", "breaking": lead, "title": "Breaking", "csrf_token": csrf},
    )
    assert made.status_code == 303
    digest = digests.find_digest(db, int(made.headers["Location"].rsplit("/", 1)[1]))
    assert [i.article_id for i in digest.items] == [lead]

    for data, words in [
        ({"mode": "breaking", "title": "B"}, "choose the breaking story"),
        ({"mode": "articles", "title": "B"}, "not both, not neither"),
        ({"mode": "articles", "article": lead, "title": ""}, "needs a title"),
        ({"mode": "articles", "article": lead, "title": "B", "at": "2020-01-01T00:00"},
         "has passed"),
    ]:  # fmt: skip
        refused = client.post("/admin/specials/", data={**data, "csrf_token": csrf})
        assert refused.status_code == 303
        assert words in client.get("/admin/specials/").get_data(as_text=True)
    for data in (
        {"mode": "articles", "article": "12; drop", "title": "B"},
        {"mode": "x", "title": "B"},
    ):
        bad = client.post("/admin/specials/", data={**data, "csrf_token": csrf})
        assert bad.status_code == 400
    signed_in(client, "view@example.com")
    looked = client.get("/admin/specials/").get_data(as_text=True)
    assert "Compose a special edition" not in looked and "S20261125-1" in looked
    data = {"mode": "breaking", "breaking": lead, "title": "B", "csrf_token": token(looked)}
    assert client.post("/admin/specials/", data=data).status_code == 403


def test_with_two_newsletters_the_editor_chooses_whose_readers_get_it(
    client, db, accounts, demo, now
):
    from mailer.readers import newsletters

    newsletters.add(db, now, slug="alerts", name="Breaking alerts", cadence="manual")
    signed_in(client)
    html = client.get("/admin/specials/").get_data(as_text=True)
    assert '<select id="newsletter" name="newsletter">' in html and "Breaking alerts" in html
    lead = int(re.search(r'name="breaking" value="(\d+)"', html).group(1))
    data = {"mode": "breaking", "breaking": lead, "title": "Alert", "csrf_token": token(html)}
    made = client.post("/admin/specials/", data={**data, "newsletter": "alerts"})
    digest = digests.find_digest(db, int(made.headers["Location"].rsplit("/", 1)[1]))
    with db.session() as session:
        assert newsletters.find(session, "alerts").id == digest.newsletter_id
    client.post("/admin/specials/", data={**data, "newsletter": "nope"})
    assert "Not composed: no newsletter" in client.get("/admin/specials/").get_data(as_text=True)
