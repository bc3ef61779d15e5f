"""Send throughput and memory of the delivery engine, as ratios to a bare smtplib ceiling.

Usage: python bench/send.py [--quick] [--sizes 10000,100000] [--connections 1,2,4]

A minimal asyncio SMTP sink runs in its own process. For each number of connections the
ceiling is a bare smtplib loop sending one pre-built message over that many connections;
the engine run is `send_digest` over a real SQLite ledger in a child process (so its peak
RSS is its own), through the real SMTP transport. DKIM runs sign with Ed25519 (dkimpy +
PyNaCl) and, over a smaller count, RSA-2048. Prints one JSON line at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import secrets
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECRET = "bench-secret-key-that-is-long-enough-for-production-0123456789"


# --- the sink: accepts everything, as fast as asyncio can ------------------------------------


class SinkProtocol(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.transport.write(b"250 2.0.0 queued\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end], self.buffer[line_end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so a message ending at once is found
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


def run_sink(port: int, ready) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(SinkProtocol, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the ceiling: bare smtplib, pre-built bytes --------------------------------------------


def ceiling(port: int, data: bytes, connections: int, count: int) -> float:
    """Messages per second of a bare smtplib loop over `connections` connections."""
    per = count // connections

    def worker() -> None:
        conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
        conn.ehlo()
        for i in range(per):
            conn.sendmail("news@example.com", [f"reader{i}@example.com"], data)
        conn.quit()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return per * connections / (time.perf_counter() - started)


# --- the engine, in a child process per run ---------------------------------------------


def settings_for(folder: Path, port: int, connections: int, dkim: str = ""):
    from mailer.config import Settings

    values = {
        "instance_dir": str(folder / "instance"),
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "secret_key": SECRET,
        "transport": f"smtp://127.0.0.1:{port}?tls=none",
        "base_url": "https://news.example.com",
        "send_rate": 1_000_000.0,
        "send_concurrency": connections,
    }
    if dkim:
        values.update(dkim_domain="example.com", **_dkim_keys(folder, dkim))
    return Settings.from_env({}, **values)


def _dkim_keys(folder: Path, kind: str) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        (folder / "rsa.pem").write_bytes(pem)
        return {"dkim_selector": "rsa", "dkim_private_key": str(folder / "rsa.pem")}
    import base64

    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    (folder / "ed.key").write_bytes(base64.b64encode(seed))
    return {"dkim_ed25519_selector": "ed", "dkim_ed25519_key": str(folder / "ed.key")}


def prepare(folder: Path, port: int) -> bytes:
    """A migrated ledger with the demo week's approved digest; returns one composed message."""
    from mailer import digests
    from mailer.compose import Recipient, digest_message
    from mailer.db import Database, upgrade
    from mailer.demo import load_demo
    from mailer.render import render_digest

    settings = settings_for(folder, port, 1)
    db = Database(settings.effective_database_url)
    upgrade(db)
    load_demo(db, NOW, settings.zone)
    built = digests.build_digest(db, settings, NOW)
    digests.approve(db, settings, built.digest_id, "bench", NOW)
    digest = digests.find_digest(db, built.digest_id)
    rendered = render_digest(digest, settings)
    message = digest_message(
        rendered,
        Recipient(1, "reader0@example.com", "Ada", "n0"),
        settings,
        "<bench@example.com>",
        digest.period_key,
    )
    db.dispose()
    return message.as_bytes()


