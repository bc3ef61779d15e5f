"""The pre-send check: one sample of the digest, built and signed by the real compose path, judged
as mailbox providers and readers will judge it. Errors block the start of a send; warnings are
logged and shown. `mailer digest check`, the desk and every start of a send use it.
"""

from __future__ import annotations

import html as html_escape
import logging
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast
from urllib.parse import urlsplit

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict
from mailer.core.models import Digest
from mailer.delivery.dkim import DkimSigner
from mailer.delivery.precheck_findings import CheckReport, Finding
from mailer.delivery.precheck_headers import dkim_findings, identity_findings, unsubscribe_findings
from mailer.delivery.precheck_links import LinkRules, image_findings, link_findings, read_page
from mailer.delivery.samples import sample_message
from mailer.delivery.spamassassin import SpamScore, spam_score
from mailer.delivery.transports import is_loopback
from mailer.delivery.transports.base import Message, Transport
from mailer.editions import lifecycle
from mailer.editions.digests import find_digest
from mailer.editions.render import MAX_HTML_BYTES

log = logging.getLogger(__name__)

GMAIL_CLIP_KB = 102


class Blocked(Conflict):
    """The pre-send check found errors, so the send was not started."""


def own_http(settings: Settings) -> tuple[str, str] | None:
    """(level, sentence) when links to this service are plain http; None when they are https."""
    base = urlsplit(settings.base_url)
    if base.scheme == "https":
        return None
    if not settings.is_production and is_loopback(base.hostname or ""):
        return (
            "warning",
            f"Links to this service (unsubscribe, preferences) use MAILER_BASE_URL "
            f"{settings.base_url}, plain http on a loopback address: fine on a development "
            "machine, but readers need the public https address.",
        )
    return (
        "error",
        f"Links to this service (unsubscribe, preferences) use MAILER_BASE_URL "
        f"{settings.base_url}, which is not https; one-click unsubscribe needs https.",
    )


def _parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of the message as a mail app decodes them; empty when a part is missing."""
    found = []
    for subtype in ("plain", "html"):
        part = message.get_body(preferencelist=(subtype,))
        found.append(part.get_content() if part is not None else "")
    return found[0], found[1]


def body_findings(text: str, html: str, settings: Settings) -> list[Finding]:
    """A text part, an HTML part that is not clipped, and the postal address in the footer."""
    findings = []
    if not text.strip():
        findings.append(
            Finding(
                "error",
                "text",
                "The message has no plain-text part; some readers' mail apps show only text, "
                "and spam filters distrust HTML alone.",
            )
        )
    size = len(html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        findings.append(
            Finding(
                "error",
                "size",
                f"The HTML is {size / 1024:.1f} KB after CSS inlining, over our "
                f"{MAX_HTML_BYTES // 1024} KB limit (Gmail clips at {GMAIL_CLIP_KB} KB); remove "
                "stories or related items.",
            )
        )
    else:
        findings.append(
            Finding(
                "note",
                "size",
                f"The HTML is {size / 1024:.1f} KB after CSS inlining, within our "
                f"{MAX_HTML_BYTES // 1024} KB limit (Gmail clips at {GMAIL_CLIP_KB} KB).",
            )
        )
    findings += postal_findings(text, html, settings)
    return findings


def postal_findings(text: str, html: str, settings: Settings) -> list[Finding]:
    address = " ".join(settings.postal_address.split())
    if not address:
        return [
            Finding(
                "error" if settings.is_production else "warning",
                "postal address",
                "MAILER_POSTAL_ADDRESS is empty, so the footer gives no postal address, which "
                "CAN-SPAM and several other laws ask bulk mail to carry.",
            )
        ]
    shown_text = " ".join(text.split())
    shown_html = " ".join(html.split())
    if address not in shown_text or html_escape.escape(address, quote=False) not in shown_html:
        return [
            Finding(
                "error",
                "postal address",
                "The footer does not show MAILER_POSTAL_ADDRESS in both the text and the HTML "
                "part; check templates/email/digest/.",
            )
        ]
    return []


def spam_findings(result: SpamScore | str) -> list[Finding]:
    """SpamAssassin's score, with the rules that add points named."""
    if isinstance(result, str):
        return [Finding("note", "spamassassin", f"{result} Skipped.")]
    adding = [r for r in result.rules if r.points > 0]
    named = ", ".join(f"{r.name} ({r.points:+.1f}: {r.description})" for r in adding)
    score = f"{result.score:.1f} against its threshold of {result.threshold:.1f}"
    if result.is_spam:
        sentence = f"SpamAssassin ({result.tool}) scores it {score}, so it counts as spam: {named}."
        return [Finding("error", "spamassassin", sentence)]
    if adding:
        sentence = (
            f"SpamAssassin ({result.tool}) scores it {score}; rules that add points: {named}."
        )
        return [Finding("warning", "spamassassin", sentence)]
    sentence = f"SpamAssassin ({result.tool}) scores it {score}; no rule adds points."
    return [Finding("note", "spamassassin", sentence)]


