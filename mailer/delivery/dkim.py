"""DKIM signing: dkimpy parses and canonicalises, `cryptography` does the key arithmetic.

dkimpy's own RSA is pure Python (milliseconds per signature); OpenSSL through `cryptography`
is many times faster, which matters at 100k messages. The result is checked with dkimpy's
verify in the tests. Keys are loaded once, when the signer is built.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim import fold, hash_headers, rfc822_parse
from dkim.canonicalization import CanonicalizationPolicy

from mailer.core.config import Settings

# h= of every signature, in this order. A name is signed once for each time it is present;
# a name in OVERSIGNED_HEADERS is listed once more, so a verifier hashes an empty field there
# and a header of that name added after signing (a second From, Subject or List-*) breaks the
# signature; an over-signed name that is absent is still listed, so none can be added.
# MIME-Version and Content-Type are signed so the body cannot be re-framed.
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-help",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
    "feedback-id",
)
OVERSIGNED_HEADERS: frozenset[str] = frozenset(
    {"from", "subject"} | {name for name in SIGNED_HEADERS if name.startswith("list-")}
)


def header_names(present: Iterable[bytes]) -> list[bytes]:
    """The h= list for a message whose header names (lowercase bytes) are `present`."""
    counts = Counter(present)
    names: list[bytes] = []
    for name in SIGNED_HEADERS:
        key = name.encode()
        names += [key] * (counts[key] + (name in OVERSIGNED_HEADERS))
    return names


_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_BEFORE_EOL = re.compile(rb" (?=\r\n)")


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4 over the whole body at once (dkimpy goes line by line, 2-3x slower)."""
    body = _WSP_BEFORE_EOL.sub(b"", _WSP_RUN.sub(b" ", body)).rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


@dataclass(frozen=True)
class _Key:
    selector: bytes
    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def sign_digest(self, digest: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        return self.private.sign(digest)  # RFC 8463: Ed25519 over the SHA-256 of the headers


class DkimSigner:
    """Adds one DKIM-Signature per configured key (RSA, and Ed25519 beside it when given)."""

    def __init__(self, domain: str, keys: list[_Key]) -> None:
        if not keys:
            raise ValueError("DKIM needs at least one key")
        self.domain = domain.encode()
        self.keys = keys

    def sign(self, raw: bytes) -> bytes:
        """The same message with DKIM-Signature headers in front."""
        head, blank, body = raw.partition(b"\r\n\r\n")
        if blank and b"\n" not in head.replace(b"\r\n", b""):
            headers, _ = rfc822_parse(head + b"\r\n\r\n")  # the body needs no line split
            if b"\n" in body.replace(b"\r\n", b""):
                body = _BARE_LF.sub(b"\r\n", body)  # as a verifier will see it after SMTP
        else:
            headers, body = rfc822_parse(raw)  # bare LF line ends: let dkimpy normalise
        present = [name.lower() for name, _ in headers]
        if b"from" not in present:
            raise ValueError("a message without From cannot be DKIM-signed")
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        include = header_names(present)
        canonical = _POLICY.canonicalize_headers(headers)
        stamp = str(int(time.time())).encode()
        added = [self._signature(key, canonical, include, body_hash, stamp) for key in self.keys]
        return b"".join(added) + raw

    def _signature(
        self, key: _Key, canonical: list, include: list[bytes], body_hash: bytes, stamp: bytes
    ) -> bytes:
        tags = [
            (b"v", b"1"),
            (b"a", key.algorithm),
            (b"c", b"relaxed/relaxed"),
            (b"d", self.domain),
            (b"s", key.selector),
            (b"t", stamp),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
        ]
        head = fold(b"; ".join(k + b"=" + v for k, v in tags) + b";", namelen=15) + b"\r\n b="
        hasher = hashlib.sha256()
        hash_headers(hasher, _POLICY, canonical, include, (b"DKIM-Signature", b" " + head), {})
        signature = base64.b64encode(key.sign_digest(hasher.digest()))
        lines = [signature[i : i + 70] for i in range(0, len(signature), 70)]
        return b"DKIM-Signature: " + head + b"\r\n ".join(lines) + b"\r\n"


def load_rsa_key(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_ed25519_key(path: str) -> ed25519.Ed25519PrivateKey:
    """A PEM key, or dkimpy's format: the base64 of the 32-byte seed."""
    data = Path(path).read_bytes().strip()
    if data.startswith(b"-----BEGIN"):
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    try:
        seed = base64.b64decode(data, validate=True)
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError:
        raise ValueError(f"{path} is neither PEM nor a base64 Ed25519 seed") from None


def signer_from_settings(settings: Settings) -> DkimSigner | None:
    """None when MAILER_DKIM_DOMAIN is empty; otherwise a signer with its keys loaded once."""
    domain = settings.dkim_domain
    if not domain:
        return None
    keys: list[_Key] = []
    rsa_path = settings.dkim_private_key
    ed_path = settings.dkim_ed25519_key
    try:
        if rsa_path:
            selector = settings.dkim_selector or "default"
            keys.append(_Key(selector.encode(), b"rsa-sha256", load_rsa_key(rsa_path)))
        if ed_path:
            selector = settings.dkim_ed25519_selector
            if not selector:
                raise ValueError("MAILER_DKIM_ED25519_SELECTOR is needed with an Ed25519 key")
            keys.append(_Key(selector.encode(), b"ed25519-sha256", load_ed25519_key(ed_path)))
    except OSError as exc:
        raise ValueError(f"cannot read the DKIM key: {exc}") from None
    if not keys:
        raise ValueError("MAILER_DKIM_DOMAIN is set but no key: set MAILER_DKIM_PRIVATE_KEY")
    return DkimSigner(domain, keys)
