"""The desk asks before what cannot be undone, keeps the editor's place, and says when an issue
goes, to whom, and why each story is in it."""

import io
import re

import pytest
from sqlalchemy import select

from mailer.core.models import AuditEntry
from mailer.editions import digests
from mailer.readers.roster import import_subscribers, read_rows
from mailer.readers.suppressions import suppress
from tests.fixtures.editors import signed_in, token
from tests.fixtures.readers import hidden_fields


def _stories(db, draft):
    return sorted(digests.find_digest(db, draft).items, key=lambda i: i.position)


def _audit_count(db) -> int:
    with db.session() as session:
        return len(session.scalars(select(AuditEntry.id)).all())


def _post(client, draft, html, **fields):
    data = {"csrf_token": token(html), **{k: str(v) for k, v in fields.items()}}
    return client.post(f"/admin/digests/{draft}/act", data=data)


@pytest.mark.parametrize("action", ["approve", "veto", "cancel"])
def test_an_unconfirmed_post_changes_nothing_and_asks(client, db, accounts, draft, action):
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    before = _audit_count(db)
    asked = _post(client, draft, html, action=action)
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert digests.find_digest(db, draft).status == "draft"
    assert _audit_count(db) == before  # nothing happened, nothing was recorded
    assert re.search(r"<h1>[^<]+\?</h1>", page) and "No, go back" in page
    # The page's own form is the confirmation: posting it as a browser would does the action.
    done = client.post(f"/admin/digests/{draft}/act", data=hidden_fields(page))
    assert done.status_code == 303
    after = digests.find_digest(db, draft)
    expected = {
        "approve": ("approved", False),
        "veto": ("draft", True),
        "cancel": ("cancelled", False),
    }
    assert (after.status, bool(after.vetoed)) == expected[action]
    assert _audit_count(db) == before + 1


def test_send_now_waits_for_its_confirmation(client, db, settings, now, accounts, draft):
    from mailer.editions import lifecycle

    lifecycle.approve(db, settings, draft, "ed@example.com", now)
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert 'class="small danger">Send now…' in html
    page = _post(client, draft, html, action="send_now").get_data(as_text=True)
    assert "Send this issue to every reader now?" in page
    assert digests.find_digest(db, draft).status == "approved"
    _post(client, draft, html, action="send_now", confirm="yes")
    assert digests.find_digest(db, draft).status == "sending"


def test_remove_asks_then_the_story_can_be_restored_where_it_was(client, db, accounts, draft):
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    second, third = _stories(db, draft)[1:3]
    asked = _post(client, draft, html, action="exclude", item=second.id, near=third.id)
    assert second.title in asked.get_data(as_text=True)
    assert len(_stories(db, draft)) == 5  # not removed yet
    removed = _post(
        client, draft, html, action="exclude", item=second.id, near=third.id, confirm="yes"
    )
    assert removed.headers["Location"].endswith(f"#story-{third.id}")  # the editor's place
    assert second.article_id not in {i.article_id for i in _stories(db, draft)}

    page = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    picker = page[page.index('id="add"') :]
    assert "removed by an editor" in picker
    assert picker.index(second.title) < picker.index("removed by an editor") < picker.index("Add<")
    restored = _post(client, draft, html, action="restore", article=second.article_id, position=1)
    back = _stories(db, draft)[1]
    assert (back.article_id, back.title) == (second.article_id, second.title)
    assert restored.headers["Location"].endswith(f"#story-{back.id}")


def test_picker_offers_the_weeks_other_articles(client, db, accounts, draft):
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    picker = html[html.index('id="add"') :]
    offered = re.findall(
        r'name="action" value="add_story">\s*<input type="hidden" name="article" value="(\d+)"',
        picker,
    )
    assert offered, "the picker lists the week's articles"
    in_issue = {i.article_id for i in _stories(db, draft)}
    assert not in_issue & {int(a) for a in offered}
    added = _post(client, draft, html, action="add_story", article=offered[0])
    last = _stories(db, draft)[-1]
    assert last.article_id == int(offered[0])
    assert added.headers["Location"].endswith(f"#story-{last.id}")


def test_moves_and_pins_return_to_the_same_story(client, db, accounts, draft):
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    third = _stories(db, draft)[2]
    for action in ("up", "pin", "unpin", "down"):
        response = _post(client, draft, html, action=action, item=third.id, near=third.id)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"#story-{third.id}")
    failed = _post(client, draft, html, action="up", item="999999", near=third.id)
    assert failed.headers["Location"].endswith(f"#story-{third.id}")  # and says why, there


def test_the_page_says_when_and_to_how_many_after_approval(
    client, db, settings, now, accounts, draft
):
    rows = read_rows(io.StringIO("email\na@example.com\nb@example.com\nc@example.com\n"))
    import_subscribers(db, rows, now, confirmed=True)
    with db.session() as session:
        suppress(session, "c@example.com", "manual", now)
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "Nothing sent yet" not in html
    when = "Monday 30 November 2026 at 07:00 (Europe/London)"
    assert f'data-confirm="Approve this issue? It goes to 2 readers {when}."' in html  # the dialog
    _post(client, draft, html, action="approve", confirm="yes")
    page = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    # MAILER_SEND_AT is Monday 07:00 in Europe/London; the week is 2026-W48.
    assert f"Approved: it goes to 2 readers {when}" in page


def test_stories_say_why_they_rank_in_words(client, db, accounts, draft):
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert "score 0." not in html and not re.search(r"\b\d\.\d{4}\b", html)
    whys = re.findall(r'<div class="why">[^<]*Why: ([^<]+)</div>', html)
    assert len(whys) == len(_stories(db, draft))
    assert any("most read this week: " in w for w in whys)
    assert all(re.search(r"\d views|editor's pick|pieces on this story|pinned", w) for w in whys)
    related = re.findall(r'<span class="why">(Both (?:name|mention) [^<]+)</span>', html)
    assert related  # a related piece says which names and words it shares with its story
