import re

import pytest
from sqlalchemy import select

from mailer.core.models import AuditEntry
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.editions import digests, editing
from mailer.services import system_clock
from tests.fixtures.editors import signed_in, token


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn()}


def test_digest_page_previews_the_exact_message(client, accounts, draft):
    page = signed_in(client).get(f"/admin/digests/{draft}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'sandbox src="/admin/digests/1/preview.html"' in html
    assert "Plain-text part" in html and "Hello Sam," in html
    preview = client.get(f"/admin/digests/{draft}/preview.html")
    assert preview.headers["Content-Security-Policy"].startswith("sandbox")
    assert "Related coverage" in preview.get_data(as_text=True)


def test_editor_reorders_and_every_change_is_recorded(client, db, accounts, draft):
    signed_in(client)
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    digest = digests.find_digest(db, draft)
    second = sorted(digest.items, key=lambda i: i.position)[1]
    response = client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "up", "item": second.id, "csrf_token": token(html)},
    )
    assert response.status_code == 303
    after = sorted(digests.find_digest(db, draft).items, key=lambda i: i.position)
    assert after[0].id == second.id
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action) == ("ed@example.com", "reorder")


def test_viewer_may_look_but_not_change(client, db, accounts, draft):
    signed_in(client, "view@example.com")
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "Approve" not in html
    response = client.post(
        f"/admin/digests/{draft}/act", data={"action": "approve", "csrf_token": token(html)}
    )
    assert response.status_code == 403
    assert digests.find_digest(db, draft).status == "draft"


def test_bad_actions_are_readable_not_500(client, accounts, draft):
    signed_in(client)
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    unknown = client.post(
        f"/admin/digests/{draft}/act", data={"action": "explode", "csrf_token": token(html)}
    )
    assert unknown.status_code == 400
    bad = client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "up", "item": "x", "csrf_token": token(html)},
        follow_redirects=True,
    )
    assert "Not done: item must be a number" in bad.get_data(as_text=True)
    assert client.get("/admin/digests/999").status_code == 404
    no_csrf = client.post(f"/admin/digests/{draft}/act", data={"action": "approve"})
    assert no_csrf.status_code == 400


def test_test_send_and_approval(client, db, settings, accounts, draft, smtp_server):
    signed_in(client)
    html = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    client.post(
        f"/admin/digests/{draft}/test",
        data={"addresses": "desk@example.com, Chief@Example.com", "csrf_token": token(html)},
    )
    drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)
    got = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    assert set(got) == {"desk@example.com", "chief@example.com"}
    assert got["desk@example.com"]["Subject"].startswith("[TEST] ")
    assert got["desk@example.com"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "approve", "confirm": "yes", "csrf_token": token(html)},
    )
    assert digests.find_digest(db, draft).status == "approved"


def test_suggestions_say_why_in_words_not_scores(client, accounts, draft, db):
    signed_in(client)
    item = sorted(digests.find_digest(db, draft).items, key=lambda i: i.position)[0]
    removed = list(item.related)
    for related in removed:  # an empty box: everything the method finds is suggested
        editing.remove_related(db, draft, related.id, "ed@example.com", item.published_at)
    page = client.get(f"/admin/digests/{draft}/suggest/{item.id}").get_data(as_text=True)
    assert "Related coverage for" in page
    assert any(r.title in page for r in removed)  # what the editor removed comes back
    assert re.search(r"<td>Both (name|mention) [^<]+</td>", page)
    assert not re.search(r"<td>0\.\d+</td>", page)  # no four-decimal scores


def test_archive_shows_only_sent_issues_without_personal_links(client, db, settings, now, draft):
    assert client.get("/archive/2026-W48").status_code == 404
    with db.session() as session:
        from mailer.core.models import Digest

        session.get(Digest, draft).status = "sent"
    listing = client.get("/archive").get_data(as_text=True)
    assert "2026-W48" in listing
    issue = client.get("/archive/2026-W48").get_data(as_text=True)
    assert "/unsubscribe/" not in issue and "%%" not in issue
    assert "Related coverage" in issue
