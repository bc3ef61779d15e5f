"""The pre-send check of a message's headers: one-click unsubscribe, our identifiers, DKIM."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.core.config import Settings
from mailer.delivery.dkim import DkimSigner
from mailer.delivery.precheck_findings import Finding
from mailer.delivery.precheck_links import malformed, shown
from mailer.readers.links import sender_domain

ONE_CLICK = "List-Unsubscribe=One-Click"
_BRACKETED = re.compile(r"<([^<>]*)>")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@([^<>@\s]+)>")
_LIST_ID = re.compile(r"(?:.*\s)?<([^<>\s]+)>")


def _value(message: EmailMessage, name: str) -> str:
    """A header's value unfolded, or empty when the message has none."""
    return " ".join(str(message.get(name, "")).split())


def on_domain(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def unsubscribe_findings(message: EmailMessage, own_http: tuple[str, str] | None) -> list[Finding]:
    """RFC 8058: an https link in List-Unsubscribe and List-Unsubscribe-Post saying One-Click.
    `own_http` is (level, sentence) for our own links being plain http, or None when https."""
    findings = []
    value = _value(message, "List-Unsubscribe")
    links = _BRACKETED.findall(value)
    https = [u for u in links if u.lower().startswith("https://") and not malformed(u)]
    if not value:
        findings.append(
            Finding(
                "error",
                "unsubscribe",
                "The message has no List-Unsubscribe header; Gmail and Yahoo require one-click "
                "unsubscribe (RFC 8058) of bulk mail.",
            )
        )
    elif not https and own_http and any(u.lower().startswith("http://") for u in links):
        findings.append(Finding(own_http[0], "unsubscribe", own_http[1]))
    elif not https:
        findings.append(
            Finding(
                "error",
                "unsubscribe",
                f"List-Unsubscribe ({shown(value)}) has no well-formed https link, which "
                "one-click unsubscribe (RFC 8058) needs.",
            )
        )
    if value and _value(message, "List-Unsubscribe-Post") != ONE_CLICK:
        findings.append(
            Finding(
                "error",
                "unsubscribe",
                f"List-Unsubscribe-Post is not {ONE_CLICK!r}, so mail apps will not offer "
                "one-click unsubscribe (RFC 8058).",
            )
        )
    return findings


def identity_findings(message: EmailMessage, settings: Settings) -> list[Finding]:
    """Message-ID, List-Id and Feedback-ID name our own domain, as mailbox providers expect."""
    domain = sender_domain(settings)
    findings = []
    message_id = _value(message, "Message-ID")
    match = _MESSAGE_ID.fullmatch(message_id)
    if match is None:
        findings.append(
            Finding(
                "error",
                "headers",
                f"The Message-ID {message_id!r} is missing or not of the form <id@domain>.",
            )
        )
    elif not on_domain(match[1], domain):
        findings.append(
            Finding(
                "warning",
                "headers",
                f"The Message-ID is on {match[1]}, not on the sender's domain {domain}.",
            )
        )
    list_id = _LIST_ID.fullmatch(_value(message, "List-Id"))
    if list_id is None:
        findings.append(
            Finding(
                "error",
                "headers",
                "The message has no well-formed List-Id; mailbox providers use it to tell this "
                "list apart.",
            )
        )
    elif not on_domain(list_id[1], domain):
        findings.append(
            Finding(
                "warning", "headers", f"The List-Id {list_id[1]} is not under the domain {domain}."
            )
        )
    feedback = _value(message, "Feedback-ID")
    if not feedback:
        findings.append(
            Finding(
                "warning",
                "headers",
                "The message has no Feedback-ID, so Gmail's feedback loop cannot report "
                "complaints about it.",
            )
        )
    elif not on_domain(feedback.rsplit(":", 1)[-1], domain):
        findings.append(
            Finding(
                "warning",
                "headers",
                f"The Feedback-ID {shown(feedback)} does not end in the sender's domain {domain}.",
            )
        )
    return findings


def _tags(signature: str) -> dict[str, str]:
    compact = "".join(signature.split())
    pairs = (part.partition("=") for part in compact.split(";") if "=" in part)
    return {name.strip().lower(): value for name, _, value in pairs}


def alignment(from_domain: str, d: str) -> tuple[str, str] | None:
    """(level, sentence) when DKIM's d= does not align with the From domain (DMARC), or None."""
    if on_domain(from_domain, d) or on_domain(d, from_domain):
        return None
    common: list[str] = []
    for mine, theirs in zip(reversed(from_domain.split(".")), reversed(d.split(".")), strict=False):
        if mine != theirs:
            break
        common.insert(0, mine)
    if len(common) >= 2:
        return (
            "warning",
            f"DKIM signs as d={d} and the From domain is {from_domain}: they align for DMARC "
            f"only if {'.'.join(common)} is the organisational domain.",
        )
    return (
        "error",
        f"DKIM signs as d={d} but the From domain is {from_domain}; the signature does not "
        "align, so DMARC fails on it (set MAILER_DKIM_DOMAIN to the From domain).",
    )


def _records(signer: DkimSigner) -> dict[bytes, bytes]:
    """The DNS TXT records the configured keys need, as dkimpy's verify asks for them."""
    records = {}
    for key in signer.keys:
        public = key.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            kind = b"rsa"
        else:
            data = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            kind = b"ed25519"
        name = key.selector + b"._domainkey." + signer.domain + b"."
        records[name] = b"v=DKIM1; k=" + kind + b"; p=" + base64.b64encode(data)
    return records


def dkim_findings(
    message: EmailMessage,
    raw: bytes,
    settings: Settings,
    transport: str,
    signer: DkimSigner | None,
) -> list[Finding]:
    """Signed with the configured keys, covering the unsubscribe headers, aligned with From."""
    from_domain = sender_domain(settings)
    if signer is None:
        if transport == "smtp":
            sentence = (
                "Nothing here signs the mail with DKIM (MAILER_DKIM_DOMAIN is empty); unless "
                "your mail server signs it, Gmail and Yahoo refuse bulk mail from this domain."
            )
            return [Finding("warning", "dkim", sentence)]
        if transport in ("file", "console"):
            sentence = f"The {transport} transport delivers nothing, and nothing signs its mail."
            return [Finding("note", "dkim", sentence)]
        sentence = (
            f"{transport} signs the mail with DKIM itself; make sure it signs as {from_domain}."
        )
        return [Finding("note", "dkim", sentence)]
    signatures = message.get_all("DKIM-Signature") or []
    if not signatures:
        return [Finding("error", "dkim", "DKIM is set up but the message carries no signature.")]
    findings = []
    records = _records(signer)
    checker = dkim.DKIM(raw)
    for index, signature in enumerate(signatures):
        tags = _tags(str(signature))
        label = f"s={tags.get('s', '?')}"
        signed = [name.strip().lower() for name in tags.get("h", "").split(":")]
        missing = [
            n for n in ("from", "list-unsubscribe", "list-unsubscribe-post") if n not in signed
        ]
        if missing:
            findings.append(
                Finding(
                    "error",
                    "dkim",
                    f"The DKIM signature {label} does not cover {', '.join(missing)}, so they "
                    "could be changed on the way.",
                )
            )
        if (problem := alignment(from_domain, tags.get("d", "").lower())) is not None:
            findings.append(Finding(problem[0], "dkim", problem[1]))
        if not checker.verify(idx=index, dnsfunc=lambda name, timeout=5: records.get(name)):
            findings.append(
                Finding(
                    "error",
                    "dkim",
                    f"The DKIM signature {label} does not verify with the public half of the "
                    "configured key.",
                )
            )
    return findings
