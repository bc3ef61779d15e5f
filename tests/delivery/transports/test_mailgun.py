import pytest

from mailer.delivery.transports import transport_from_dsn
from tests.delivery.transports import common
from tests.delivery.transports.common import build, message
from tests.fixtures.providers import KEY


def test_one_recipient_per_message_with_headers_and_variables(mailgun_fake):
    results = build(mailgun_fake.dsn).send([message(1), message(2)])
    assert [r.status for r in results] == ["queued", "queued"]
    assert results[0].provider_id.endswith("@mg.example.com>")
    first = mailgun_fake.calls[0]
    assert first["to"] == "reader1@example.com"
    assert first["h:List-Unsubscribe"] == common.UNSUBSCRIBE.format(n=1)
    assert first["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["h:Message-Id"] == "<d1.x@example.com>"
    assert first["v:delivery"] == "1"
    assert "recipient-variables" not in first


def test_identical_messages_go_as_one_batch_with_recipient_variables(mailgun_fake):
    same = [message(1, recipient=f"r{i}@example.com", message_id="", headers={}) for i in range(3)]
    build(mailgun_fake.dsn).send(same)
    assert len(mailgun_fake.calls) == 1
    assert mailgun_fake.calls[0]["to"] == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert "r2@example.com" in mailgun_fake.calls[0]["recipient-variables"]


def test_eu_region_and_limits():
    transport = transport_from_dsn("mailgun://k:mg.example.com@default?region=eu")
    assert transport.url == "https://api.eu.mailgun.net/v3/mg.example.com/messages"
    assert transport.max_batch == 1000
    with pytest.raises(ValueError, match="region"):
        transport_from_dsn("mailgun://k:mg.example.com@default?region=mars")


def test_a_400_fails_without_blaming_the_address(mailgun_fake):
    from tests.fixtures.http import Response

    mailgun_fake.server.expect(
        "POST", mailgun_fake.path, Response(400, {"message": "'from' parameter is not a valid"})
    )
    (result,) = build(mailgun_fake.dsn).send([message(1)])
    assert (result.status, result.retryable) == ("failed", False)


def test_throttled(mailgun_fake):
    common.check_throttled(mailgun_fake, mailgun_fake.dsn)


def test_outage(mailgun_fake):
    common.check_outage(mailgun_fake, mailgun_fake.dsn)


def test_timeout_after_the_request_left_is_unknown(mailgun_fake):
    common.check_timeout_is_unknown(mailgun_fake, mailgun_fake.dsn, retryable=False)


def test_bad_key(mailgun_fake):
    common.check_bad_key(mailgun_fake, mailgun_fake.dsn, KEY)


def test_an_answer_too_large_to_read_is_unknown(mailgun_fake):
    common.check_huge_answer_is_unknown(mailgun_fake, mailgun_fake.dsn)


def test_the_form_is_encoded_exactly_as_urllib_would():
    from urllib.parse import urlencode

    from mailer.delivery.transports.mailgun import urlencoded

    every = "".join(chr(i) for i in range(0x300)) + "😀 \u2028 + %25 % %recipient.x%"
    fields = [("to", "a+b@example.com"), ("x y+%", every), ("html", '<a href="?a=1&b=2">é</a>')]
    fields += [
        ("recipient-variables", '{"a@example.com": {"r1_x": "Ann \\"O\'B\\" 😀"}}'),
        ("e", ""),
    ]
    assert urlencoded(fields) == urlencode(fields).encode()
