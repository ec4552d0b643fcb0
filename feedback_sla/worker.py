"""The outbox worker: claim due messages with a lease, send them with no transaction open, record.

Delivery is at least once. A message is claimed (status sending, lease_until set) and the claim is
committed before any SMTP traffic; a worker that stops mid-send loses its claim when the lease
expires and the message is sent again with the Message-ID fixed when it was queued, so a resend
can be recognised. Each step of the loop is its own transaction, committed by the loop itself:
the claim; every failure, at once; every accepted message marked sent, before the next one is sent;
what the batch's sent emails did to their candidates' waits, all at once after it; the release of
what a stopping worker did not send. So a worker killed at any moment repeats at most the one
message the server had accepted and the database did not yet record.

A sent candidate email keeps its lease until its answer (the EMAIL_SENT event that closes the wait)
is recorded; what a killed worker left so is recorded by the next worker once the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from flask import Flask, current_app
from flask_mail import email_dispatched
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails import leases
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.headers import HeaderError
from feedback_sla.emails.transport import (
    ConnectError,
    DeliveryError,
    Envelope,
    backend_for,
    build_message,
)
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import answers
from feedback_sla.waits.clock import OrgSettings

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

MAX_ERROR = 1_000


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # failed this time, pending for a later attempt
    failed: int = 0  # failed for good
    released: int = 0  # claimed but handed back unsent (the worker is stopping)
    message_ids: list[str] = field(default_factory=list, repr=False)

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.released += other.released
        self.message_ids.extend(other.message_ids)
        return self

    def __bool__(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.released)

    def summary(self) -> str:
        return f"sent {self.sent}, will retry {self.retried}, failed {self.failed}" + (
            f", handed back {self.released}" if self.released else ""
        )


# --- recording ----------------------------------------------------------------------------------


def record_answers(
    session: Session, sent: Sequence[tuple[Envelope, dt.datetime]], settings: OrgSettings
) -> None:
    """Record what the candidate emails of ``sent`` (each with the time it went) did to their
    waits, those whose answer nobody else recorded meanwhile: few statements for a whole batch."""
    mine = leases.settle(session, [envelope.id for envelope, _ in sent])
    answers.emails_sent(
        session, [answers.sent_of(envelope, at) for envelope, at in sent if envelope.id in mine], settings
    )


def record_unsettled(session: Session, now: dt.datetime, limit: int) -> int:
    """Record the answers a stopped worker left unrecorded once their lease ran out: how many."""
    taken = leases.unsettled(session, now, limit)
    if taken:
        sent = [answers.sent_of(envelope, at) for envelope, at in taken]
        answers.emails_sent(session, sent, settings_service.load(session))
        log.warning("outbox: recorded %s sent message(s) a stopped worker had not", len(taken))
    return len(taken)


def record_failure(
    session: Session,
    envelope: Envelope,
    at: dt.datetime,
    error: str,
    config: EmailConfig,
    rng: random.Random,
    *,
    permanent: bool = False,
) -> DeliveryReport:
    """Schedule another attempt with backoff, or, after the last one, mark the message failed."""
    error = error[:MAX_ERROR]
    final = permanent or envelope.attempts >= config.max_attempts
    retry_at = None if final else at + leases.backoff(config, envelope.attempts, rng)
    changed = leases.mark_failed(session, envelope, at, error, retry_at)
    if not final:
        log.info(
            "outbox: message %s attempt %s failed, will retry: %s", envelope.id, envelope.attempts, error
        )
        return DeliveryReport(retried=1)
    if changed and envelope.candidate_id is not None:
        answers.email_failed(
            session,
            session.get(Candidate, envelope.candidate_id),
            at,
            error,
            kind=envelope.kind,
            outbox_id=envelope.id,
            attempts=envelope.attempts,
        )
    log.warning(
        "outbox: message %s failed for good after %s attempt(s): %s", envelope.id, envelope.attempts, error
    )
    return DeliveryReport(failed=1)


# --- delivering ---------------------------------------------------------------------------------


class _Batch:
    """One batch on one connection and its report. Every method that writes ends its own
    transaction, so the loop reads as its steps."""

    def __init__(self, session, config, settings, rng, clock):
        self.session, self.config, self.settings, self.rng, self.clock = session, config, settings, rng, clock
        self.report = DeliveryReport()
        self.unrecorded: list[tuple[Envelope, dt.datetime]] = []

    def commit_sent(self, envelope: Envelope, at: dt.datetime) -> None:
        """Step: mark what the server accepted sent, in one short transaction, before the next send.
        What it did to the candidate's wait is recorded once the batch is through (``commit_answers``);
        until then its lease stays."""
        if leases.mark_sent(self.session, envelope, at) and envelope.candidate_id is not None:
            self.unrecorded.append((envelope, at))
        self.session.commit()
        self.report += DeliveryReport(sent=1, message_ids=[envelope.message_id])

    def commit_answers(self) -> None:
        """Step: what the batch's sent emails did to their candidates' waits, in one transaction."""
        if self.unrecorded:
            record_answers(self.session, self.unrecorded, self.settings)
            self.session.commit()
            self.unrecorded = []

    def commit_failure(self, envelope: Envelope, error: str, *, permanent: bool = False) -> None:
        """Step: a failure is recorded at once, in its own transaction."""
        self.report += record_failure(
            self.session, envelope, self.clock(), error, self.config, self.rng, permanent=permanent
        )
        self.session.commit()

    def commit_release(self, rest: Sequence[Envelope]) -> None:
        """Step: hand back what this worker will not send, in one transaction."""
        self.report += DeliveryReport(released=leases.release(self.session, rest))
        self.session.commit()


def _try_send(transport, envelope: Envelope, config: EmailConfig, now: dt.datetime) -> EmailMessage:
    """Build and send one message; HeaderError or DeliveryError says why it did not go."""
    message = build_message(envelope, config, now)
    transport.send(message, envelope, config.envelope_sender(envelope.token))
    return message


def deliver_batch(
    session: Session,
    batch: Sequence[Envelope],
    config: EmailConfig,
    backend,
    *,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
    settings: OrgSettings | None = None,
) -> DeliveryReport:
    """Send claimed messages on one connection; each failure and each success is recorded (and
    committed) before the next message is sent.

    The sender's name is the company name as the admins set it when the batch starts.
    """
    config = settings_service.email_config(session, config)
    run = _Batch(
        session,
        config,
        settings or settings_service.load(session),
        rng or random.Random(),  # noqa: S311  (spreads retries; not a secret)
        clock,
    )
    session.commit()  # no transaction stays open while the server is talked to
    margin = dt.timedelta(seconds=min(2 * config.mail_timeout, config.lease_seconds / 2))
    transport = backend.open()
    try:
        for index, envelope in enumerate(batch):
            if index and ((stop is not None and stop.is_set()) or clock() >= envelope.lease_until - margin):
                run.commit_release(batch[index:])
                break
            if envelope.attempts > config.max_attempts:
                run.commit_failure(envelope, _INTERRUPTED, permanent=True)
                continue
            try:
                message = _try_send(transport, envelope, config, clock())
            except HeaderError as exc:
                run.commit_failure(envelope, str(exc), permanent=True)
                continue
            except ConnectError as exc:
                for rest in batch[index:]:
                    run.commit_failure(rest, str(exc))
                break
            except DeliveryError as exc:
                run.commit_failure(envelope, str(exc), permanent=exc.permanent)
                continue
            run.commit_sent(envelope, clock())  # before the next send: a crash repeats at most this one
            _dispatched(message)
    finally:
        transport.close()
    run.commit_answers()
    return run.report


_INTERRUPTED = "gave up: the last attempt was interrupted (the message may have been delivered)"


def _dispatched(message: EmailMessage) -> None:
    """Flask-Mail's signal (``mail.record_messages()`` listens to it); the message is already sent."""
    try:
        email_dispatched.send(current_app._get_current_object(), message=message)
    except Exception:  # a receiver's error cannot unsend the message
        log.exception("outbox: a receiver of email_dispatched failed")


