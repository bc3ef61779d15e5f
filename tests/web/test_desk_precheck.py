"""The pre-send check on the desk: the panel before Approve, and Send now refused on an error."""

import pytest

from mailer.editions import digests
from tests.fixtures.editors import signed_in, token


@pytest.fixture
def settings_overrides(smtp_server):
    # links to this service over plain http on a public host: an error the send must obey
    return {"transport": smtp_server.dsn(), "base_url": "http://news.example.com"}


def test_the_panel_shows_the_findings_and_send_now_is_refused_on_an_error(
    client, db, settings, accounts, draft, smtp_server
):
    signed_in(client)
    page = client.get(f"/admin/digests/{draft}").get_data(as_text=True)
    assert 'id="precheck">Pre-send check' in page
    assert "1 error: the send will not start until they are fixed." in page
    assert "use MAILER_BASE_URL http://news.example.com, which is not https" in page
    assert "Ask SpamAssassin too" in page
    assert page.index('id="precheck"') < page.index('value="approve"')

    client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "approve", "confirm": "yes", "csrf_token": token(page)},
    )
    assert digests.find_digest(db, draft).status == "approved"
    refused = client.post(
        f"/admin/digests/{draft}/act",
        data={"action": "send_now", "confirm": "yes", "csrf_token": token(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Not done: " in refused and "was not started because the pre-send check" in refused
    assert digests.find_digest(db, draft).status == "approved"
    assert not smtp_server.messages
