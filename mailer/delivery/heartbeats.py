"""Who is sending: each `mailer worker` keeps a heartbeat row, so operators see the live ones.

Rows live in `leases` under `worker:<id>`; a row whose heartbeat stopped for longer than
STALE is a worker that died (or lost its host) and is shown as gone, then forgotten.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from mailer.core.db import Database
from mailer.core.models import Lease

log = logging.getLogger(__name__)

PREFIX = "worker:"
BEAT_SECONDS = 5.0
STALE = timedelta(seconds=30)
FORGET = timedelta(hours=1)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    doing: str
    sent: int
    alive: bool


def new_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class Heartbeat:
    """Writes this worker's row now and every few seconds from a thread, until stopped."""

    def __init__(self, db: Database, name: str, clock: Callable[[], datetime]) -> None:
        self.db, self.name, self.clock = db, name, clock
        self.doing = "idle"
        self.sent = 0
        self.started_at = clock()
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_doing(self, doing: str) -> None:
        """Shown at once: a job's start and end are worth a write each."""
        with self.lock:
            self.doing = doing
        try:
            self.beat()
        except Exception:  # the heartbeat thread will write it on its next beat
            log.warning("could not record what worker %s is doing", self.name, exc_info=True)

    def add_sent(self, count: int) -> None:
        with self.lock:
            self.sent += count

    def beat(self) -> None:
        now = self.clock()
        with self.lock:
            value = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self.started_at.isoformat(),
                "doing": self.doing,
                "sent": self.sent,
            }
        with self.db.session() as session:
            row = session.get(Lease, PREFIX + self.name)
            if row is None:
                row = Lease(name=PREFIX + self.name, holder=self.name, expires_at=now)
                session.add(row)
            row.expires_at, row.value = now + STALE, value

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self.beat()
            except Exception:  # a database blip must not kill the worker; the next beat retries
                log.warning("worker %s missed a heartbeat", self.name, exc_info=True)

    def stop(self) -> None:
        """A clean exit removes the row at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=BEAT_SECONDS)
        with self.db.session() as session:
            session.execute(delete(Lease).where(Lease.name == PREFIX + self.name))


def list_workers(db: Database, now: datetime) -> list[WorkerInfo]:
    """Every worker seen in the last hour, live ones first; older silent rows are dropped."""
    with db.session() as session:
        session.execute(
            delete(Lease).where(Lease.name.like(PREFIX + "%"), Lease.expires_at < now - FORGET)
        )
        rows = session.scalars(select(Lease).where(Lease.name.like(PREFIX + "%"))).all()
    workers = []
    for row in rows:
        value = row.value or {}
        workers.append(
            WorkerInfo(
                name=row.name.removeprefix(PREFIX),
                host=str(value.get("host", "?")),
                pid=int(value.get("pid", 0)),
                started_at=datetime.fromisoformat(value["started_at"])
                if value.get("started_at")
                else row.expires_at,
                seen_at=row.expires_at - STALE,
                doing=str(value.get("doing", "")),
                sent=int(value.get("sent", 0)),
                alive=row.expires_at >= now,
            )
        )
    return sorted(workers, key=lambda w: (not w.alive, w.host, w.name))
