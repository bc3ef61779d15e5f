"""The send engine: drains the ledger through a transport, exactly once, resumable after a crash.

It sees neither HTTP nor SQL: rows come from the ledger, bytes leave through a Transport.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict
from mailer.core.models import Delivery, OutboxMessage
from mailer.delivery import guardrails, ledger, precheck
from mailer.delivery.compose import digest_message
from mailer.delivery.ratelimit import Bucket, bucket_for
from mailer.delivery.transports.base import Message, SendResult, Transport, TransportError
from mailer.editions import lifecycle
from mailer.editions.render import render_digest
from mailer.readers.newsletters import identity
from mailer.readers.suppressions import hard_bounce

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TransportFactory = Callable[[], Transport]
MAX_BACKOFF = 3600.0


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    retrying: int = 0
    paused: str = ""
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


def backoff(attempts: int, base: float, retry_after: float | None) -> float:
    """Exponential with jitter, never sooner than the provider asked."""
    delay = min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF) * random.uniform(0.5, 1.5)
    return max(delay, retry_after or 0.0)


@dataclass
class Drain:
    """Shared state of one drain run: workers, bucket, counters, and the pause switch."""

    db: Database
    settings: Settings
    clock: Clock
    bucket: Bucket
    report: SendReport
    limit: int | None = None
    deadline: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    consecutive_failures: int = 0
    halted: str = ""  # paused or cancelled from outside: leave the digest's status alone
    handed: int = 0
    guarded: int = 0  # settled deliveries of this run, for the guardrails' first judgement
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_progress: Callable[[int], None] | None = None

    def reserve(self, wanted: int) -> int:
        """Take up to `wanted` of what this run may still hand over (for --limit)."""
        with self.lock:
            if self.limit is None:
                return wanted
            granted = max(0, min(wanted, self.limit - self.handed))
            self.handed += granted
            return granted

    def release(self, unused: int) -> None:
        with self.lock:
            if self.limit is not None:
                self.handed -= unused

    def exhausted(self) -> bool:
        with self.lock:
            return self.limit is not None and self.handed >= self.limit

    def should_stop(self) -> bool:
        if self.stop.is_set():
            return True
        return self.deadline is not None and time.monotonic() > self.deadline

    def classify(
        self,
        row_id: int,
        attempts: int,
        result: SendResult,
        idempotent: bool,
        delay: float | None = None,
    ):
        """Turn a transport's verdict into what the ledger should say."""
        now = self.clock()
        if result.accepted:
            self.note(success=True)
            return ledger.Outcome(row_id, "sent", provider_id=result.provider_id), None
        if result.retry_after and result.retryable:
            self.bucket.pause(result.retry_after)
        if result.status == "unknown" and not idempotent:
            return ledger.Outcome(row_id, "unknown", error=result.error or "outcome unknown"), None
        retryable = result.retryable or result.status == "unknown"
        if retryable and attempts < self.settings.max_attempts:
            if delay is None:
                delay = backoff(attempts, self.settings.retry_base_seconds, result.retry_after)
            return (
                ledger.Outcome(
                    row_id,
                    "pending",
                    error=result.error,
                    next_attempt_at=now + timedelta(seconds=delay),
                ),
                None,
            )
        self.note(success=False)
        # only a verdict about the address suppresses it; a refused payload says nothing of it
        permanent = result.status in ("rejected", "invalid")
        return ledger.Outcome(row_id, "failed", error=result.error), permanent

    def refusals(self, provider: str, refused: list[int]) -> None:
        """Keep refusals at hand-off as feedback about their deliveries, at once."""
        if refused:
            guardrails.record_rejections(self.db, provider, refused, self.clock())

    def judge(self, written: list[ledger.Outcome]) -> None:
        """After results are written (the guardrails count settled deliveries only): judge the
        rates when refusals are among them, and once when this run's settled deliveries first
        reach MAILER_GUARDRAIL_MIN_SAMPLE (feedback that came while the sample was small;
        later, rates rise only with news, which is judged as it comes). Stop when the
        guardrails paused the send."""
        settled = [o for o in written if o.status in guardrails.SETTLED]
        if not settled:
            return
        with self.lock:
            sample = self.settings.guardrail_min_sample
            counted = self.guarded < sample <= self.guarded + len(settled)
            self.guarded += len(settled)
        if not (counted or any(o.refused for o in settled)):
            return
        reasons = guardrails.watch(self.db, self.settings, [o.id for o in settled], self.clock())
        if reasons:
            self.halted = reasons[0]
            self.stop.set()

    def note(self, success: bool) -> None:
        with self.lock:
            self.consecutive_failures = 0 if success else self.consecutive_failures + 1
            if self.consecutive_failures >= self.settings.pause_after_errors:
                self.report.paused = (
                    f"{self.consecutive_failures} failures in a row; the last ones are in "
                    "`mailer digest status`"
                )
                self.stop.set()


