from tests.delivery.transports import common
from tests.delivery.transports.common import build, message
from tests.fixtures.http import Response
from tests.fixtures.providers import KEY


def test_mixed_results_in_one_200(postmark_fake):
    postmark_fake.inactive.add("bounced@example.com")
    batch = [message(1), message(2, recipient="bounced@example.com"), message(3, recipient="x")]
    ok, inactive, invalid = build(postmark_fake.dsn).send(batch)
    assert ok.status == "queued" and ok.provider_id
    assert (inactive.status, inactive.retryable) == ("rejected", False)
    assert "406" in inactive.error
    assert (invalid.status, invalid.retryable) == ("invalid", False)
    sent = postmark_fake.calls[0][0]
    assert sent["To"] == "reader1@example.com"
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Message-ID"] == "<d1.x@example.com>"
    assert sent["Metadata"] == {"delivery": "1"}
    assert sent["MessageStream"] == "broadcast"


def test_one_call_per_batch_and_limits(postmark_fake):
    transport = build(postmark_fake.dsn)
    transport.send([message(n) for n in range(1, 6)])
    assert len(postmark_fake.calls) == 1
    assert (transport.max_batch, transport.idempotent) == (500, False)


def test_over_the_limit_is_a_whole_batch_failure(postmark_fake):
    results = build(postmark_fake.dsn).send([message(n) for n in range(501)])
    assert {(r.status, r.retryable) for r in results} == {("failed", False)}
    assert "422" in results[0].error


def test_unlisted_error_code_is_failed(postmark_fake):
    postmark_fake.server.expect(
        "POST",
        postmark_fake.path,
        Response(200, [{"ErrorCode": 405, "Message": "Not allowed to send", "To": "a"}]),
    )
    (result,) = build(postmark_fake.dsn).send([message(1)])
    assert (result.status, result.retryable) == ("failed", False)


def test_throttled(postmark_fake):
    common.check_throttled(postmark_fake, postmark_fake.dsn)


def test_outage(postmark_fake):
    common.check_outage(postmark_fake, postmark_fake.dsn)


def test_timeout_after_the_request_left_is_unknown(postmark_fake):
    common.check_timeout_is_unknown(postmark_fake, postmark_fake.dsn, retryable=False)


def test_bad_key(postmark_fake):
    common.check_bad_key(postmark_fake, postmark_fake.dsn, KEY)


def test_an_answer_too_large_to_read_is_unknown(postmark_fake):
    common.check_huge_answer_is_unknown(postmark_fake, postmark_fake.dsn)