def add_subscribers(db, count: int) -> None:
    from mailer.models import Subscriber
    from mailer.suppressions import address_hash

    with db.session() as session:
        for start in range(0, count, 5000):
            session.execute(
                Subscriber.__table__.insert(),
                [
                    {
                        "email": f"reader{i}@example.com",
                        "email_hash": address_hash(f"reader{i}@example.com"),
                        "first_name": f"Reader{i}",
                        "status": "confirmed",
                        "paused": False,
                        "token_nonce": secrets.token_hex(8),
                        "origin": "bench",
                        "soft_bounces": 0,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(start, min(start + 5000, count))
                ],
            )


def engine_child(folder: str, port: int, connections: int, count: int, dkim: str) -> None:
    """Runs in its own interpreter: send `count` messages, print rate and peak RSS."""
    from mailer import delivery
    from mailer.db import Database
    from mailer.transports import transport_from_dsn

    work = Path(folder)
    settings = settings_for(work, port, connections, dkim)
    db = Database(settings.effective_database_url)
    add_subscribers(db, count)
    with db.session() as session:
        from sqlalchemy import select

        from mailer.models import Digest

        digest_id = session.scalar(select(Digest.id))

    def factory():
        return transport_from_dsn(settings.transport, settings=settings)

    started = time.perf_counter()
    report = delivery.send_digest(db, settings, digest_id, factory, lambda: datetime.now(UTC))
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "sent": report.sent,
                "done": report.done,
                "seconds": round(elapsed, 2),
                "rate": report.sent / elapsed,
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


def engine(template: Path, port: int, connections: int, count: int, dkim: str = "") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(template / "bench.db", Path(tmp) / "bench.db")
        out = subprocess.run(
            [sys.executable, __file__, "--child", tmp, str(port), str(connections), str(count)]
            + ([dkim] if dkim else []),
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode:
        raise SystemExit(f"the engine run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["sent"] != count:
        raise SystemExit(f"the engine sent {result['sent']} of {count}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sizes", help="comma-separated subscriber counts")
    parser.add_argument("--connections", default="1,2,4")
    args = parser.parse_args()
    sizes = [
        int(s) for s in (args.sizes or ("2000,10000" if args.quick else "10000,100000")).split(",")
    ]
    conns = [int(c) for c in args.connections.split(",")]
    big, small = max(sizes), min(sizes)
    ceiling_count = min(big, 20000)

    port = free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=run_sink, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    figures: dict = {"sizes": sizes, "smtp": {}, "dkim": {}, "rss_mb": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp)
            data = prepare(template, port)
            figures["message_bytes"] = len(data)
            for c in conns:
                bare = ceiling(port, data, c, ceiling_count)
                run = engine(template, port, c, big)
                figures["smtp"][str(c)] = {
                    "ceiling_per_s": round(bare),
                    "engine_per_s": round(run["rate"]),
                    "ratio": round(run["rate"] / bare, 3),
                    "peak_rss_mb": run["peak_rss_mb"],
                }
                print(f"smtp x{c}: {figures['smtp'][str(c)]}", file=sys.stderr)
            for size in sizes:
                figures["rss_mb"][str(size)] = engine(template, port, max(conns), size)[
                    "peak_rss_mb"
                ]
            c = max(conns)
            bare = ceiling(port, data, c, ceiling_count)
            for kind, count in (("ed25519", small), ("rsa", min(small, 2000))):
                run = engine(template, port, c, count, dkim=kind)
                figures["dkim"][kind] = {
                    "connections": c,
                    "count": count,
                    "engine_per_s": round(run["rate"]),
                    "ratio_to_unsigned_ceiling": round(run["rate"] / bare, 3),
                }
                print(f"dkim {kind}: {figures['dkim'][kind]}", file=sys.stderr)
    finally:
        sink.terminate()
    rss = figures["rss_mb"]
    figures["goals"] = {
        "smtp_ratio_ge_0.8": all(v["ratio"] >= 0.8 for v in figures["smtp"].values()),
        "rss_lt_300mb": max(rss.values()) < 300,
        "rss_flat": rss[str(big)] <= rss[str(small)] * 1.25,
        "dkim_ed25519_ge_0.6": figures["dkim"]["ed25519"]["ratio_to_unsigned_ceiling"] >= 0.6,
    }
    figures["providers"] = "not measured yet: bench/send.py has no provider-batch part"
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, folder, port, conns, count, *rest = sys.argv
        engine_child(folder, int(port), int(conns), int(count), rest[0] if rest else "")
    else:
        main()