def _deliver(
    drain: Drain,
    transport: Transport,
    model,
    token: str,
    claimed: list[ledger.Claimed],
    build: Callable[[ledger.Claimed], Message],
    attempts: dict[int, int],
) -> None:
    """Hand a claimed batch over and record: a batch API takes the claim in one call; an
    SMTP-like transport takes one message a call, `handoff_group` of them marked handed over
    in one write.

    Each group's results are written with the next group's hand-off mark; the last ones at
    the end. A crash in between leaves that group's rows handed over and unrecorded: `unknown`,
    never resent. So a crash leaves at most one group's rows `unknown` per worker.
    """
    groups = _groups(claimed, transport, drain.settings.handoff_group)
    unwritten: list[ledger.Outcome] = []
    try:
        for number, group in enumerate(groups):
            if drain.stop.is_set():
                rest = [item.id for later in groups[number:] for item in later]
                ledger.release(drain.db, model, token, rest, drain.clock())
                break
            unwritten = _hand_over(
                drain, transport, model, token, group, build, attempts, unwritten
            )
    finally:
        ledger.record(drain.db, model, token, unwritten, drain.clock())
    if model is Delivery:
        drain.judge(unwritten)


def _groups(claimed: list, transport: Transport, size: int) -> list[list]:
    """What one hand-off mark covers: the whole claim for a batch API, `size` messages for a
    transport that sends one by one (one write a group instead of one a message)."""
    if not transport.per_message:
        return [claimed]
    size = max(1, min(size, transport.max_batch))
    return [claimed[start : start + size] for start in range(0, len(claimed), size)]


def _hand_over(drain, transport, model, token, group, build, attempts, unwritten):
    """Write the last results and mark this group handed, in one write; then send it.

    The written results are judged by the guardrails first. A stop (a guardrail or editor's
    pause, Ctrl-C, too many failures) before or between messages gives the rest of the group
    back as pending, its attempt undone: it was marked, never sent."""
    held = ledger.hand_off(drain.db, model, token, [c.id for c in group], unwritten, drain.clock())
    if model is Delivery:
        drain.judge(unwritten)
    group = [c for c in group if c.id in held]
    calls = [[item] for item in group] if transport.per_message else [group] if group else []
    outcomes: list[ledger.Outcome] = []
    for number, call in enumerate(calls):
        if drain.stop.is_set():
            outcomes += [
                ledger.Outcome(item.id, "pending", untouched=True)
                for later in calls[number:]
                for item in later
            ]
            break
        outcomes += _send_call(drain, transport, model, call, build, attempts)
    return outcomes


def _send_call(drain, transport, model, call, build, attempts) -> list[ledger.Outcome]:
    """Call the transport once, classify each result, suppress addresses refused for good."""
    messages = [build(c) for c in call]
    outcomes: list[ledger.Outcome] = []
    permanent: list[int] = []  # indexes into call: refused for good
    tally = {"sent": 0, "failed": 0, "unknown": 0, "retrying": 0}

    def settle(index: int, result: SendResult, delay: float | None = None) -> None:
        item = call[index]
        outcome, is_permanent = drain.classify(
            item.id, attempts.get(item.id, 0) + 1, result, transport.idempotent, delay
        )
        tally["retrying" if outcome.status == "pending" else outcome.status] += 1
        if is_permanent:
            permanent.append(index)
            outcome = replace(outcome, refused=True)
        outcomes.append(outcome)

    drain.bucket.take(len(messages))
    try:
        results = transport.send(messages, idempotency_key=idempotency_key(model, call))
        for index, result in enumerate(results[: len(call)]):
            settle(index, result)
    except TransportError as exc:
        if exc.throttled:
            drain.bucket.pause(exc.retry_after or 5.0)  # a 429 pauses every worker
        if not exc.retryable:
            drain.report.paused = f"the transport refused the call: {exc}"
            drain.stop.set()
        failure = SendResult(
            "", "failed", retryable=True, retry_after=exc.retry_after, error=str(exc)
        )
        # one delay for the whole call, so the same rows come back together (same key)
        tries = max(attempts.get(c.id, 0) for c in call) + 1
        delay = backoff(tries, drain.settings.retry_base_seconds, exc.retry_after)
        for index in range(len(outcomes), len(call)):
            settle(index, failure, delay)
    if permanent:
        with drain.db.session() as session:
            for index in permanent:
                hard_bounce(session, messages[index].recipient, drain.clock(), source="delivery")
    if model is Delivery:
        drain.refusals(transport.name, [call[i].id for i in permanent])
    drain.report.add(**tally)
    if drain.on_progress:
        drain.on_progress(tally["sent"] + tally["failed"] + tally["unknown"])
    return outcomes


