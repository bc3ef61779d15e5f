"""Workers on PostgreSQL: three drain one digest, one dies by SIGKILL, a fourth joins late.

Runs on the PostgreSQL server of MAILER_TEST_DATABASE_URL (CI starts one); without it the
test fails rather than skips, like every PostgreSQL test here.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from mailer.cli import AppContext, main
from mailer.content.demo import load_demo
from mailer.core.db import upgrade
from mailer.core.models import Digest
from mailer.delivery import queue
from mailer.delivery.heartbeats import list_workers
from mailer.editions import digests, lifecycle
from mailer.scheduler.jobs import tick
from mailer.services import build
from tests.conftest import make_settings
from tests.fixtures.mailing import add_subscribers, delivery_states, mailer_env, queue_mail

COUNT = 720  # about 12 s at RATE: time for a fresh worker process to start and join in
RATE = 60.0  # messages a second over all workers; the burst is one second's worth


@pytest.fixture
def pg_services(postgres_server, tmp_path, smtp_server, now):
    url = postgres_server.create(migrated=True)
    settings = make_settings(
        tmp_path,
        url,
        queue="procrastinate",
        transport=smtp_server.dsn(),
        send_rate=RATE,
        send_concurrency=2,
        lease_seconds=3,
        worker_job_seconds=2.0,
    )
    services = build(settings)
    yield services
    services.close()
    postgres_server.drop(url)


def start_worker(settings, tmp_path, name: str) -> subprocess.Popen:
    env = mailer_env(settings)  # queue, rate, lease and job length come with the settings
    with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "mailer", "worker", "--name", name],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def live_names(services) -> set[str]:
    return {w.name for w in list_workers(services.db, services.now()) if w.alive}


def most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_three_workers_one_killed_one_joining(pg_services, smtp_server, now, tmp_path):
    services, settings = pg_services, pg_services.settings
    db = services.db
    load_demo(db, now, settings.zone)
    built = digests.build_digest(db, settings, now)
    lifecycle.approve(db, settings, built.digest_id, "editor@example.com", now)
    add_subscribers(db, now, COUNT)
    smtp_server.script.delay = 0.02  # a distant relay

    workers = [start_worker(settings, tmp_path, f"w{n}") for n in (1, 2, 3)]
    late = None
    try:
        wait_until(lambda: {"w1", "w2", "w3"} <= live_names(services), 60, "three workers")
        with db.session() as session:
            session.get(Digest, built.digest_id).status = "sending"
        assert any("queued for the workers" in line for line in tick(services, services.now()))

        smtp_server.wait_for(80, timeout=60)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        late = start_worker(settings, tmp_path, "w4")

        def settled() -> bool:
            with db.session() as session:
                return session.get(Digest, built.digest_id).status == "sent"

        wait_until(settled, 120, "the digest to be sent")

        def all_idle() -> bool:
            workers_now = list_workers(db, services.now())
            return all(w.doing == "idle" for w in workers_now if w.name != "w1")

        wait_until(all_idle, 30, "the workers to finish their jobs")
        by_worker = {w.name: w for w in list_workers(db, services.now())}
    finally:
        for proc in [*workers, late]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*workers, late]:
            if proc is not None:
                proc.wait(timeout=30)

    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    rows = delivery_states(db)
    assert len(rows) == COUNT  # none lost
    for email, status in rows.items():
        if status == "unknown":
            assert received[email] <= 1, email
        else:
            assert (status, received[email]) == ("sent", 1), email
    assert max(received.values()) == 1

    times = [m.received_at for m in smtp_server.messages]
    for window in (1.0, 2.0, 5.0):
        # the limit over the window plus one burst; one message of slack for clock edges
        assert most_in_window(times, window) <= RATE * window + RATE + 1, window

    assert by_worker["w4"].sent > 0, "the late worker never joined in"
    assert by_worker["w2"].sent > 0 and by_worker["w3"].sent > 0
    for proc, name in zip([*workers[1:], late], ("w2", "w3", "w4"), strict=True):
        assert proc.returncode == 0, (tmp_path / f"{name}.log").read_text()


def test_the_job_of_a_killed_worker_is_reaped_and_old_jobs_go(
    pg_services, smtp_server, now, tmp_path
):
    services, db = pg_services, pg_services.db
    load_demo(db, now, services.settings.zone)
    built = digests.build_digest(db, services.settings, now)
    lifecycle.approve(db, services.settings, built.digest_id, "editor@example.com", now)
    add_subscribers(db, now, 40)
    smtp_server.script.delay = 0.5  # slow enough that the job is surely mid-send when killed
    patient = replace(services.settings, worker_job_seconds=60.0)
    worker = start_worker(patient, tmp_path, "doomed")
    try:
        wait_until(lambda: "doomed" in live_names(services), 60, "the worker")
        with db.session() as session:
            session.get(Digest, built.digest_id).status = "sending"
        tick(services, services.now())
        smtp_server.wait_for(2, timeout=60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert queue.queue_counts(db)["doing"] == 1
    # a heartbeat 2 minutes old counts as dead; a live worker would beat every 10 s
    assert queue.reap_stalled_jobs(services, after_seconds=120) == 0
    assert queue.reap_stalled_jobs(services, after_seconds=0) == 1
    counts = queue.queue_counts(db)
    assert "doing" not in counts and counts["failed"] == 1
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) == 0
    queue.delete_finished_jobs(services, hours=0)
    assert "failed" not in queue.queue_counts(db)
    assert queue.queue_counts(db).get("todo", 0) >= 1  # the digest's next job still waits


def test_an_editors_send_and_a_waiting_confirmation_are_queued_at_once(pg_services, now):
    from app import create_app
    from mailer.editions.accounts import add_editor
    from mailer.scheduler.jobs import poll_outbox
    from tests.fixtures.editors import FAST_COST, PASSWORD, signed_in, token

    services, db = pg_services, pg_services.db
    queue.ensure_schema(db)
    load_demo(db, now, services.settings.zone)
    built = digests.build_digest(db, services.settings, now)
    lifecycle.approve(db, services.settings, built.digest_id, "ed@example.com", now)
    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)
    client = signed_in(create_app(services=services).test_client())
    page = client.get(f"/admin/digests/{built.digest_id}").get_data(as_text=True)
    sent = client.post(
        f"/admin/digests/{built.digest_id}/act",
        data={"action": "send_now", "confirm": "yes", "csrf_token": token(page)},
    )
    assert sent.status_code == 303
    assert queue.queue_counts(db) == {"todo": 1}  # the digest's job, before any tick

    queue_mail(db, services.settings, services.now(), "desk@example.com", subject="Built")
    assert poll_outbox(services, services.now()) == ["outbox: queued for the workers"]
    assert queue.queue_counts(db) == {"todo": 2}
    poll_outbox(services, services.now())  # a job already waits: the lock keeps it at one
    assert queue.queue_counts(db) == {"todo": 2}


def test_workers_command_lists_live_workers(pg_services, tmp_path):
    services = pg_services
    upgrade(services.db)
    queue.ensure_schema(services.db)
    assert queue.ensure_schema(services.db) is False  # the second install does nothing
    proc = start_worker(services.settings, tmp_path, "solo")
    try:
        wait_until(lambda: "solo" in live_names(services), 60, "the worker")
        result = CliRunner().invoke(main, ["workers"], obj=AppContext(services))
        assert result.exit_code == 0, result.output
        assert "solo" in result.output and "live" in result.output
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, (tmp_path / "solo.log").read_text()
    assert "solo" not in live_names(services)  # a clean stop removes its row at once


def test_worker_refuses_without_the_queue_or_postgresql(cli, settings):
    result = cli("worker")
    assert result.exit_code == 2
    assert "MAILER_QUEUE=procrastinate" in result.output


def test_workers_command_says_when_none_was_seen(cli):
    result = cli("workers")
    assert result.exit_code == 0
    assert "No worker has been seen" in result.output


def test_db_upgrade_installs_the_queue_tables_once(pg_services):
    runner, context = CliRunner(), AppContext(pg_services)
    first = runner.invoke(main, ["db", "upgrade"], obj=context)
    assert first.exit_code == 0, first.output
    assert "Queue tables installed." in first.output
    again = runner.invoke(main, ["db", "upgrade"], obj=context)
    assert again.exit_code == 0 and "Queue tables installed." not in again.output
    with pg_services.db.engine.connect() as conn:
        assert conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))


def test_worker_refuses_a_database_that_is_not_migrated(postgres_server, tmp_path):
    url = postgres_server.create(migrated=False)
    settings = make_settings(tmp_path, url, queue="procrastinate")
    services = build(settings)
    try:
        result = CliRunner().invoke(main, ["worker"], obj=AppContext(services))
    finally:
        services.close()
        postgres_server.drop(url)
    assert result.exit_code == 2
    assert "run `mailer db upgrade` once" in result.output


def test_digest_send_hands_the_job_to_the_workers(pg_services, now):
    from click.testing import CliRunner

    from mailer.cli import AppContext, main

    services, db = pg_services, pg_services.db
    queue.ensure_schema(db)
    load_demo(db, now, services.settings.zone)
    built = digests.build_digest(db, services.settings, now)
    lifecycle.approve(db, services.settings, built.digest_id, "ed@example.com", now)
    runner = CliRunner()
    first = runner.invoke(main, ["digest", "send", "2026-W48"], obj=AppContext(services))
    assert first.exit_code == 0, first.output
    assert "is queued for the workers" in first.output and "--here" in first.output
    assert queue.queue_counts(db) == {"todo": 1}
    again = runner.invoke(main, ["digest", "send", "2026-W48"], obj=AppContext(services))
    assert "was already queued" in again.output
    assert queue.queue_counts(db) == {"todo": 1}
