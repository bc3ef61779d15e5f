"""Sending throughput against ceilings measured in the same run, and peak memory.

- SMTP: the whole engine (ledger, claims, personalisation, SMTP transport) sending one digest
  to N subscribers over 1, 2 and 4 connections, as a ratio to bare smtplib loops sending one
  pre-built message over the same number of connections to the same local sink. The bare
  loop runs just before and just after the engine and the ceiling is their mean, so a
  neighbour's load that comes or goes during the cell weighs on both sides alike.
- DKIM: the same with signing on (RSA-2048 and Ed25519), against the unsigned ceiling.
- Provider APIs (bench/send_providers.py): the engine through each HTTP API transport
  (Postmark, Resend, SendGrid, Mailgun, SES), as a ratio to bare `requests` posting pre-built
  batches of the provider's largest size, in the same shape, to the same local sink.
- Peak RSS of a whole send in a child process at two sizes (flat is the goal). The database
  is made first in this process, so the child's peak is the send's alone (with the imports
  and the open database, reported as `before_send`). `--rss-transport sendgrid` (the
  default) sends through SendGrid's API, 1000 readers a call, to the local sink: the whole
  engine (claims, tokens, messages, the ledger's writes) at its fastest path, so 100k readers
  take a couple of minutes; `smtp` sends over 4 SMTP connections to the local sink (slower).

Prints one JSON line at the end, with the load average before and after.
python bench/send.py [--size 10000] [--rss 10000,100000] [--rss-transport sendgrid|smtp]
[--only smtp,dkim,providers,rss]  (the providers alone: python bench/send_providers.py)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import secrets
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

from bench.send_providers import dsn_for, provider_ratios, provider_sink  # noqa: E402
from mailer.editions import lifecycle  # noqa: E402

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- local sinks, each in its own process so they never share the sender's GIL -------------


def _smtp_sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    threading.Event().wait()


def start(target, port: int) -> multiprocessing.Process:
    process = multiprocessing.Process(target=target, args=(port,), daemon=True)
    process.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sink did not start")


# --- the engine's side ----------------------------------------------------------------------


def prepare(workdir: Path, size: int, database_url: str | None = None, **overrides):
    """A database with the demo digest approved and `size` confirmed subscribers."""
    from sqlalchemy import select

    from mailer.content.demo import load_demo
    from mailer.core.db import Database, upgrade
    from mailer.core.models import Subscriber
    from mailer.editions import digests
    from mailer.readers import newsletters
    from mailer.readers.suppressions import address_hash

    db_path = workdir / f"send-{secrets.token_hex(4)}.db"
    settings = bench_settings(workdir, database_url or f"sqlite:///{db_path}", **overrides)
    db = Database(settings.effective_database_url)
    upgrade(db)
    load_demo(db, NOW, settings.zone)
    digest_id = digests.build_digest(db, settings, NOW).digest_id
    lifecycle.approve(db, settings, digest_id, "bench", NOW)

    def rows(start_at: int) -> list[dict]:
        return [
            {
                "email": f"reader{i}@example.com",
                "email_hash": address_hash(f"reader{i}@example.com"),
                "first_name": "Ann" if i % 2 else None,
                "status": "confirmed",
                "paused": False,
                "token_nonce": secrets.token_hex(8),
                "origin": "bench",
                "soft_bounces": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(start_at, min(start_at + 5000, size))
        ]

    with db.session() as session:
        for start_at in range(0, size, 5000):
            session.execute(Subscriber.__table__.insert(), rows(start_at))
        default = newsletters.default_newsletter(session).id
        ids = session.scalars(select(Subscriber.id)).all()
        newsletters.activate_many(session, ids, default, NOW)
    return db, settings, digest_id


def bench_settings(workdir: Path, database_url: str, **overrides):
    from mailer.core.config import Settings

    return Settings.from_env(
        {},
        instance_dir=str(workdir),
        database_url=database_url,
        secret_key="b" * 40,
        send_rate=1_000_000.0,
        **overrides,
    )


def engine_rate(workdir: Path, size: int, dsn: str, connections: int, **overrides) -> float:
    from mailer.delivery.engine import send_digest
    from mailer.delivery.transports import transport_from_dsn, transport_options
    from mailer.services import system_clock

    db, settings, digest_id = prepare(
        workdir, size, transport=dsn, send_concurrency=connections, **overrides
    )
    # started before the clock runs: the pre-send check runs once a send, not per message
    lifecycle.start(db, digest_id, "bench", NOW)
    started = time.perf_counter()
    report = send_digest(
        db,
        settings,
        digest_id,
        lambda: transport_from_dsn(dsn, transport_options(settings)),
        system_clock,
    )
    elapsed = time.perf_counter() - started
    assert report.done and report.sent == size, report
    db.dispose()
    return size / elapsed


def sample_message(workdir: Path, signer=None) -> tuple[str, bytes]:
    from mailer.delivery.compose import Recipient, digest_message
    from mailer.editions.digests import find_digest
    from mailer.editions.render import render_digest

    db, settings, digest_id = prepare(workdir, 1)
    rendered = render_digest(find_digest(db, digest_id), settings)
    message = digest_message(
        rendered,
        Recipient(1, "reader@example.com", "Ann", "n"),
        settings,
        "<x@example.com>",
        "2026-W48",
        1,
    )
    db.dispose()
    data = message.as_bytes()
    return message.sender, signer.sign(data) if signer else data


def bare_smtp_rate(
    port: int, size: int, connections: int, sender: str, data: bytes, signer=None
) -> float:
    def worker(count: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            for i in range(count):
                payload = signer.sign(data) if signer else data
                client.sendmail(sender, [f"reader{i}@example.com"], payload)

    share = size // connections
    threads = [threading.Thread(target=worker, args=(share,)) for _ in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return share * connections / (time.perf_counter() - started)


def digest_batch(workdir: Path):
    """A function giving n messages of the demo issue to n readers, as the engine builds them."""
    from mailer.delivery.compose import Recipient, digest_message
    from mailer.editions.digests import find_digest
    from mailer.editions.render import render_digest

    db, settings, digest_id = prepare(workdir, 1)
    rendered = render_digest(find_digest(db, digest_id), settings)
    db.dispose()

    def messages(count: int, batch_form: bool) -> list:
        return [
            digest_message(
                rendered,
                Recipient(i, f"reader{i}@example.com", "Ann" if i % 2 else None, "n"),
                settings,
                f"<{i}.bench@example.com>",
                "2026-W48",
                i,
                NOW,
                batch_form,
            )
            for i in range(count)
        ]

    return messages


def dkim_keys(workdir: Path) -> dict:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (workdir / "rsa.pem").write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    (workdir / "ed.key").write_bytes(base64.b64encode(seed))
    return {
        "dkim_domain": "example.com",
        "dkim_selector": "rsa",
        "dkim_private_key": str(workdir / "rsa.pem"),
        "dkim_ed25519_selector": "ed",
        "dkim_ed25519_key": str(workdir / "ed.key"),
    }


def child_rss(workdir: Path, size: int, dsn: str) -> dict:
    """Peak RSS in MB of one whole send of `size` readers, in a fresh process, and of that
    process before the send (imports, settings, the open database): the database is made
    here first, so the child holds only what sending holds."""
    db, settings, digest_id = prepare(workdir, size, transport=dsn, send_concurrency=4)
    lifecycle.start(db, digest_id, "bench", NOW)
    db.dispose()
    command = [sys.executable, __file__, "--child", str(digest_id), "--port", "0"]
    command += ["--child-db", settings.effective_database_url, "--child-dsn", dsn]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    before, peak, sent = (int(n) for n in out.stdout.split())
    assert sent == size, (sent, size)
    return {"before_send": before // 1024, "peak": peak // 1024}


def memory_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KB. Not ru_maxrss: Linux carries the
    parent's peak into a forked child across exec, so a child of a big bench process would
    report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def run_child(digest_id: int, database_url: str, dsn: str) -> None:
    from mailer.core.db import Database
    from mailer.delivery.engine import send_digest
    from mailer.delivery.transports import transport_from_dsn, transport_options
    from mailer.services import system_clock

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp), database_url, transport=dsn, send_concurrency=4)
        db = Database(settings.effective_database_url)
        before = memory_kb("VmRSS")
        report = send_digest(
            db,
            settings,
            digest_id,
            lambda: transport_from_dsn(dsn, transport_options(settings)),
            system_clock,
        )
        db.dispose()
    print(before, memory_kb("VmHWM"), report.sent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--rss", default="10000,100000")
    parser.add_argument(
        "--rss-transport",
        choices=("sendgrid", "smtp"),
        default="sendgrid",
        help="what the memory sends through: SendGrid's API (1000 readers a call) to the "
        "local sink, minutes at 100k readers; or SMTP over 4 connections to the local sink",
    )
    parser.add_argument("--only", default="smtp,dkim,providers,rss")
    parser.add_argument("--child", type=int)
    parser.add_argument("--child-db")
    parser.add_argument("--child-dsn")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.child_db, args.child_dsn)
        return
    only = set(args.only.split(","))

    smtp_port, http_port = free_port(), free_port()
    sinks = [start(_smtp_sink, smtp_port), start(provider_sink, http_port)]
    dsn = f"smtp://127.0.0.1:{smtp_port}?tls=none"
    result: dict = {"bench": "send", "size": args.size, "cpu_count": os.cpu_count()}
    result["load_before"] = [round(n, 1) for n in os.getloadavg()]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            sender, data = sample_message(workdir)
            if "smtp" in only:
                result["smtp"] = []
                for connections in (1, 2, 4):
                    before = bare_smtp_rate(smtp_port, args.size, connections, sender, data)
                    ours = engine_rate(workdir, args.size, dsn, connections)
                    after = bare_smtp_rate(smtp_port, args.size, connections, sender, data)
                    bare = (before + after) / 2
                    result["smtp"].append(
                        {
                            "connections": connections,
                            "engine_per_s": round(ours),
                            "bare_smtplib_per_s": round(bare),
                            "bare_before_after": [round(before), round(after)],
                            "ratio": round(ours / bare, 3),
                        }
                    )
                    print(f"smtp x{connections}: {ours:.0f}/s vs {bare:.0f}/s", file=sys.stderr)

            if "dkim" in only:
                before = bare_smtp_rate(smtp_port, args.size, 4, sender, data)
                signed = engine_rate(workdir, args.size, dsn, 4, **dkim_keys(workdir))
                after = bare_smtp_rate(smtp_port, args.size, 4, sender, data)
                unsigned = (before + after) / 2
                result["dkim"] = {
                    "connections": 4,
                    "signing": "rsa-sha256 + ed25519-sha256",
                    "engine_signed_per_s": round(signed),
                    "bare_unsigned_per_s": round(unsigned),
                    "bare_before_after": [round(before), round(after)],
                    "ratio": round(signed / unsigned, 3),
                }
                print(f"dkim x4: {signed:.0f}/s vs {unsigned:.0f}/s", file=sys.stderr)

            if "providers" in only:
                result["providers"] = provider_ratios(
                    workdir, args.size, http_port, engine_rate, digest_batch(workdir)
                )

            if "rss" in only:
                rss_dsn = dsn if args.rss_transport == "smtp" else dsn_for("sendgrid", http_port)
                sizes = [int(s) for s in args.rss.split(",") if s]
                result["rss_mb"] = {"transport": args.rss_transport}
                for size in sizes:
                    result["rss_mb"][str(size)] = child_rss(workdir, size, rss_dsn)
                    print(f"rss {size}: {result['rss_mb'][str(size)]}", file=sys.stderr)
    finally:
        for sink in sinks:
            sink.terminate()
    result["load_after"] = [round(n, 1) for n in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
