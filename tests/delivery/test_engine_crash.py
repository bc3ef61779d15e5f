"""A send process killed with SIGKILL mid-run, then resumed: nothing lost, nothing doubled,
and no more `unknown` rows than the documented bound (MAILER_HANDOFF_GROUP per worker)."""

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from mailer.core.models import Delivery
from tests.fixtures.mailing import add_subscribers, delivery_states, mailer_env, send_process

COUNT = 150
WORKERS = 3


def mailer_process(settings, smtp_server, tmp_path, group: int = 10):
    return send_process(settings, smtp_server, tmp_path, "2026-W48", WORKERS, group)


def handed_but_unrecorded(db) -> int:
    """Rows a dead run left marked handed over with no result: what becomes `unknown`."""
    with db.session() as session:
        return len(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.status == "sending", Delivery.handed_at.is_not(None)
                )
            ).all()
        )


@pytest.mark.parametrize("group", [1, 8])
def test_sigkill_mid_run_then_resume(
    db, settings, now, approved_digest, smtp_server, tmp_path, group
):
    add_subscribers(db, now, COUNT)
    smtp_server.script.delay = 0.01  # a slow relay, so the kill lands mid-run
    first = mailer_process(settings, smtp_server, tmp_path, group)
    smtp_server.wait_for(40, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    killed_at = len(smtp_server.messages)
    assert killed_at < COUNT, "the run finished before it could be killed"
    in_doubt = handed_but_unrecorded(db)
    assert in_doubt <= WORKERS * group  # the documented bound: one group per worker

    time.sleep(1.5)  # let the dead worker's leases expire
    second = mailer_process(settings, smtp_server, tmp_path, group)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert "Done" in out

    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    rows = delivery_states(db)
    assert len(rows) == COUNT
    unknown = [email for email, status in rows.items() if status == "unknown"]
    assert len(unknown) == in_doubt  # exactly the rows in doubt, nothing else
    for email, status in rows.items():
        if status == "unknown":
            assert received[email] <= 1, email
        else:
            assert status == "sent", (email, status)
            assert received[email] == 1, (email, received[email])
    assert max(received.values()) == 1  # no duplicate at all: unknowns are never re-sent


def test_ctrl_c_gives_claims_back_and_a_resume_starts_at_once(
    db, settings, now, approved_digest, smtp_server, tmp_path
):
    add_subscribers(db, now, COUNT)
    smtp_server.script.delay = 0.01
    env = mailer_env(
        settings,
        MAILER_TRANSPORT=smtp_server.dsn(),
        MAILER_SEND_RATE="1000",
        MAILER_SEND_CONCURRENCY="3",
        MAILER_LEASE_SECONDS="600",  # a resume that waited for these leases would time out
    )
    argv = [sys.executable, "-m", "mailer", "digest", "send", "2026-W48"]
    run = {"env": env, "cwd": tmp_path, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    run["text"] = True
    first = subprocess.Popen(argv, **run)
    smtp_server.wait_for(40, timeout=60)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=30)
    assert first.returncode == 130, out + err
    assert "Resume with: mailer digest send 2026-W48" in err
    assert "Traceback" not in err and "Aborted!" not in err
    states = Counter(delivery_states(db).values())
    assert "sending" not in states and states["sent"] < COUNT  # nothing left claimed

    second = subprocess.run(argv, timeout=120, **run)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Done" in second.stdout
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    assert len(received) == COUNT and max(received.values()) == 1
