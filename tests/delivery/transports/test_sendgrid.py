import pytest

from tests.delivery.transports import common
from tests.delivery.transports.common import build, message
from tests.fixtures.providers import KEY


def test_one_personalization_per_recipient_and_headers_pass_through(sendgrid_fake):
    transport = build(sendgrid_fake.dsn)
    results = transport.send([message(1), message(2)])
    assert [r.status for r in results] == ["queued", "queued"]
    assert all(r.provider_id for r in results)
    first = sendgrid_fake.calls[0]
    assert [p["to"] for p in first["personalizations"]] == [[{"email": "reader1@example.com"}]]
    assert first["from"] == {"email": "digest@example.com", "name": "The Digest"}
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["headers"]["List-Unsubscribe"] == common.UNSUBSCRIBE.format(n=1)
    assert first["headers"]["Message-ID"] == "<d1.x@example.com>"
    assert first["personalizations"][0]["custom_args"] == {"delivery": "1"}
    assert [c["type"] for c in first["content"]] == ["text/plain", "text/html"]


def test_identical_messages_share_one_call(sendgrid_fake):
    same = [message(1, recipient=f"r{i}@example.com", message_id="", headers={}) for i in range(3)]
    build(sendgrid_fake.dsn).send(same)
    assert len(sendgrid_fake.calls) == 1
    assert len(sendgrid_fake.calls[0]["personalizations"]) == 3


def test_a_400_naming_no_recipient_fails_the_batch_without_blaming_addresses(sendgrid_fake):
    results = build(sendgrid_fake.dsn).send([message(1, recipient="not-an-address")])
    assert [(r.status, r.retryable) for r in results] == [("failed", False)]
    assert "400" in results[0].error


def test_limits_are_declared(sendgrid_fake):
    transport = build(sendgrid_fake.dsn)
    assert (transport.max_batch, transport.idempotent) == (1000, False)


def test_throttled(sendgrid_fake):
    common.check_throttled(sendgrid_fake, sendgrid_fake.dsn)


def test_outage(sendgrid_fake):
    common.check_outage(sendgrid_fake, sendgrid_fake.dsn)


def test_timeout_after_the_request_left_is_unknown(sendgrid_fake):
    common.check_timeout_is_unknown(sendgrid_fake, sendgrid_fake.dsn, retryable=False)


def test_bad_key(sendgrid_fake):
    common.check_bad_key(sendgrid_fake, sendgrid_fake.dsn, KEY)


def test_refused_connection():
    common.check_refused_connection("sendgrid://k@127.0.0.1:{port}")


def test_a_later_failure_keeps_what_was_accepted(sendgrid_fake):
    from tests.fixtures.http import Response

    sendgrid_fake.server.expect("POST", sendgrid_fake.path, Response(202, b""))
    sendgrid_fake.server.expect(
        "POST", sendgrid_fake.path, Response(429, {"errors": []}, {"Retry-After": "3"})
    )
    first, second = build(sendgrid_fake.dsn).send([message(1), message(2)])
    assert first.status == "queued"
    assert (second.status, second.retryable, second.retry_after) == ("failed", True, 3.0)


def test_any_host_but_default_is_the_base_url_with_https_off_loopback():
    from mailer.core.errors import ConfigError
    from mailer.delivery.transports import transport_from_dsn

    assert transport_from_dsn("sendgrid://k@default").url == "https://api.sendgrid.com/v3/mail/send"
    remote = transport_from_dsn("sendgrid://k@relay.internal:8443")
    assert remote.url == "https://relay.internal:8443/v3/mail/send"
    assert transport_from_dsn("sendgrid://k@127.0.0.1:8080").url.startswith(
        "http://127.0.0.1:8080/"
    )
    with pytest.raises(ConfigError, match="MAILER_TRANSPORT cannot be used: sendgrid:// needs"):
        transport_from_dsn("sendgrid://default")


def test_an_answer_too_large_to_read_is_unknown(sendgrid_fake):
    common.check_huge_answer_is_unknown(sendgrid_fake, sendgrid_fake.dsn)
