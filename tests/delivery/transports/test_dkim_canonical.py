"""Our relaxed/relaxed canonicaliser against dkimpy: thousands of generated messages (folded
headers, trailing blanks, tabs, empty bodies, long lines, 8-bit bytes, bare LF, repeated and
over-signed headers), each signed by ours and verified by dkimpy, body hash compared."""

import base64
import random
import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.delivery import dkim as ours

DOMAIN = b"news.example.com"
WORDS = [b"a", b"story", b"caf\xc3\xa9", b"\xe2\x82\xac9", b"=3D", b"x" * 120, b"", b"."]
BLANKS = [b" ", b"  ", b"\t", b" \t ", b""]


def blank(rng) -> bytes:
    return rng.choice(BLANKS)


def header_value(rng) -> bytes:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 8))]
    value = b""
    for word in words:
        value += (blank(rng) or b" ") + word
        if rng.random() < 0.2:
            value += b"\r\n" + rng.choice([b" ", b"\t", b"  "])  # folded
    return value + blank(rng)  # trailing blanks


def body(rng) -> bytes:
    if rng.random() < 0.1:
        return b""
    lines = []
    for _ in range(rng.randint(0, 30)):
        line = blank(rng).join(rng.choice(WORDS) for _ in range(rng.randint(0, 12)))
        lines.append(blank(rng) + line + blank(rng))
    end = rng.choice([b"\r\n", b"\r\n\r\n\r\n", b"", b" \r\n \r\n"])
    text = b"\r\n".join(lines) + end
    if rng.random() < 0.1:
        text = text.replace(b"\r\n", b"\n")  # bare LF, as a file or a careless template has
    return text


def message(rng) -> bytes:
    names = [b"To", b"Subject", b"Date", b"Message-ID", b"List-Id", b"X-Other"]
    names += [b"List-Unsubscribe", b"Feedback-ID"]
    head = [b"From:" + header_value(rng) + b" <d@news.example.com>"]  # one: dkimpy checks
    for _ in range(rng.randint(0, 8)):
        name = rng.choice(names)
        if rng.random() < 0.2:
            name = name.upper() if rng.random() < 0.5 else name.lower()
        head.append(name + rng.choice([b":", b":\t", b":  "]) + header_value(rng))
    rng.shuffle(head)
    return b"\r\n".join(head) + b"\r\n\r\n" + body(rng)


@pytest.fixture(scope="module")
def keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    records = {
        b"rsa._domainkey.news.example.com.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_public),
        b"ed._domainkey.news.example.com.": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_public),
    }
    rsa_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    signers = {
        "ed": ours.DkimSigner(DOMAIN.decode(), [ours._Key(b"ed", b"ed25519-sha256", ed_key)]),
        "rsa": ours.DkimSigner(DOMAIN.decode(), [ours._Key(b"rsa", b"rsa-sha256", rsa_key)]),
    }
    return signers, records, rsa_pem


def verified(signed: bytes, records) -> bool:
    return dkim.DKIM(signed).verify(dnsfunc=lambda name, timeout=5: records.get(name))


def body_hash(signed: bytes) -> bytes:
    return re.search(rb"bh=([A-Za-z0-9+/=]+)", signed).group(1)


@pytest.mark.slow
def test_thousands_of_generated_messages_verify_with_dkimpy(keys):
    signers, records, rsa_pem = keys
    rng = random.Random(20261202)
    for number in range(3000):
        raw = message(rng)
        kind = "rsa" if number % 10 == 0 else "ed"  # dkimpy's RSA verify is slow Python
        signed = signers[kind].sign(raw)
        assert verified(signed, records), raw
        if number % 10 == 0:  # the same body hash as dkimpy's own relaxed/relaxed signature
            theirs = dkim.sign(
                raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
                b"rsa",
                DOMAIN,
                rsa_pem,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from"],
            )
            assert body_hash(signed) == body_hash(theirs), raw


def test_over_signed_and_repeated_headers_follow_rfc_6376(keys):
    signers, records, _ = keys
    fields = ours.split_headers(b"From: a\r\nSubject: one\r\nSubject:  two \r\n\tfolded")
    picked = ours.signed_fields(fields, [b"subject", b"subject", b"subject", b"from"])
    assert picked == [b"subject:two folded", b"subject:one", b"from:a"]  # bottom-up, then none
    raw = b"From: a <d@news.example.com>\r\nSubject: s\r\n\r\nbody\r\n"
    assert verified(signers["ed"].sign(raw), records)
    with pytest.raises(ValueError, match="without From"):
        signers["ed"].sign(b"Subject: s\r\n\r\nbody\r\n")
