"""Scale-out: throughput of 1, 2 and 4 `mailer worker` processes draining one digest.

The sink is a local SMTP server that waits 20 ms before answering DATA, like a distant relay,
so one connection can carry at most 50 messages a second. Each worker sends over one
connection (MAILER_SEND_CONCURRENCY=1), so N workers should approach N times one worker.
The ceiling is bare smtplib over N connections to the same sink, measured in the same run.

Needs PostgreSQL: --database-url, or MAILER_BENCH_DATABASE_URL / MAILER_TEST_DATABASE_URL
(a server URL; a fresh database is made and dropped per measurement).
Prints one JSON line at the end.  python bench/scale.py [--size 1500] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from send import bare_smtp_rate, free_port, prepare, sample_message, start

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DELAY = 0.02


def _slow_sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(DELAY)
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    threading.Event().wait()


class Server:
    """Makes and drops one throwaway database per measurement on the given server."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        from mailer.core.db import normalise_url

        self.url = make_url(normalise_url(url))
        self.admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _exec(self, sql: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def create(self) -> str:
        name = f"mailer_scale_{uuid.uuid4().hex[:8]}"
        self._exec(f"CREATE DATABASE {name}")
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self._exec(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


def worker_env(settings) -> dict[str, str]:
    """Each worker runs on exactly the bench's settings (one connection, 30 s jobs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    return {**env, **settings.environ(), "PYTHONPATH": str(ROOT)}


def workers_rate(server: Server, workdir: Path, size: int, count: int, port: int) -> float:
    """Messages a second while `count` workers drain one digest of `size`."""
    from mailer.core.models import Digest
    from mailer.delivery import queue
    from mailer.delivery.heartbeats import list_workers
    from mailer.services import build

    url = server.create()
    procs: list[subprocess.Popen] = []
    try:
        db, settings, digest_id = prepare(
            workdir,
            size,
            database_url=url,
            transport=f"smtp://127.0.0.1:{port}?tls=none",
            queue="procrastinate",
            send_concurrency=1,
            worker_job_seconds=30.0,
        )
        queue.ensure_schema(db)
        services = build(settings)
        env = worker_env(settings)
        for n in range(count):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "mailer", "worker", "--name", f"bench{n}"],
                    env=env,
                    cwd=workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 60
        while sum(w.alive for w in list_workers(db, services.now())) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        started = time.perf_counter()
        with db.session() as session:
            session.get(Digest, digest_id).status = "sending"
        queue.defer_due_work(services)
        while True:
            with db.session() as session:
                status = session.get(Digest, digest_id).status
            if status != "sending":
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if status != "sent":
            raise RuntimeError(f"the digest ended {status}")
        services.close()
        db.dispose()
        return size / elapsed
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        server.drop(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1500)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("MAILER_BENCH_DATABASE_URL")
        or os.environ.get("MAILER_TEST_DATABASE_URL"),
    )
    args = parser.parse_args()
    if not args.database_url:
        sys.exit("bench/scale.py needs PostgreSQL: pass --database-url postgresql://...")
    counts = [int(n) for n in args.workers.split(",")]
    server = Server(args.database_url)
    port = free_port()
    sink = start(_slow_sink, port)
    result: dict[str, object] = {"bench": "scale", "size": args.size, "relay_delay_ms": 20}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            sender, data = sample_message(workdir)
            rates, ceilings = {}, {}
            for count in counts:
                rates[count] = workers_rate(server, workdir, args.size, count, port)
                ceilings[count] = bare_smtp_rate(port, args.size, count, sender, data)
                print(
                    f"{count} worker(s): {rates[count]:.1f}/s; "
                    f"bare smtplib over {count} connection(s): {ceilings[count]:.1f}/s",
                    file=sys.stderr,
                )
        first = counts[0]
        result.update(
            {
                "per_second": {str(n): round(r, 1) for n, r in rates.items()},
                "ceiling_per_second": {str(n): round(c, 1) for n, c in ceilings.items()},
                "scaling": {str(n): round(rates[n] / rates[first], 2) for n in counts},
                "vs_ceiling": {str(n): round(rates[n] / ceilings[n], 2) for n in counts},
                "goal": "scaling at 4 workers >= 3.2",
            }
        )
    finally:
        sink.terminate()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
