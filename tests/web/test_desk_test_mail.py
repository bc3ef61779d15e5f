"""Every link in a test mail leads somewhere: a signed preview of the draft, and pages that
explain the sample reader's preferences and unsubscribe links instead of acting on anyone."""

import re

import pytest

from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.editions import digests
from mailer.services import system_clock
from tests.fixtures.editors import signed_in, token


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn()}


def _test_mail(client, db, settings, draft, smtp_server) -> str:
    html = signed_in(client).get(f"/admin/digests/{draft}").get_data(as_text=True)
    client.post(
        f"/admin/digests/{draft}/test",
        data={"addresses": "desk@example.com", "csrf_token": token(html)},
    )
    drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)
    return smtp_server.messages[-1].message.get_body(("html",)).get_content()


def _path(body: str, label: str) -> str:
    href = re.search(r'<a href="([^"]+)"[^>]*>' + label + "</a>", body).group(1)
    return href.replace("http://localhost", "").replace("&amp;", "&")


def test_view_in_browser_shows_the_draft(client, db, settings, accounts, draft, smtp_server):
    body = _test_mail(client, db, settings, draft, smtp_server)
    path = _path(body, "View in browser")
    assert path.startswith("/preview/")
    client.post(
        "/admin/logout", data={"csrf_token": token(client.get("/admin/").get_data(as_text=True))}
    )
    page = client.get(path)  # whoever the editor forwards the test to, signed in or not
    assert page.status_code == 200
    first = sorted(digests.find_digest(db, draft).items, key=lambda i: i.position)[0]
    assert first.title in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    forged = client.get(path[:-3] + ("abc" if not path.endswith("abc") else "xyz"))
    assert forged.status_code == 404
    assert "not valid" in forged.get_data(as_text=True)


@pytest.mark.parametrize("label", ["Change your preferences", "Unsubscribe"])
def test_reader_links_explain_and_act_on_nobody(
    client, db, settings, accounts, draft, smtp_server, label
):
    body = _test_mail(client, db, settings, draft, smtp_server)
    path = _path(body, label)
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "This link came from a test mail" in text and "Link not valid" not in text


def test_one_click_unsubscribe_of_a_test_mail_unsubscribes_nobody(
    client, db, settings, accounts, draft, smtp_server
):
    body = _test_mail(client, db, settings, draft, smtp_server)
    one_click = client.post(_path(body, "Unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "nobody was unsubscribed" in one_click.get_data(as_text=True)


def test_a_real_readers_bad_link_still_says_so(client):
    assert client.get("/unsubscribe/not-a-token").status_code == 404
    assert client.get("/preferences/not-a-token").status_code == 404
