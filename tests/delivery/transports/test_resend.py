from tests.delivery.transports import common
from tests.delivery.transports.common import build, message
from tests.fixtures.providers import KEY


def test_batch_with_headers_and_per_message_errors(resend_fake):
    ok, bad = build(resend_fake.dsn).send([message(1), message(2, recipient="nobody")])
    assert ok.status == "queued" and ok.provider_id
    assert (bad.status, bad.retryable) == ("invalid", False)
    sent = resend_fake.calls[0][0]
    assert sent["to"] == ["reader1@example.com"]
    assert sent["headers"]["List-Unsubscribe"] == common.UNSUBSCRIBE.format(n=1)
    assert sent["headers"]["Message-ID"] == "<d1.x@example.com>"
    assert sent["tags"] == [{"name": "delivery", "value": "1"}]


def test_idempotency_key_makes_a_retry_safe(resend_fake):
    transport = build(resend_fake.dsn)
    assert transport.idempotent and transport.max_batch == 100
    first = transport.send([message(1)], idempotency_key="digest-7-chunk-1")
    again = transport.send([message(1)], idempotency_key="digest-7-chunk-1")
    assert first == again
    assert len(resend_fake.calls) == 1
    keys = [r.headers.get("Idempotency-Key") for r in resend_fake.server.requests]
    assert keys == ["digest-7-chunk-1", "digest-7-chunk-1"]


def test_over_the_limit_is_a_whole_batch_failure(resend_fake):
    results = build(resend_fake.dsn).send([message(n) for n in range(101)])
    assert {(r.status, r.retryable) for r in results} == {("failed", False)}


def test_throttled(resend_fake):
    common.check_throttled(resend_fake, resend_fake.dsn)


def test_outage(resend_fake):
    common.check_outage(resend_fake, resend_fake.dsn)


def test_timeout_is_unknown_but_retryable_with_an_idempotency_key(resend_fake):
    common.check_timeout_is_unknown(resend_fake, resend_fake.dsn, retryable=True)


def test_bad_key(resend_fake):
    common.check_bad_key(resend_fake, resend_fake.dsn, KEY)


def test_an_answer_too_large_to_read_is_unknown(resend_fake):
    common.check_huge_answer_is_unknown(resend_fake, resend_fake.dsn)