def deliver_due(
    session: Session,
    config: EmailConfig,
    backend,
    *,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Claim and deliver batches until nothing is due (or ``stop`` is set)."""
    report = DeliveryReport()
    while stop is None or not stop.is_set():
        _record_what_a_stopped_worker_left(session, clock(), config.batch_size)
        batch = leases.claim(session, clock(), config)
        session.commit()  # step: the claim, visible to every other worker before anything is sent
        if not batch:
            break
        report += deliver_batch(session, batch, config, backend, clock=clock, stop=stop, rng=rng)
    return report


def _record_what_a_stopped_worker_left(session: Session, now: dt.datetime, limit: int) -> None:
    """Step: the answers a stopped worker left, recorded. One that cannot be recorded is logged
    and left for the next round: it holds up no delivery."""
    try:
        record_unsettled(session, now, limit)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("outbox: recording what a stopped worker sent failed; delivering on")


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    clock: Clock = utcnow,
) -> DeliveryReport:
    """Deliver due messages every OUTBOX_POLL_SECONDS until ``stop`` is set; ``once`` drains and returns.

    Running, a database or programming error is logged and the worker carries on at the next poll;
    with ``once`` it propagates, so the command exits non-zero.
    """
    stop = stop or threading.Event()
    config = EmailConfig.from_app(app)
    backend = backend_for(app, config)
    total = DeliveryReport()
    while not stop.is_set():
        with app.app_context():
            try:
                report = deliver_due(db.session, config, backend, clock=clock, stop=stop)
            except Exception:
                db.session.rollback()
                if once:
                    raise
                log.exception("outbox: delivery round failed; trying again in %s s", config.poll_seconds)
            else:
                total += report
                if report:
                    log.info("outbox: %s", report.summary())
            finally:
                db.session.remove()
        if once:
            break
        stop.wait(config.poll_seconds)
    return total


class BackgroundWorker:
    """The outbox worker on a thread of this process (demo and development server)."""

    def __init__(self, thread: threading.Thread, stop_event: threading.Event) -> None:
        self.thread = thread
        self.stop_event = stop_event

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def start_background_worker(app: Flask, *, clock: Clock = utcnow) -> BackgroundWorker:
    """Run the worker on a daemon thread; start it once per process (not in the reloader's parent)."""
    EmailConfig.from_app(app)  # a bad configuration fails here, not silently on the thread
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        args=(app,),
        kwargs={"stop": stop_event, "clock": clock},
        name="feedback-sla-outbox",
        daemon=True,
    )
    thread.start()
    return BackgroundWorker(thread, stop_event)
