"""Provider webhook verifiers and parsers (no database), and apply_events (both databases)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from mailer.core.config import Settings
from mailer.core.errors import ConfigError
from mailer.core.models import ConsentEvent, Subscriber, Suppression
from mailer.core.models import WebhookEvent as WebhookEventRow
from mailer.delivery.webhooks import (
    BadSignature,
    CertificateCache,
    IncomingRequest,
    Malformed,
    NotConfigured,
    WebhookEvent,
    apply_events,
    mailgun,
    postmark,
    resend,
    sendgrid,
    ses,
)
from mailer.readers.suppressions import address_hash, is_suppressed
from mailer.startup import check_settings
from tests.conftest import FIXED_NOW
from tests.fixtures import webhook_payloads as p
from tests.fixtures.webhooks import (
    RESEND_SECRET,
    SendGridSigner,
    add_subscriber,
    basic_auth,
    mailgun_signature,
    sns_headers,
    svix_headers,
    webhook_settings,
)

NOW = FIXED_NOW
READER = "reader@example.com"


@pytest.fixture
def hook_settings(tmp_path, sendgrid_signer) -> Settings:
    """Settings with every provider configured; no database needed for parsing."""
    return Settings.from_env(
        {},
        instance_dir=str(tmp_path),
        secret_key="x" * 40,
        **webhook_settings(sendgrid_signer.public_key),
    )


def request(body: bytes, headers: dict) -> IncomingRequest:
    return IncomingRequest.of(body, headers)


# --- SendGrid -------------------------------------------------------------------------------


def test_sendgrid_signed_events_are_normalised(hook_settings, sendgrid_signer):
    body = p.sendgrid_body(
        p.sendgrid_event("bounce", READER, NOW),
        p.sendgrid_event("bounce", "full@example.com", NOW, type="blocked"),
        p.sendgrid_event("spamreport", "angry@example.com", NOW),
        p.sendgrid_event("group_unsubscribe", "bye@example.com", NOW, asm_group_id=1),
        p.sendgrid_event("delivered", "ok@example.com", NOW),
        p.sendgrid_event("open", "ok@example.com", NOW),
    )
    parsed = sendgrid.parse(request(body, sendgrid_signer.headers(body, NOW)), hook_settings, NOW)
    kinds = [(e.kind, e.recipient) for e in parsed.events]
    assert kinds == [
        ("bounce_hard", READER),
        ("bounce_soft", "full@example.com"),
        ("complaint", "angry@example.com"),
        ("unsubscribe", "bye@example.com"),
        ("delivered", "ok@example.com"),
        ("open", "ok@example.com"),  # counted against the digest (editions.click_counts)
    ]
    first = parsed.events[0]
    assert first.provider_id == "14c5d75ce93"
    assert first.at == NOW
    assert first.reason == "500 unknown recipient"


def test_sendgrid_refuses_tampering_another_key_and_stale_timestamps(
    hook_settings, sendgrid_signer
):
    body = p.sendgrid_body(p.sendgrid_event("bounce", READER, NOW))
    headers = sendgrid_signer.headers(body, NOW)
    tampered = body.replace(READER.encode(), b"victim@example.com")
    with pytest.raises(BadSignature, match="does not match"):
        sendgrid.parse(request(tampered, headers), hook_settings, NOW)
    other = SendGridSigner().headers(body, NOW)
    with pytest.raises(BadSignature, match="does not match"):
        sendgrid.parse(request(body, other), hook_settings, NOW)
    stale = sendgrid_signer.headers(body, NOW - timedelta(minutes=6))
    with pytest.raises(BadSignature, match="300 seconds"):
        sendgrid.parse(request(body, stale), hook_settings, NOW)
    with pytest.raises(BadSignature, match="headers are required"):
        sendgrid.parse(request(body, {}), hook_settings, NOW)


def test_sendgrid_signed_but_not_a_list_is_malformed(hook_settings, sendgrid_signer):
    body = b'{"email": "x@example.com"}'
    with pytest.raises(Malformed):
        sendgrid.parse(request(body, sendgrid_signer.headers(body, NOW)), hook_settings, NOW)


# --- Mailgun --------------------------------------------------------------------------------


def test_mailgun_events_are_normalised_and_carry_the_token(hook_settings):
    cases = [
        ("failed", {"severity": "permanent"}, "bounce_hard"),
        ("failed", {"severity": "temporary"}, "bounce_soft"),
        ("complained", {}, "complaint"),
        ("unsubscribed", {}, "unsubscribe"),
        ("delivered", {}, "delivered"),
    ]
    for name, extra, kind in cases:
        signature = mailgun_signature(NOW)
        body = p.mailgun_body(signature, name, READER, NOW, **extra)
        parsed = mailgun.parse(request(body, {}), hook_settings, NOW)
        assert [e.kind for e in parsed.events] == [kind]
        assert parsed.nonce == signature["token"]
        assert parsed.events[0].message_id == "<20261125120000.1.ABCDEF@mg.example.com>"


def test_mailgun_refuses_a_wrong_key_and_a_stale_timestamp(hook_settings):
    wrong = mailgun_signature(NOW, key="not-the-signing-key")
    with pytest.raises(BadSignature, match="does not match"):
        mailgun.parse(request(p.mailgun_body(wrong, "failed", READER, NOW), {}), hook_settings, NOW)
    stale = mailgun_signature(NOW - timedelta(hours=1))
    with pytest.raises(BadSignature, match="seconds from now"):
        mailgun.parse(request(p.mailgun_body(stale, "failed", READER, NOW), {}), hook_settings, NOW)


# --- Postmark -------------------------------------------------------------------------------


def test_postmark_records_are_normalised(hook_settings):
    auth = basic_auth()
    cases = [
        (p.postmark_bounce(READER, NOW), "bounce_hard"),
        (p.postmark_bounce(READER, NOW, "SoftBounce"), "bounce_soft"),
        (p.postmark_bounce(READER, NOW, "SpamComplaint"), "complaint"),
        (p.postmark_subscription_change(READER, NOW), "unsubscribe"),
        (p.postmark_subscription_change(READER, NOW, suppress=False), "other"),
    ]
    for body, kind in cases:
        events = postmark.parse(request(body, auth), hook_settings, NOW).events
        assert [(e.kind, e.recipient) for e in events] == [(kind, READER)]
    bounce = postmark.parse(request(cases[0][0], auth), hook_settings, NOW).events[0]
    assert bounce.at.replace(microsecond=0) == NOW
    assert bounce.provider_id == "883953f4-6105-42a2-a16a-77a8eac79483"


def test_postmark_refuses_wrong_or_missing_credentials(hook_settings):
    body = p.postmark_bounce(READER, NOW)
    with pytest.raises(BadSignature, match="credentials"):
        postmark.parse(request(body, basic_auth(password="guess")), hook_settings, NOW)
    with pytest.raises(BadSignature, match="credentials"):
        postmark.parse(request(body, {}), hook_settings, NOW)
    with pytest.raises(BadSignature):
        postmark.parse(request(body, {"Authorization": "Basic %%%"}), hook_settings, NOW)


# --- Resend (Svix) --------------------------------------------------------------------------


def test_resend_events_are_normalised(hook_settings):
    cases = [
        (p.resend_event("email.bounced", READER, NOW), "bounce_hard"),
        (p.resend_event("email.bounced", READER, NOW, "Transient"), "bounce_soft"),
        (p.resend_event("email.complained", READER, NOW), "complaint"),
        (p.resend_event("contact.updated", READER, NOW), "unsubscribe"),
        (p.resend_event("email.delivered", READER, NOW), "delivered"),
    ]
    for index, (body, kind) in enumerate(cases):
        headers = svix_headers(body, NOW, f"msg_{index}")
        events = resend.parse(request(body, headers), hook_settings, NOW).events
        assert [(e.event_id, e.kind, e.recipient) for e in events] == [
            (f"msg_{index}", kind, READER)
        ]


def test_resend_refuses_wrong_secret_tampering_and_stale_timestamps(hook_settings):
    body = p.resend_event("email.bounced", READER, NOW)
    other = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0xMjM0NTY="
    with pytest.raises(BadSignature, match="No Resend"):
        resend.parse(request(body, svix_headers(body, NOW, "m1", other)), hook_settings, NOW)
    headers = svix_headers(body, NOW, "m1", RESEND_SECRET)
    with pytest.raises(BadSignature):
        resend.parse(request(body.replace(b"Permanent", b"Transient"), headers), hook_settings, NOW)
    stale = svix_headers(body, NOW + timedelta(minutes=10), "m1")
    with pytest.raises(BadSignature, match="seconds from now"):
        resend.parse(request(body, stale), hook_settings, NOW)


# --- SES through SNS ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_notifications_verify_with_both_signature_versions(
    hook_settings, sns_signer, http_server, version
):
    certs, http = CertificateCache(), requests.Session()
    cases = [
        (p.ses_bounce(READER, NOW), "bounce_hard"),
        (p.ses_bounce(READER, NOW, "Transient"), "bounce_soft"),
        (p.ses_complaint(READER, NOW), "complaint"),
    ]
    for note, kind in cases:
        message = sns_signer.notification(note, NOW, version)
        body = json.dumps(message).encode()
        parsed = ses.parse(
            request(body, sns_headers(message)), hook_settings, NOW, http=http, certs=certs
        )
        assert [(e.kind, e.recipient) for e in parsed.events] == [(kind, READER)]
        assert parsed.events[0].event_id == message["MessageId"]
        assert parsed.events[0].message_id == "<digest-1-42@example.com>"
    assert (
        len(
            http_server.requests_to("/SimpleNotificationService-" + "0123456789abcdef" * 2 + ".pem")
        )
        == 1
    )
    http.close()


def test_sns_refuses_tampering_a_foreign_key_and_a_foreign_topic(hook_settings, sns_signer):
    certs, http = CertificateCache(), requests.Session()

    def parse(message: dict):
        body = json.dumps(message).encode()
        return ses.parse(request(body, {}), hook_settings, NOW, http=http, certs=certs)

    message = sns_signer.notification(p.ses_bounce(READER, NOW), NOW)
    with pytest.raises(BadSignature, match="does not match"):
        parse({**message, "Message": json.dumps(p.ses_bounce("victim@example.com", NOW))})
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(BadSignature, match="does not match"):
        parse(sns_signer.sign({k: v for k, v in message.items() if k != "Signature"}, key=foreign))
    other_topic = {**message, "TopicArn": "arn:aws:sns:us-east-1:999999999999:theirs"}
    with pytest.raises(BadSignature, match="MAILER_SES_TOPIC_ARNS"):
        parse(sns_signer.sign({k: v for k, v in other_topic.items() if k != "Signature"}))
    with pytest.raises(BadSignature, match="SignatureVersion"):
        parse({**message, "SignatureVersion": "3"})
    http.close()


def test_sns_certificate_must_be_current(hook_settings, sns_signer):
    message = sns_signer.notification(p.ses_bounce(READER, NOW), NOW)
    later = NOW.replace(year=2029)
    with pytest.raises(BadSignature, match="not valid at this time"):
        ses.parse(
            request(json.dumps(message).encode(), {}),
            hook_settings,
            later,
            http=requests.Session(),
            certs=CertificateCache(),
        )


def test_sns_certificate_url_host_is_checked_before_any_fetch(
    hook_settings, sns_signer, http_server
):
    message = sns_signer.notification(p.ses_bounce(READER, NOW), NOW)
    for url in (
        "https://evil.example.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example.com/cert.pem",
        "https://user@127.0.0.1/cert.pem",
    ):
        forged = {**message, "SigningCertURL": url}
        with pytest.raises(BadSignature, match="allowed host"):
            ses.parse(
                request(json.dumps(forged).encode(), {}),
                hook_settings,
                NOW,
                http=requests.Session(),
                certs=CertificateCache(),
            )
    assert http_server.requests == []


def test_sns_default_hosts_are_aws_over_https_only(tmp_path):
    settings = Settings.from_env({}, instance_dir=str(tmp_path), secret_key="x" * 40)
    ses.check_aws_url(
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem", settings, "cert"
    )
    for url in (
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com.attacker.net/x.pem",
        "https://s3.amazonaws.com/sns.eu-west-1.amazonaws.com/x.pem",
        "http://127.0.0.1/x.pem",
    ):
        with pytest.raises(BadSignature):
            ses.check_aws_url(url, settings, "cert")


def test_sns_subscription_confirmation_gives_the_url_only_when_signed(hook_settings, sns_signer):
    http, certs = requests.Session(), CertificateCache()
    message = sns_signer.subscription_confirmation(NOW, version="2")
    parsed = ses.parse(
        request(json.dumps(message).encode(), {}), hook_settings, NOW, http=http, certs=certs
    )
    assert parsed.confirm_url == message["SubscribeURL"]
    assert parsed.events == []
    forged = {**message, "SubscribeURL": message["SubscribeURL"] + "&extra=1"}
    with pytest.raises(BadSignature):
        ses.parse(
            request(json.dumps(forged).encode(), {}), hook_settings, NOW, http=http, certs=certs
        )
    http.close()


# --- configuration --------------------------------------------------------------------------


def test_unconfigured_providers_refuse_everything(tmp_path):
    settings = Settings.from_env({}, instance_dir=str(tmp_path), secret_key="x" * 40)
    for module in (sendgrid, mailgun, postmark, resend, ses):
        with pytest.raises(NotConfigured, match="MAILER_"):
            module.parse(request(b"[]" if module is sendgrid else b"{}", {}), settings, NOW,
                         http=None, certs=None)  # fmt: skip


def test_bad_webhook_settings_are_refused_at_start(tmp_path):
    base = {"instance_dir": str(tmp_path), "secret_key": "x" * 40}
    for name, value, expected in (
        ("MAILER_SENDGRID_WEBHOOK_KEY", "not-a-key", "verification key"),
        ("MAILER_RESEND_WEBHOOK_SECRET", "plain", "whsec_"),
        ("MAILER_SES_TOPIC_ARNS", "my-topic", "ARN"),
        ("MAILER_SES_CERT_HOSTS", "https://sns.x.amazonaws.com/", "host names"),
    ):
        with pytest.raises(ConfigError, match=expected):
            check_settings(Settings.from_env({name: value}, **base))


# --- apply_events (both databases) ----------------------------------------------------------


def event(kind: str, event_id: str, recipient: str = READER, provider: str = "sendgrid"):
    return WebhookEvent(provider, event_id, kind, recipient, NOW, reason=f"{kind} test")


def status_of(db, email: str) -> tuple[str, int]:
    with db.session() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email_hash == address_hash(email)))
        return row.status, row.soft_bounces


def test_hard_bounce_complaint_and_unsubscribe_suppress_at_once(db, now):
    for email in ("hard@example.com", "spam@example.com", "gone@example.com"):
        add_subscriber(db, email, now)
    result = apply_events(
        db,
        [
            event("bounce_hard", "e1", "hard@example.com"),
            event("complaint", "e2", "spam@example.com"),
            event("unsubscribe", "e3", "gone@example.com"),
        ],
        now,
    )
    assert (result.applied, result.suppressed) == (3, 3)
    assert status_of(db, "hard@example.com")[0] == "bounced"
    assert status_of(db, "spam@example.com")[0] == "complained"
    assert status_of(db, "gone@example.com")[0] == "unsubscribed"
    with db.session() as session:
        reasons = dict(session.execute(select(Suppression.email, Suppression.reason)).all())
        assert reasons == {
            "hard@example.com": "bounce",
            "spam@example.com": "complaint",
            "gone@example.com": "unsubscribe",
        }
        withdrawals = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "withdraw"))
        assert sorted(w.detail["event"] for w in withdrawals) == ["complaint", "unsubscribe"]
        gone = session.scalar(select(Subscriber).where(Subscriber.email == "gone@example.com"))
        assert gone.unsubscribed_at == now


def test_webhook_events_keep_a_hash_not_the_address(db, now):
    apply_events(db, [event("bounce_hard", "e1", f"Reader <{READER.upper()}>")], now)
    with db.session() as session:
        row = session.scalar(select(WebhookEventRow))
        assert row.recipient_hash == address_hash(READER)
        assert READER not in json.dumps(row.payload)
        assert (row.provider, row.event_id, row.kind) == ("sendgrid", "e1", "bounce_hard")
        assert is_suppressed(session, READER)


def test_soft_bounces_suppress_on_the_third(db, now):
    add_subscriber(db, READER, now)
    for n in (1, 2):
        apply_events(db, [event("bounce_soft", f"s{n}")], now)
        assert status_of(db, READER) == ("confirmed", n)
    with db.session() as session:
        assert not is_suppressed(session, READER)
    result = apply_events(db, [event("bounce_soft", "s3")], now)
    assert result.suppressed == 1
    assert status_of(db, READER) == ("bounced", 3)
    with db.session() as session:
        assert is_suppressed(session, READER)


def test_a_delivery_resets_the_soft_bounce_count(db, now):
    add_subscriber(db, READER, now)
    apply_events(db, [event("bounce_soft", "s1"), event("bounce_soft", "s2")], now)
    apply_events(db, [event("delivered", "d1"), event("bounce_soft", "s3")], now)
    assert status_of(db, READER) == ("confirmed", 1)


def test_soft_bounces_of_an_address_without_subscriber_are_counted_from_events(db, now):
    editor = "editor@example.com"
    apply_events(db, [event("bounce_soft", f"s{n}", editor) for n in (1, 2)], now)
    with db.session() as session:
        assert not is_suppressed(session, editor)
    apply_events(db, [event("bounce_soft", "s3", editor)], now)
    with db.session() as session:
        assert is_suppressed(session, editor)


def test_duplicate_event_ids_are_applied_once(db, now):
    add_subscriber(db, READER, now)
    first = apply_events(db, [event("bounce_soft", "same"), event("bounce_soft", "same")], now)
    again = apply_events(db, [event("bounce_soft", "same")], now)
    assert (first.applied, first.duplicates, again.applied, again.duplicates) == (1, 1, 0, 1)
    assert status_of(db, READER) == ("confirmed", 1)
    other_provider = apply_events(db, [event("bounce_soft", "same", provider="mailgun")], now)
    assert other_provider.applied == 1


def test_a_replayed_nonce_is_refused_and_changes_nothing(db, now):
    add_subscriber(db, READER, now)
    apply_events(db, [event("bounce_soft", "m1", provider="mailgun")], now, nonce=("mailgun", "t"))
    with pytest.raises(BadSignature, match="seen before"):
        apply_events(
            db, [event("bounce_hard", "m2", provider="mailgun")], now, nonce=("mailgun", "t")
        )
    assert status_of(db, READER) == ("confirmed", 1)
    with db.session() as session:
        assert session.scalar(select(func.count(WebhookEventRow.id))) == 2  # m1 and the token
        assert not is_suppressed(session, READER)


def test_an_erased_subscriber_stays_erased(db, now):
    from mailer.readers.suppressions import suppress

    sid = add_subscriber(db, "erased@example.com", now)
    with db.session() as session:
        row = session.get(Subscriber, sid)
        row.status, row.email = "erased", None
        suppress(session, "erased@example.com", "erased", now, keep_address=False)
    apply_events(db, [event("complaint", "c1", "erased@example.com")], now)
    with db.session() as session:
        assert session.get(Subscriber, sid).status == "erased"
        suppression = session.scalar(select(Suppression))
        assert (suppression.reason, suppression.email) == ("erased", None)


def test_concurrent_webhooks_lose_no_count_and_apply_each_event_once(db, now):
    from concurrent.futures import ThreadPoolExecutor

    add_subscriber(db, READER, now)
    ids = ["a", "b", "c", "d", "e", "a", "c", "e"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: apply_events(db, [event("bounce_soft", i)], now), ids))
    assert sum(r.applied for r in results) == 5
    assert sum(r.duplicates for r in results) == 3
    assert status_of(db, READER) == ("bounced", 5)


@pytest.mark.parametrize(
    "sent", [NOW - timedelta(hours=1, seconds=1), NOW + timedelta(minutes=6), None]
)
def test_sns_refuses_a_stale_or_future_timestamp(hook_settings, sns_signer, sent):
    """Hardening finding 9: a genuine but old SNS message is a replay; so is a future one."""
    message = sns_signer.notification(p.ses_bounce(READER, NOW), sent or NOW)
    if sent is None:
        unsigned = {k: v for k, v in message.items() if k != "Signature"}
        message = sns_signer.sign({**unsigned, "Timestamp": "yesterday-ish"})
    with pytest.raises(BadSignature, match="Timestamp"):
        ses.parse(
            request(json.dumps(message).encode(), {}),
            hook_settings,
            NOW,
            http=requests.Session(),
            certs=CertificateCache(),
        )
    fresh = sns_signer.notification(p.ses_bounce(READER, NOW), NOW - timedelta(minutes=59))
    parsed = ses.parse(
        request(json.dumps(fresh).encode(), {}),
        hook_settings,
        NOW,
        http=requests.Session(),
        certs=CertificateCache(),
    )
    assert [e.kind for e in parsed.events] == ["bounce_hard"]
