import base64
from email import message_from_bytes, policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.core.config import Settings
from mailer.delivery.dkim import signer_from_settings
from mailer.delivery.transports import transport_from_dsn, transport_options
from tests.delivery.transports.common import message

DOMAIN = "news.example.com"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dkim")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    (folder / "rsa.pem").write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seed = ed_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    (folder / "ed25519.key").write_bytes(base64.b64encode(seed))  # dkimpy's dknewkey format
    rsa_public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ed_public = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    records = {
        f"rsa2026._domainkey.{DOMAIN}.".encode(): b"v=DKIM1; k=rsa; p="
        + base64.b64encode(rsa_public),
        f"ed2026._domainkey.{DOMAIN}.".encode(): b"v=DKIM1; k=ed25519; p="
        + base64.b64encode(ed_public),
    }
    return folder, records


def dkim_settings(folder, ed25519_too=True) -> Settings:
    values = {
        "dkim_domain": DOMAIN,
        "dkim_selector": "rsa2026",
        "dkim_private_key": str(folder / "rsa.pem"),
    }
    if ed25519_too:
        values |= {
            "dkim_ed25519_selector": "ed2026",
            "dkim_ed25519_key": str(folder / "ed25519.key"),
        }
    return Settings.from_env({}, **values)


def verify_all(raw: bytes, records) -> list[bool]:
    """dkimpy's verify, with its documented dnsfunc hook answering from our test keys."""
    checker = dkim.DKIM(raw)
    count = sum(1 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n") if line.startswith(b"DKIM"))

    def dnsfunc(name, timeout=5):
        return records.get(name)

    return [checker.verify(idx=i, dnsfunc=dnsfunc) for i in range(count)]


def test_rsa_and_ed25519_signatures_verify_and_cover_the_unsubscribe_headers(keys):
    folder, records = keys
    signer = signer_from_settings(dkim_settings(folder))
    m = message(1, headers={**message(1).headers, "Feedback-ID": "7:digest:news"})
    signed = signer.sign(m.as_bytes())
    assert verify_all(signed, records) == [True, True]
    parsed = message_from_bytes(signed, policy=policy.default)
    signatures = parsed.get_all("DKIM-Signature")
    assert ["a=rsa-sha256" in s for s in signatures] == [True, False]
    assert "a=ed25519-sha256" in signatures[1]
    assert signed_names(signatures[0]) == [
        *("from", "from", "to", "subject", "subject", "date", "message-id"),
        *("mime-version", "content-type", "list-id", "list-id"),
        *("list-unsubscribe", "list-unsubscribe", "list-unsubscribe-post"),
        *("list-unsubscribe-post", "list-help", "list-subscribe", "list-post", "list-owner"),
        *("list-archive", "feedback-id"),
    ]  # present ones once each, From, Subject and every List-* once more (over-signed)


def signed_names(signature: str) -> list[str]:
    return "".join(signature.split()).split("h=")[1].split(";")[0].split(":")


def test_absent_headers_are_left_out_but_over_signed_ones_are_always_listed(keys):
    folder, records = keys
    signer = signer_from_settings(dkim_settings(folder, ed25519_too=False))
    signed = signer.sign(message(1, headers={}, message_id="", html=None).as_bytes())
    header = message_from_bytes(signed, policy=policy.default)["DKIM-Signature"]
    assert signed_names(header) == [
        *("from", "from", "to", "subject", "subject", "date", "mime-version", "content-type"),
        *("list-id", "list-unsubscribe", "list-unsubscribe-post", "list-help"),
        *("list-subscribe", "list-post", "list-owner", "list-archive"),
    ]
    assert verify_all(signed, records) == [True]


@pytest.mark.parametrize(
    "added",
    [
        b"Subject: Claim your prize\r\n",
        b"From: Someone Else <boss@example.net>\r\n",
        b"List-Unsubscribe: <https://evil.example.net/u>\r\n",
        b"List-Help: <https://evil.example.net/help>\r\n",
    ],
)
def test_a_header_added_after_signing_breaks_the_signature(keys, added):
    folder, records = keys
    signed = signer_from_settings(dkim_settings(folder)).sign(message(1).as_bytes())
    assert verify_all(signed, records) == [True, True]
    head, blank, body = signed.partition(b"\r\n\r\n")
    assert verify_all(head + b"\r\n" + added.rstrip(b"\r\n") + blank + body, records) == [
        False,
        False,
    ]


def test_a_changed_content_type_breaks_the_signature(keys):
    folder, records = keys
    signed = signer_from_settings(dkim_settings(folder)).sign(message(1).as_bytes())
    reframed = signed.replace(b"multipart/alternative", b"multipart/mixed", 1)
    assert reframed != signed
    assert verify_all(reframed, records) == [False, False]


def test_a_changed_unsubscribe_header_breaks_the_signature(keys):
    folder, records = keys
    signed = signer_from_settings(dkim_settings(folder)).sign(message(1).as_bytes())
    tampered = signed.replace(b"tok-1", b"tok-9")
    assert verify_all(tampered, records) == [False, False]


def test_file_and_smtp_transports_sign_when_configured(keys, tmp_path, smtp_server):
    folder, records = keys
    settings = dkim_settings(folder)
    transport_from_dsn(f"file://{tmp_path / 'out'}", transport_options(settings)).send([message(1)])
    (eml,) = (tmp_path / "out").glob("*.eml")
    assert verify_all(eml.read_bytes(), records) == [True, True]
    smtp = transport_from_dsn(smtp_server.dsn(), transport_options(settings))
    try:
        assert smtp.send([message(2)])[0].status == "sent"
    finally:
        smtp.close()
    received = smtp_server.messages[0].data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert verify_all(received, records) == [True, True]


def test_no_domain_means_no_signer_and_a_missing_key_is_a_clear_error(tmp_path):
    assert signer_from_settings(Settings.from_env({})) is None
    broken = Settings.from_env(
        {}, dkim_domain=DOMAIN, dkim_selector="s", dkim_private_key=str(tmp_path / "nope.pem")
    )
    with pytest.raises(ValueError, match="cannot read the DKIM key"):
        signer_from_settings(broken)