def idempotency_key(model, call: list[ledger.Claimed]) -> str:
    """The same rows give the same key on every retry, so a provider can drop a repeat."""
    ids = ",".join(str(c.id) for c in call)
    if len(call) == 1:
        return f"{model.__tablename__}-{ids}"
    return f"{model.__tablename__}-" + hashlib.sha256(ids.encode()).hexdigest()[:32]


def _worker(drain: Drain, transport_factory: TransportFactory, claim, model, build) -> None:
    transport = transport_factory()
    try:
        while not drain.should_stop():
            size = drain.reserve(claim_size(drain.settings, transport))
            if size <= 0:
                return
            try:
                token, claimed, skipped = claim(size)
            except ledger.NotSending as exc:
                drain.release(size)
                drain.halted = str(exc)
                drain.stop.set()
                return
            drain.release(size - len(claimed))
            if skipped:
                drain.report.add(skipped=skipped)
            if not claimed:
                if skipped:
                    continue
                return
            attempts = {c.id: c.attempts for c in claimed}
            _deliver(drain, transport, model, token, claimed, build, attempts)
    except Exception:
        log.exception("a sending worker stopped; its claims will be reclaimed")
        drain.report.paused = drain.report.paused or "a sending worker crashed; see the log"
        drain.stop.set()
    finally:
        transport.close()


def claim_size(settings: Settings, transport: Transport) -> int:
    """The transport's batch (one provider call), but small enough that a claim is sent well
    within its lease at the allowed rate."""
    within_lease = int(settings.send_rate * settings.lease_seconds / 10)
    return max(1, min(transport.max_batch, within_lease))


