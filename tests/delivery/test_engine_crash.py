"""A send process killed with SIGKILL mid-run, then resumed: nothing lost, nothing doubled."""

import signal
import subprocess
import sys
import time
from collections import Counter

from tests.fixtures.mailing import add_subscribers, delivery_states, mailer_env

COUNT = 150


def mailer_process(settings, smtp_server, tmp_path):
    env = mailer_env(
        settings,
        MAILER_TRANSPORT=smtp_server.dsn(),
        MAILER_SEND_RATE="1000",
        MAILER_SEND_CONCURRENCY="3",
        MAILER_LEASE_SECONDS="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", "digest", "send", "2026-W48"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_run_then_resume(db, settings, now, approved_digest, smtp_server, tmp_path):
    add_subscribers(db, now, COUNT)
    smtp_server.script.delay = 0.01  # a slow relay, so the kill lands mid-run
    first = mailer_process(settings, smtp_server, tmp_path)
    smtp_server.wait_for(40, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    killed_at = len(smtp_server.messages)
    assert killed_at < COUNT, "the run finished before it could be killed"

    time.sleep(1.5)  # let the dead worker's leases expire
    second = mailer_process(settings, smtp_server, tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert "Done" in out

    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    rows = delivery_states(db)
    assert len(rows) == COUNT
    for email, status in rows.items():
        if status == "unknown":
            assert received[email] <= 1, email
        else:
            assert status == "sent", (email, status)
            assert received[email] == 1, (email, received[email])
    assert max(received.values()) == 1  # no duplicate at all: unknowns are never re-sent
