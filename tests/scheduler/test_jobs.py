"""Ticks at fixed moments: builds and sends happen once, across DST, restarts and two schedulers."""

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.core.models import ConsentEvent, Delivery, Digest, JobRun, OutboxMessage, Subscriber
from mailer.editions import lifecycle
from mailer.readers import subscriptions
from mailer.scheduler.jobs import ingest_due, poll_outbox, scheduled_jobs, tick
from mailer.services import build
from tests.fixtures.mailing import add_subscribers, mailer_env, queue_mail
from tests.fixtures.slow_http import SlowServer


@pytest.fixture
def settings_overrides(smtp_server):
    return {
        "transport": smtp_server.dsn(),
        "timezone": "Europe/London",
        "editor_emails": ("desk@example.com",),
        "send_rate": 1000.0,
    }


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def add_week(db, now, monday: datetime, count=6):
    with db.session() as session:
        for i in range(count):
            article, _ = upsert_article(
                session,
                ArticleData(
                    url=f"https://news.example.com/{monday:%Y%m%d}/{i}",
                    title=f"Story {i} of the week of {monday:%d %B}",
                    published_at=monday + timedelta(days=1, hours=i),
                    section=f"S{i % 3}",
                ),
                now,
            )
            set_stats(session, article, views=100 * (i + 1), now=now)


def digests_in(db):
    with db.session() as session:
        return {d.period_key: d.status for d in session.scalars(select(Digest))}


def notices(db):
    with db.session() as session:
        return [
            m.subject for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def test_build_and_send_across_spring_forward(services, db, smtp_server):
    # 2026-03-29: London moves to summer time; Sunday 18:00 local is 17:00 UTC
    add_week(db, utc(2026, 3, 23), utc(2026, 3, 23))
    add_subscribers(db, utc(2026, 3, 23), 3)
    assert tick(services, utc(2026, 3, 29, 16, 59)) == []
    lines = tick(services, utc(2026, 3, 29, 17, 0))
    assert any("2026-W13 created" in line for line in lines)
    assert not any("build" in line for line in tick(services, utc(2026, 3, 29, 17, 1)))
    assert digests_in(db) == {"2026-W13": "draft"}
    assert "[The Weekly Digest] 2026-W13 is ready for review" in notices(db)
    # Monday 07:00 local is 06:00 UTC: not approved, so it is held and the desk is told
    held = tick(services, utc(2026, 3, 30, 6, 0))
    assert "send: 2026-W13 held, not approved" in held
    assert "[The Weekly Digest] 2026-W13 is on hold: not approved" in notices(db)
    tick(services, utc(2026, 3, 30, 6, 1))
    assert notices(db).count("[The Weekly Digest] 2026-W13 is on hold: not approved") == 1
    lifecycle.approve(db, services.settings, "2026-W13", "ed@example.com", utc(2026, 3, 30, 6, 30))
    started = tick(services, utc(2026, 3, 30, 6, 31))
    assert "send: 2026-W13 started" in started
    assert digests_in(db) == {"2026-W13": "sent"}
    to_readers = [m for m in smtp_server.messages if m.rcpt_tos[0].startswith("reader")]
    assert len(to_readers) == 3


def test_fall_back_week_builds_once(services, db):
    # 2026-10-25 is the Sunday London returns to GMT; 18:00 local is 18:00 UTC
    add_week(db, utc(2026, 10, 19), utc(2026, 10, 19))
    assert tick(services, utc(2026, 10, 25, 17, 59)) == []
    assert any("created" in line for line in tick(services, utc(2026, 10, 25, 18, 0)))
    assert not any("build" in line for line in tick(services, utc(2026, 10, 25, 18, 30)))
    assert digests_in(db) == {"2026-W43": "draft"}


def test_a_missed_tick_still_builds_and_a_restart_does_not_rebuild(services, settings, db):
    add_week(db, utc(2026, 11, 16), utc(2026, 11, 16))
    # the scheduler was down at 18:00 and comes back at 21:10
    assert any("created" in x for x in tick(services, utc(2026, 11, 22, 21, 10)))
    restarted = build(settings, clock=lambda: utc(2026, 11, 22, 21, 11))
    try:
        assert not any("build" in x for x in tick(restarted, utc(2026, 11, 22, 21, 11)))
    finally:
        restarted.close()
    assert digests_in(db) == {"2026-W47": "draft"}


def test_too_little_content_is_skipped_and_the_desk_told(services, db):
    tick(services, utc(2026, 11, 22, 18, 0))
    assert digests_in(db) == {"2026-W47": "skipped"}
    assert "[The Weekly Digest] 2026-W47 skipped: too little content" in notices(db)


def test_auto_approve_sends_unless_vetoed(services, settings, db, smtp_server):
    import dataclasses

    auto = dataclasses.replace(settings, auto_approve=True)
    svc = build(auto, clock=services.clock)
    try:
        add_week(db, utc(2026, 11, 16), utc(2026, 11, 16))
        add_subscribers(db, utc(2026, 11, 16), 2)
        tick(svc, utc(2026, 11, 22, 18, 0))
        lifecycle.veto(db, "2026-W47", "ed@example.com", utc(2026, 11, 22, 19, 0))
        assert "send: 2026-W47 held, not approved" in tick(svc, utc(2026, 11, 23, 7, 0))
        lifecycle.approve(db, auto, "2026-W47", "ed", utc(2026, 11, 23, 7, 5))
        tick(svc, utc(2026, 11, 23, 7, 6))
        assert digests_in(db) == {"2026-W47": "sent"}
    finally:
        svc.close()


def test_two_scheduler_processes_make_one_digest_and_one_message_each(
    settings, db, smtp_server, tmp_path
):
    add_week(db, utc(2026, 11, 16), utc(2026, 11, 16))
    add_subscribers(db, utc(2026, 11, 16), 40)
    env = mailer_env(
        settings,
        MAILER_TRANSPORT=smtp_server.dsn(),
        MAILER_AUTO_APPROVE="true",
        MAILER_TIMEZONE="Europe/London",
        MAILER_SEND_RATE="1000",
    )

    def both(moment: str):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "mailer", "scheduler", "--once", "--now", moment],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, out + err

    both("2026-11-22T18:00:00+00:00")
    both("2026-11-23T07:00:00+00:00")
    both("2026-11-23T07:01:00+00:00")
    assert digests_in(db) == {"2026-W47": "sent"}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 40
    readers = [m.rcpt_tos[0] for m in smtp_server.messages if m.rcpt_tos[0].startswith("reader")]
    assert sorted(readers) == sorted(set(readers)) and len(readers) == 40


