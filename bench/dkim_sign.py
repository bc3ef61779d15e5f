"""DKIM signing cost per message: our signer (cryptography) against dkimpy's pure-Python RSA.

Prints one JSON line: milliseconds per message for RSA, Ed25519 and both, dkimpy's own
rsa-sha256 on the same message as the ceiling to beat, and the speed-up over it.
Run: python bench/dkim_sign.py [--messages N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailer.delivery.dkim import SIGNED_HEADERS, DkimSigner, _Key
from mailer.delivery.transports.base import Message


def per_message_ms(sign, raw: bytes, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        sign(raw)
    return (time.perf_counter() - start) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    count = parser.parse_args().messages
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    message = Message(
        sender="Digest <digest@example.com>",
        recipient="reader@example.net",
        subject="This week's top stories",
        text="A story summary line with some words in it.\n" * 120,
        html="<tr><td><a href='https://news.example.com/a'>A story</a></td></tr>\n" * 200,
        message_id="<d1@example.com>",
        headers={
            "List-Unsubscribe": "<https://news.example.com/u/abc>, <mailto:u@example.com>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Digest <digest.example.com>",
            "Feedback-ID": "1:digest:news",
        },
    )
    raw = message.as_bytes()
    rsa_k = _Key(b"rsa", b"rsa-sha256", rsa_key)
    ed_k = _Key(b"ed", b"ed25519-sha256", ed_key)
    figures = {
        "message_bytes": len(raw),
        "rsa_ms": per_message_ms(DkimSigner("example.com", [rsa_k]).sign, raw, count),
        "ed25519_ms": per_message_ms(DkimSigner("example.com", [ed_k]).sign, raw, count),
        "both_ms": per_message_ms(DkimSigner("example.com", [rsa_k, ed_k]).sign, raw, count),
    }
    headers = [h.encode() for h in SIGNED_HEADERS]
    figures["dkimpy_rsa_ms"] = per_message_ms(
        lambda data: dkim.sign(data, b"rsa", b"example.com", rsa_pem, include_headers=headers),
        raw,
        max(10, count // 10),
    )
    figures["rsa_speedup_vs_dkimpy"] = figures["dkimpy_rsa_ms"] / figures["rsa_ms"]
    figures["cpus"] = os.cpu_count()
    figures["load_average_1min"] = os.getloadavg()[0]
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