@contextlib.contextmanager
def _collector_spared() -> Iterator[None]:
    """Objects made before the workers start (the app, SQLAlchemy, the rendered issue) are
    set aside from the cyclic collector while they run, and given back after: its full
    passes then scan only what the send makes. Those passes were a third of a send's time."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_workers(drain: Drain, count: int, transport_factory, claim, model, build) -> None:
    with _collector_spared():
        _run_threads(drain, count, transport_factory, claim, model, build)


def _run_threads(drain: Drain, count: int, transport_factory, claim, model, build) -> None:
    threads = [
        threading.Thread(
            target=_worker, args=(drain, transport_factory, claim, model, build), daemon=True
        )
        for _ in range(max(count, 1))
    ]
    # Ctrl-C: each worker finishes the call in flight, records it and gives back the rest of
    # its claim, so a resumed run starts at once instead of waiting for leases. The signal only
    # sets the stop while the workers run: a KeyboardInterrupt raised inside Thread.join can
    # leave that thread counted as finished while it still writes (seen about one run in
    # seven), and the process then exits with its claim unreturned.
    with _ctrl_c_stops(drain) as interrupted:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if interrupted:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_stops(drain: Drain) -> Iterator[list[bool]]:
    """In the main thread, SIGINT sets the drain's stop instead of raising; the list yielded
    says whether it came. Elsewhere (the web's and the scheduler's threads) nothing changes."""
    interrupted: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def stop(_signum, _frame) -> None:
        interrupted.append(True)
        drain.stop.set()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _build_outbox(settings: Settings):
    def build(item: ledger.Claimed) -> Message:
        data = item.outbox or {}
        return Message(
            sender=settings.from_addr,
            recipient=data["recipient"],
            subject=data["subject"],
            text=data["text"],
            html=data["html"],
            message_id=item.message_id,
            reply_to=settings.reply_to,
            headers=data["headers"],
            metadata={"kind": data["kind"]},
        )

    return build


def drain_outbox(
    db: Database,
    settings: Settings,
    transport_factory: TransportFactory,
    clock: Clock,
    *,
    time_budget: float | None = None,
) -> SendReport:
    """Send queued confirmation, test and notice mail; runs before any digest."""
    probe = transport_factory()
    idempotent = probe.idempotent
    probe.close()
    ledger.reclaim_expired(db, OutboxMessage, clock(), idempotent)
    drain = Drain(db, settings, clock, bucket_for(db, settings), SendReport())
    if time_budget is not None:
        drain.deadline = time.monotonic() + time_budget

    def claim(size: int):
        return ledger.claim_outbox(db, size, clock(), settings.lease_seconds)

    _run_workers(drain, 1, transport_factory, claim, OutboxMessage, _build_outbox(settings))
    return drain.report


def send_digest(
    db: Database,
    settings: Settings,
    digest_id: int,
    transport_factory: TransportFactory,
    clock: Clock,
    *,
    limit: int | None = None,
    time_budget: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendReport:
    """Send (or resume) a digest until every row is settled, the budget ends, or it pauses."""

    probe = transport_factory()
    try:
        digest = precheck.start_send(db, settings, digest_id, probe, "system", clock())
    finally:
        probe.close()
    idempotent = probe.idempotent
    batch_form = getattr(probe, "personalises", False)  # the transport places readers' values
    mime = getattr(probe, "sends_mime", True)  # False: the provider takes text and HTML fields
    bytes_only = getattr(probe, "sends_bytes_only", False)  # reads only as_bytes()
    scope = [Delivery.digest_id == digest_id]
    ledger.reclaim_expired(db, Delivery, clock(), idempotent, scope)
    ledger.materialise(db, digest_id, clock())
    drain_outbox(db, settings, transport_factory, clock, time_budget=time_budget)
    # Once per offered language, before the workers start: a reader's message is substitution
    # into their language's render, so a send costs one render per language, not per reader.
    renders = {lang: render_digest(digest, settings, language=lang) for lang in settings.languages}
    period = digest.period_key
    newsletter = identity(digest.newsletter, settings)

    def build(item: ledger.Claimed) -> Message:
        language = item.recipient.language
        rendered = renders.get(language or "") or renders[settings.default_language]
        return digest_message(
            rendered,
            item.recipient,
            settings,
            item.message_id,
            period,
            item.id,
            clock(),
            batch_form,
            newsletter,
            mime,
            bytes_only,
        )

    def claim(size: int):
        return ledger.claim_deliveries(db, digest_id, size, clock(), settings)

    drain = Drain(
        db,
        settings,
        clock,
        bucket_for(db, settings),
        SendReport(),
        limit=limit,
        on_progress=on_progress,
    )
    if time_budget is not None:
        drain.deadline = time.monotonic() + time_budget
    while True:
        _run_workers(drain, settings.send_concurrency, transport_factory, claim, Delivery, build)
        state = ledger.counts(db, Delivery, scope)
        waiting = state.get("pending", 0)
        if drain.halted:
            drain.report.paused = drain.halted
            return drain.report
        if drain.report.paused:
            _settle_digest(db, digest_id, "paused", clock(), drain.report.paused)
            return drain.report
        if not waiting and not state.get("sending", 0):
            _settle_digest(db, digest_id, "sent", clock())
            drain.report.done = True
            return drain.report
        if not waiting:  # what is left is held by others: take back what a dead one held
            ledger.reclaim_expired(db, Delivery, clock(), idempotent, scope)
        if drain.should_stop() or drain.exhausted():
            return drain.report
        due = ledger.next_due(db, Delivery, scope)
        pause = max(0.05, (due - clock()).total_seconds()) if due else 0.5
        if drain.deadline is not None:
            pause = min(pause, max(drain.deadline - time.monotonic(), 0))
        time.sleep(min(pause, 5.0))


def _settle_digest(
    db: Database, digest_id: int, status: str, now: datetime, reason: str | None = None
) -> None:
    """End a sending digest once, however many workers reach the end together."""
    # a Conflict means another worker settled it first, or an editor paused or cancelled it
    with contextlib.suppress(Conflict):
        if status == "sent":
            lifecycle.settle(db, digest_id, now)
        else:
            lifecycle.pause(db, digest_id, "system", now, reason or "paused by the engine")