def test_sources_are_ingested_once_per_interval(services, db, http_server):
    from mailer.content.sources.ingest import ensure_source
    from tests.fixtures.http import Response

    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>
    <title>Fresh</title><link>https://news.example.com/fresh</link><guid>f</guid>
    <pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>"""
    http_server.route("GET", "/rss", lambda r: Response(200, feed, {"Content-Type": "text/xml"}))
    ensure_source(db, http_server.url + "/rss", utc(2026, 11, 23))
    first = ingest_due(services, utc(2026, 11, 23, 10, 5))
    assert any("1 new" in line for line in first)
    assert ingest_due(services, utc(2026, 11, 23, 10, 40)) == []
    assert any("ingest" in line for line in ingest_due(services, utc(2026, 11, 23, 11, 0)))
    assert not any("ingest" in line for line in tick(services, utc(2026, 11, 23, 12, 0)))
    assert len(http_server.requests_to("/rss")) == 2


def test_a_slow_source_does_not_hold_up_an_approved_digest(settings, db, smtp_server):
    import dataclasses

    from mailer.content.sources.ingest import ensure_source

    patient = dataclasses.replace(settings, http_timeout=120.0, source_deadline=120.0)
    services = build(patient, clock=lambda: utc(2026, 11, 23, 7, 0))
    add_week(db, utc(2026, 11, 16), utc(2026, 11, 16))
    add_subscribers(db, utc(2026, 11, 16), 2)
    tick(services, utc(2026, 11, 22, 18, 0))
    lifecycle.approve(db, patient, "2026-W47", "ed@example.com", utc(2026, 11, 22, 19))
    source = SlowServer("held")  # answers only once released, after the send has gone
    threads: dict[str, threading.Thread] = {}
    try:
        ensure_source(db, source.url, utc(2026, 11, 22))
        due = utc(2026, 11, 23, 7, 0)
        # each job in its own thread, as the scheduler's pool runs them
        threads = {
            job.name: threading.Thread(target=job.run, args=(services, due), daemon=True)
            for job in scheduled_jobs(services)
        }
        for thread in threads.values():
            thread.start()
        assert source.asked.wait(60), "the source was not fetched"
        threads["tick"].join(60)  # a safety net against a hang, not a speed measurement
        assert not threads["tick"].is_alive()
        assert digests_in(db) == {"2026-W47": "sent"}
        with db.session() as session:
            ingest = session.scalar(select(JobRun).where(JobRun.job == "ingest"))
            assert ingest.finished_at is None  # the fetch is still waiting for the source
        source.release.set()
        threads["ingest"].join(60)
        with db.session() as session:
            ingest = session.scalar(select(JobRun).where(JobRun.job == "ingest"))
            assert "1 new" in ingest.result
    finally:
        source.close()
        for thread in threads.values():
            thread.join(60)
        services.close()


def consent_ips(db) -> dict[str, str | None]:
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, ConsentEvent.ip).join(
                Subscriber, Subscriber.id == ConsentEvent.subscriber_id
            )
        ).all()
    return dict(rows)


def join_at(db, settings, email: str, at: datetime) -> None:
    signup = subscriptions.Signup(email=email, ip="203.0.113.7", user_agent="Mozilla/5.0")
    assert subscriptions.subscribe(db, settings, signup, at).result == "queued"


def test_consent_ips_are_pruned_once_a_local_day(services, settings, db):
    first = utc(2026, 11, 25, 0, 5)
    keep = timedelta(days=settings.ip_retention_days)
    join_at(db, settings, "old@example.com", first - keep - timedelta(hours=1))
    join_at(db, settings, "new@example.com", first - keep + timedelta(hours=1))
    assert "prune: 1 consent IPs dropped" in tick(services, first)
    assert consent_ips(db) == {"old@example.com": None, "new@example.com": "203.0.113.7"}
    # later the same local day the job does not run again, even with an IP now out of date
    later = utc(2026, 11, 25, 23, 59)
    assert not any("prune" in line for line in tick(services, later))
    assert consent_ips(db)["new@example.com"] == "203.0.113.7"
    # the next local day it runs once more
    assert "prune: 1 consent IPs dropped" in tick(services, utc(2026, 11, 26, 0, 0))
    assert consent_ips(db)["new@example.com"] is None
    with db.session() as session:
        slots = session.scalars(select(JobRun.slot).where(JobRun.job == "prune")).all()
    assert sorted(slots) == ["2026-11-25", "2026-11-26"]


def test_the_prune_day_is_the_newsroom_day(services, settings, db):
    # London is an hour ahead in summer: 23:30 UTC on 1 July is already 2 July there
    keep = timedelta(days=settings.ip_retention_days)
    join_at(db, settings, "a@example.com", utc(2026, 7, 1, 22, 0) - keep - timedelta(hours=1))
    assert "prune: 1 consent IPs dropped" in tick(services, utc(2026, 7, 1, 22, 0))
    join_at(db, settings, "b@example.com", utc(2026, 7, 1, 23, 30) - keep - timedelta(hours=1))
    assert "prune: 1 consent IPs dropped" in tick(services, utc(2026, 7, 1, 23, 30))
    assert consent_ips(db) == {"a@example.com": None, "b@example.com": None}


def test_the_outbox_poll_sends_due_mail_between_ticks(services, settings, db, smtp_server):
    now = services.now()  # the engine sends on the services' clock
    assert poll_outbox(services, now) == []  # nothing waits: one read, nothing sent

    def queue(subject, due=None):
        row = queue_mail(db, settings, now, "desk@example.com", subject=subject)
        with db.session() as session:
            session.get(OutboxMessage, row).next_attempt_at = due

    queue("later", due=now + timedelta(minutes=5))
    assert poll_outbox(services, now) == []  # a retry that is not due yet waits
    queue("now")
    assert poll_outbox(services, now) == ["outbox: 1 sent, 0 failed"]
    assert [m.message["Subject"] for m in smtp_server.messages] == ["now"]
    assert poll_outbox(services, now) == []


def test_webhook_events_are_deleted_after_the_kept_days(services, settings, db):
    """Hardening finding 9: event rows are kept for MAILER_WEBHOOK_EVENT_DAYS, not for good."""
    from mailer.core.models import WebhookEvent as WebhookEventRow
    from mailer.delivery.webhooks.apply import apply_events
    from mailer.delivery.webhooks.base import WebhookEvent

    first = utc(2026, 11, 25, 0, 5)
    keep = timedelta(days=settings.webhook_event_days)
    for event_id, at in (("old", first - keep - timedelta(hours=1)), ("new", first - keep / 2)):
        event = WebhookEvent(
            provider="ses", event_id=event_id, kind="delivered", recipient="a@example.com", at=at
        )
        apply_events(db, [event], at)
    assert "prune: 0 consent IPs dropped, 1 webhook events deleted" in tick(services, first)
    with db.session() as session:
        assert session.scalars(select(WebhookEventRow.event_id)).all() == ["new"]


def test_a_pre_send_check_error_holds_the_scheduled_send_and_tells_the_desk_once(
    services, settings, db, smtp_server
):
    import dataclasses

    # links to this service over plain http on a public host: the check's error
    public_http = dataclasses.replace(settings, base_url="http://news.example.com")
    svc = build(public_http, clock=services.clock)
    try:
        add_week(db, utc(2026, 11, 16), utc(2026, 11, 16))
        add_subscribers(db, utc(2026, 11, 16), 2)
        tick(svc, utc(2026, 11, 22, 18, 0))
        lifecycle.approve(db, public_http, "2026-W47", "ed@example.com", utc(2026, 11, 22, 19))
        lines = tick(svc, utc(2026, 11, 23, 7, 0))
        assert "send: 2026-W47 blocked by the pre-send check" in lines
        assert not any("blocked" in line for line in tick(svc, utc(2026, 11, 23, 7, 1)))
        subject = "[The Weekly Digest] 2026-W47 is on hold: the pre-send check found errors"
        assert notices(db).count(subject) == 1
        assert digests_in(db) == {"2026-W47": "approved"}
        assert not [m for m in smtp_server.messages if m.rcpt_tos[0].startswith("reader")]
    finally:
        svc.close()
