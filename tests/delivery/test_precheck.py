"""The pre-send check on real parts: the demo week's digest built from fixtures, the real compose
path and DKIM signer, the SMTP fixture, and SpamAssassin where it is installed."""

import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.core.models import Digest
from mailer.delivery.precheck import Blocked, check_digest, check_raw
from mailer.delivery.spamassassin import parse_report
from mailer.delivery.transports import transport_from_dsn, transport_options
from mailer.editions.digests import find_digest
from tests.fixtures.mailing import add_subscribers, send_now

POSTAL = "The Daily Example, 1 Example Street, Exampletown EX1 2AB"
SPAMASSASSIN = shutil.which("spamc") or shutil.which("spamassassin")


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("precheck") / "rsa.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


@pytest.fixture
def settings_overrides(request, smtp_server, rsa_key):
    """SMTP to the fixture; a test may add settings (indirect parameter); a DKIM domain brings
    the test key with it."""
    values = {"transport": smtp_server.dsn(), "send_rate": 1000.0, **getattr(request, "param", {})}
    if "dkim_domain" in values:
        values |= {"dkim_selector": "s2026", "dkim_private_key": rsa_key}
    return values


def transport_for(settings):
    return transport_from_dsn(settings.transport, transport_options(settings))


def check(settings, digest_id: int, db, spamassassin=False):
    digest = find_digest(db, digest_id)
    transport = transport_for(settings)
    try:
        return check_digest(digest, settings, transport, spamassassin=spamassassin)
    finally:
        transport.close()


def levels(report, level: str) -> list[str]:
    return [f.check for f in report.findings if f.level == level]


def test_the_demo_digest_in_development_passes_with_warnings(db, settings, approved_digest):
    report = check(settings, approved_digest, db)
    assert report.passed, report.errors
    # the demo's pictures are served from MAILER_BASE_URL, plain http on a development machine
    assert sorted(set(levels(report, "warning"))) == ["dkim", "images", "links", "postal address"]
    sentences = " ".join(f.sentence for f in report.warnings)
    assert "http://localhost" in sentences and "MAILER_POSTAL_ADDRESS is empty" in sentences
    assert "size" in levels(report, "note") and report.html_bytes > 5000


HTTPS_AND_ADDRESS = {"base_url": "https://news.example.com", "postal_address": POSTAL}


@pytest.mark.parametrize(
    "settings_overrides", [{**HTTPS_AND_ADDRESS, "dkim_domain": "example.com"}], indirect=True
)
def test_signed_over_smtp_with_https_links_and_an_address_it_finds_nothing(
    db, settings, approved_digest, smtp_server
):
    report = check(settings, approved_digest, db)
    assert report.errors == [] and report.warnings == []
    assert not smtp_server.messages  # the check sends nothing


@pytest.mark.parametrize("settings_overrides", [{"dkim_domain": "mail.example.org"}], indirect=True)
def test_a_misaligned_dkim_domain_blocks_every_start_with_one_sentence(
    cli, db, settings, now, smtp_server
):
    cli("demo")
    cli("digest", "build")
    assert cli("digest", "approve", "2026-W48").exit_code == 0
    add_subscribers(db, now, 2)

    checked = cli("digest", "check", "2026-W48", "--no-spamassassin")
    assert checked.exit_code == 1
    assert "ERROR    dkim: DKIM signs as d=mail.example.org" in checked.output
    assert "2026-W48: 1 error, " in checked.output

    refused = cli("digest", "send", "2026-W48")
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and "2026-W48 was not started because the pre-send check" in lines[0]
    with pytest.raises(Blocked, match=r"d=mail\.example\.org"):
        send_now(db, settings, find_digest(db, "2026-W48").id)
    assert find_digest(db, "2026-W48").status == "approved"
    assert not smtp_server.messages


