from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from mailer.delivery.transports import sigv4, transport_from_dsn
from mailer.delivery.transports.base import TransportError
from tests.delivery.transports import common
from tests.delivery.transports.common import build, message
from tests.fixtures.http import Response


def test_aws_documented_example_signature():
    """The GET ListUsers example from the AWS SigV4 documentation."""
    headers = sigv4.sign(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"",
        key_id="AKIDEXAMPLE",
        secret="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="iam",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert headers["Authorization"].endswith(
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_raw_message_signed_request_one_call_each(ses_fake):
    results = build(ses_fake.dsn).send([message(1), message(2)])
    assert [r.status for r in results] == ["queued", "queued"]
    assert results[0].provider_id.startswith("0100-")
    assert len(ses_fake.calls) == 2
    call = ses_fake.calls[0]
    assert call["Destination"] == {"ToAddresses": ["reader1@example.com"]}
    raw = message_from_bytes(call["raw"], policy=policy.default)
    assert raw["To"] == "reader1@example.com"
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert raw["Message-ID"] == "<d1.x@example.com>"
    assert call["EmailTags"] == [{"Name": "delivery", "Value": "1"}]


def test_wrong_secret_is_refused_by_the_signature_check(ses_fake):
    with pytest.raises(TransportError, match="credentials") as caught:
        build(ses_fake.dsn.replace("s3cr3t", "other")).send([message(1)])
    assert not caught.value.retryable


def test_message_rejected_is_per_recipient(ses_fake):
    ok, blocked = build(ses_fake.dsn).send([message(1), message(2, recipient="blocked@x.org")])
    assert ok.status == "queued"
    assert (blocked.status, blocked.retryable) == ("rejected", False)


def test_throttling_exception_as_400_is_throttled(ses_fake):
    ses_fake.server.expect(
        "POST",
        ses_fake.path,
        Response(
            400,
            {"message": "Maximum sending rate exceeded."},
            {"x-amzn-ErrorType": "TooManyRequestsException:"},
        ),
    )
    with pytest.raises(TransportError) as caught:
        build(ses_fake.dsn).send([message(1)])
    assert caught.value.throttled and caught.value.retryable


def test_region_is_required_and_sets_the_endpoint():
    with pytest.raises(ValueError, match="region"):
        transport_from_dsn("ses://a:b@default")
    transport = transport_from_dsn("ses://a:b@default?region=eu-central-1")
    assert transport.url == "https://email.eu-central-1.amazonaws.com/v2/email/outbound-emails"


def test_throttled(ses_fake):
    common.check_throttled(ses_fake, ses_fake.dsn)


def test_outage(ses_fake):
    common.check_outage(ses_fake, ses_fake.dsn)


def test_timeout_after_the_request_left_is_unknown(ses_fake):
    common.check_timeout_is_unknown(ses_fake, ses_fake.dsn, retryable=False)


def test_an_answer_too_large_to_read_is_unknown(ses_fake):
    common.check_huge_answer_is_unknown(ses_fake, ses_fake.dsn)