def check_raw(
    raw: bytes,
    settings: Settings,
    period_key: str,
    transport_name: str,
    signer: DkimSigner | None = None,
    spamassassin: bool = False,
) -> CheckReport:
    """Judge one message's bytes, exactly as they leave (signed when `signer` signed them)."""
    message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    text, html = _parts(message)
    page = read_page(html)
    ours = own_http(settings)
    rules = LinkRules(
        own_host=(urlsplit(settings.base_url).hostname or "").lower(),
        own_http_level=ours[0] if ours else "error",
        own_http_sentence=ours[1] if ours else "",
    )
    findings = unsubscribe_findings(message, ours)
    findings += identity_findings(message, settings)
    findings += dkim_findings(message, raw, settings, transport_name, signer)
    findings += body_findings(text, html, settings)
    findings += link_findings(page, rules)
    findings += image_findings(page)
    spam = None
    if spamassassin:
        result = spam_score(raw)
        spam = result if isinstance(result, SpamScore) else None
        findings += spam_findings(result)
    else:
        findings.append(Finding("note", "spamassassin", "SpamAssassin was not asked this time."))
    order = {"error": 0, "warning": 1, "note": 2}
    unique = {f.sentence: f for f in findings}  # one http base URL is one finding, not two
    findings = sorted(unique.values(), key=lambda f: order[f.level])
    return CheckReport(period_key, tuple(findings), len(html.encode("utf-8")), len(raw), spam=spam)


def check_digest(
    digest: Digest, settings: Settings, transport: Transport, *, spamassassin: bool
) -> CheckReport:
    """Render one sample through the real compose path, sign it as `transport` would, judge it."""
    message = sample_message(digest, settings)
    return check_message(message, digest.period_key, settings, transport, spamassassin=spamassassin)


def check_message(
    message: Message,
    period_key: str,
    settings: Settings,
    transport: Transport,
    *,
    spamassassin: bool,
) -> CheckReport:
    """Judge a sample message already built (the desk has one), signed as `transport` would."""
    raw = message.as_bytes()
    signer = getattr(transport, "signer", None)  # the backends that send raw MIME sign it
    if signer is not None:
        raw = signer.sign(raw)
    return check_raw(raw, settings, period_key, transport.name, signer, spamassassin)


def wants_spamassassin(settings: Settings) -> bool:
    return settings.precheck_spamassassin != "off"


def blocked_sentence(report: CheckReport) -> str:
    errors = report.errors
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return (
        f"{report.period_key} was not started because the pre-send check found {count}; the "
        f"first: {errors[0].sentence.rstrip('.')} (all of them: `mailer digest check "
        f"{report.period_key}`)."
    )


def start_send(
    db: Database,
    settings: Settings,
    ref: str | int,
    transport: Transport,
    actor: str,
    now: datetime,
) -> Digest:
    """lifecycle.start, with the pre-send check first whenever an approved digest would start;
    a digest already sending (a resume) starts nothing, so it is not checked again."""
    digest = find_digest(db, ref)
    if digest.status == "approved":
        report = check_digest(
            digest, settings, transport, spamassassin=wants_spamassassin(settings)
        )
        for finding in report.warnings:
            log.warning("pre-send check of %s: %s", digest.period_key, finding.sentence)
        if report.errors:
            sentence = blocked_sentence(report)
            log.error("%s", sentence)
            raise Blocked(sentence)
    return lifecycle.start(db, digest.id, actor, now)