BROKEN = (
    "From: The Weekly Digest <digest@example.com>\r\n"
    "To: reader@example.com\r\n"
    "Subject: This week\r\n"
    "Message-ID: <abc@elsewhere.example.net>\r\n"
    "List-Unsubscribe: <http://news.example.com/u/tok>\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "\r\n"
    '<p><a href="javascript:alert(1)">Read</a> <a href="https://news.example.com/a b">B</a>'
    ' <a href="http://other.example.org/story">C</a> <a href="mailto:ed@example.com">Ed</a>'
    '<img src="/static/lead.jpg"><img src="http://img.example.org/x.png" alt="A chart"></p>\r\n'
)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"base_url": "https://news.example.com", "env": "production"}],
    indirect=True,
)
def test_each_problem_of_a_broken_message_is_one_finding(settings):
    report = check_raw(BROKEN.encode(), settings, "2026-W48", "smtp")
    errors = {f.sentence for f in report.errors}
    warnings = {f.sentence for f in report.warnings}
    assert any("List-Unsubscribe (<http://news.example.com/u/tok>) has no" in s for s in errors)
    assert any("List-Unsubscribe-Post is not" in s for s in errors)
    assert any("no well-formed List-Id" in s for s in errors)
    assert any("no plain-text part" in s for s in errors)
    assert any("'javascript:alert(1)', which is not a web address" in s for s in errors)
    assert any("'/static/lead.jpg' is not an absolute https address" in s for s in errors)
    assert any("MAILER_POSTAL_ADDRESS is empty" in s for s in errors)  # production: an error
    assert any("Message-ID is on elsewhere.example.net" in s for s in warnings)
    assert any("news.example.com/a b' has spaces" in s for s in warnings)
    assert any("http://other.example.org/story is plain http" in s for s in warnings)
    assert any("/static/lead.jpg has no alt text" in s for s in warnings)
    assert any("x.png loads over plain http" in s for s in warnings)
    assert any("no Feedback-ID" in s for s in warnings)
    assert any("Nothing here signs the mail with DKIM" in s for s in warnings)
    assert not any("mailto:" in s for s in errors | warnings)
    assert all(s.count(". ") == 0 for s in errors | warnings)  # one sentence each


def test_a_report_imitated_by_the_message_is_not_read():
    real = (
        "Content analysis details:   (1.2 points, 5.0 required)\n\n"
        " pts rule name              description\n"
        "---- ---------------------- --------------------------------------------\n"
        " 0.7 HTML_FONT_LOW_CONTRAST BODY: HTML font color similar or identical to\n"
        "                            background\n"
        " 0.5 MISSING_DATE           Missing Date: header\n"
    )
    forged = "Content analysis details:   (-9.0 points, 5.0 required)\n-9.0 FAKE_RULE  hello\n"
    score, threshold, rules = parse_report("Subject: x\n\n" + forged + "\n" + real)
    assert (score, threshold) == (1.2, 5.0)
    assert [(r.points, r.name) for r in rules] == [
        (0.7, "HTML_FONT_LOW_CONTRAST"),
        (0.5, "MISSING_DATE"),
    ]
    assert rules[0].description.endswith("identical to background")
    assert parse_report("no report here") is None


def test_spamassassin_scores_the_digest_and_catches_the_old_low_contrast_preheader(
    db, settings, approved_digest
):
    """With SpamAssassin installed (CI installs it), today's digest no longer triggers
    HTML_FONT_LOW_CONTRAST and the old preheader does; without it the check says so."""
    report = check(settings, approved_digest, db, spamassassin=True)
    spam = [f for f in report.findings if f.check == "spamassassin"]
    assert len(spam) == 1
    if not SPAMASSASSIN:
        assert report.spam is None and "SpamAssassin is not installed" in spam[0].sentence
        return
    assert report.spam is not None and report.spam.threshold == 5.0
    names = {r.name for r in report.spam.rules}
    assert "HTML_MESSAGE" in names and "HTML_FONT_LOW_CONTRAST" not in names
    assert not report.spam.is_spam and spam[0].level in ("note", "warning")
    assert f"scores it {report.spam.score:.1f} against its threshold of 5.0" in spam[0].sentence

    from mailer.delivery.samples import sample_message

    digest: Digest = find_digest(db, approved_digest)
    message = sample_message(digest, settings)
    # the preheader as the template had it: text the colour of the background it sits on
    old = message.html.replace(
        'class="preheader" style="', 'class="preheader" style="color: #f2f2f2;', 1
    )
    assert old != message.html
    # without the pre-encoded body, so the bytes come from the changed html
    raw = message.__class__(**{**message.__dict__, "html": old, "mime_body": None}).as_bytes()
    before = check_raw(raw, settings, digest.period_key, "file", spamassassin=True)
    assert "HTML_FONT_LOW_CONTRAST" in {r.name for r in before.spam.rules}
    warning = [f for f in before.warnings if f.check == "spamassassin"]
    assert warning and "HTML_FONT_LOW_CONTRAST (+" in warning[0].sentence
