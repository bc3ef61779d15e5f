"""The test bed itself: each real part does what later tests rely on."""

import smtplib

import pytest
import requests

from tests.fixtures.http import Response


def test_smtp_fixture_records_and_fails_on_request(smtp_server):
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
        smtp_server.script.rcpt_replies["bad@example.com"] = "550 5.1.1 No such user"
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("a@example.com", ["bad@example.com"], b"Subject: x\r\n\r\nx\r\n")
        smtp_server.script.data_replies.append("451 4.3.0 Try later")
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("a@example.com", ["c@example.com"], b"Subject: x\r\n\r\nx\r\n")
        assert caught.value.smtp_code == 451
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].message["Subject"] == "hi"


def test_smtp_fixture_can_drop_after_data(smtp_server):
    smtp_server.script.drop_after_data = 1
    with (
        smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client,
        pytest.raises(smtplib.SMTPServerDisconnected),
    ):
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert len(smtp_server.messages) == 1  # stored, though the client never heard 250


def test_http_fixture_scripts_answers(http_server):
    http_server.route("POST", "/v3/mail/send", lambda req: Response(202, b""))
    http_server.expect("POST", "/v3/mail/send", Response(429, {"e": 1}, {"Retry-After": "3"}))
    first = requests.post(http_server.url + "/v3/mail/send", json={"a": 1}, timeout=5)
    second = requests.post(http_server.url + "/v3/mail/send", json={"a": 2}, timeout=5)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert second.status_code == 202
    assert [r.json()["a"] for r in http_server.requests_to("/v3/mail/send")] == [1, 2]


@pytest.mark.browser
def test_browser_renders_the_home_page(page, live_server, settings):
    page.goto(live_server.url + "/")
    assert page.title().endswith(settings.site_name)
    assert page.get_by_role("link", name="Join").is_visible()
