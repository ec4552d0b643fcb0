"""The outbox worker: claims due messages with a lease, then delivers them with no transaction open.

Delivery is at least once. A message is claimed (status sending, lease_until set) and committed
before any SMTP traffic; a worker that stops mid-send loses its claim when the lease expires and the
message is sent again with the Message-ID fixed when it was queued, so a resend can be recognised.
A message counts as sent as soon as the server accepted it: whatever fails after that (QUIT, a
dropped connection, a signal receiver) cannot turn it into a failure.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import logging
import os
import random
import smtplib
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr

from flask import Flask, current_app
from flask_mail import Message, email_dispatched
from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.orm import Session

from ..candidates import service as timeline
from ..candidates.models import Candidate, EventKind, Status
from ..database import db
from ..settings import service as settings_service
from ..settings.service import OrgSettings
from ..timeutil import utcnow
from ..types import UTCDateTime
from .config import EmailConfig
from .headers import HeaderError, check_headers
from .models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# Flask-Mail builds the messages; connections are opened here, with a timeout it does not set.
Clock = Callable[[], dt.datetime]

MAX_ERROR = 1_000
#: Sent messages recorded in one transaction (a crash before it commits resends at most these).
RECORD_EVERY = 25


@dataclass(frozen=True)
class Envelope:
    """A claimed message, read before the claim commits: sending needs no database access."""

    id: int
    candidate_id: int | None
    kind: str
    to_name: str
    to_address: str
    reply_to_name: str | None
    reply_to_address: str | None
    subject: str
    text: str
    html: str
    message_id: str
    attempts: int
    lease_until: dt.datetime
    queued_at: dt.datetime
    promised_date: dt.date | None


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


class DeliveryError(Exception):
    """One message was not delivered; ``permanent`` when retrying cannot help (a 5xx refusal)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _Disconnected(DeliveryError):
    """The server closed the connection before answering."""


class ConnectError(DeliveryError):
    """The mail server could not be reached or refused the session: no message can go now."""


# --- transports ---------------------------------------------------------------------------------


class SmtpTransport:
    """One SMTP connection reused for a batch, opened on first use with ``MAIL_TIMEOUT``."""

    def __init__(self, state, timeout: float) -> None:
        self._state = state  # Flask-Mail's settings: server, port, TLS, credentials
        self._timeout = timeout
        self._host: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        state = self._state
        host: smtplib.SMTP | None = None
        try:
            if state.use_ssl:
                host = smtplib.SMTP_SSL(state.server, state.port, timeout=self._timeout)
            else:
                host = smtplib.SMTP(state.server, state.port, timeout=self._timeout)
            if state.use_tls:
                host.starttls()
            if state.username and state.password:
                host.login(state.username, state.password)
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(host)
            raise ConnectError(
                f"cannot reach mail server {state.server}:{state.port}: {_describe(exc)}"
            ) from None
        return host

    def send(self, message: Message, envelope: Envelope, sender: str) -> None:
        data = message.as_bytes()
        reused = self._host is not None
        if not reused:
            self._host = self._connect()
        try:
            self._sendmail(sender, envelope.to_address, data)
        except _Disconnected:
            if not reused:
                raise
            # The server closed the connection kept from the previous message (many servers limit the
            # messages per connection); this one was most likely not taken, so try once on a new
            # connection. Should it have been, the copy carries the same Message-ID.
            self._host = self._connect()
            self._sendmail(sender, envelope.to_address, data)

    def _sendmail(self, sender: str, recipient: str, data: bytes) -> None:
        try:
            self._host.sendmail(sender, [recipient], data)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {_describe(exc)}", permanent=all(c >= 500 for c in codes)
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self.close()
            raise DeliveryError(_describe(exc), permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise _Disconnected(_describe(exc)) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(_describe(exc)) from None

    def close(self) -> None:
        host, self._host = self._host, None
        _close_quietly(host)


def _close_quietly(host: smtplib.SMTP | None) -> None:
    """QUIT and close; an error here comes after every accepted message and changes nothing."""
    if host is None:
        return
    try:
        host.quit()
    except (smtplib.SMTPException, OSError):
        host.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
            for address, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class SmtpBackend:
    def __init__(self, state, timeout: float) -> None:
        self.state = state
        self.timeout = timeout

    def open(self) -> SmtpTransport:
        return SmtpTransport(self.state, self.timeout)


class FileTransport:
    """Writes each message as an .eml file; a resend overwrites the same file."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def send(self, message: Message, envelope: Envelope, sender: str) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
            name = f"{envelope.queued_at:%Y%m%d-%H%M%S}-{envelope.id:06d}-{envelope.kind}.eml"
            fd, partial = tempfile.mkstemp(dir=self.directory, suffix=".partial")
            with os.fdopen(fd, "wb") as out:
                out.write(message.as_bytes())
            os.replace(partial, os.path.join(self.directory, name))
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.directory}: {exc}") from None

    def close(self) -> None:
        pass


class FileBackend:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def open(self) -> FileTransport:
        return FileTransport(self.directory)


def backend_for(app: Flask, config: EmailConfig) -> SmtpBackend | FileBackend:
    if config.backend == "smtp":
        return SmtpBackend(app.extensions["mail"], config.mail_timeout)
    return FileBackend(config.mail_dir)


# --- building -----------------------------------------------------------------------------------


#: Written as built: under Flask-Mail's SMTP policy every header is parsed again and refolded.
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")


class OutboxMail(Message):
    """Flask-Mail's message, with address headers written as quoted or encoded addresses.

    Flask-Mail 0.10 writes the message under Python's SMTP policy, which refolds a header longer
    than a line from its decoded form: a display name with a comma ("O'Brien, Sean") then becomes
    two addresses, and one with quotes or angle brackets garbles the header. Here the address
    headers are set from ``formataddr`` (quoted when needed, an encoded word when not ASCII) and
    the message is written without reparsing, which is also several times faster.
    """

    def __init__(self, *args, address_headers: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.address_headers = address_headers

    def _message(self):
        message = super()._message()
        message.policy = _WIRE_POLICY
        for name, value in self.address_headers.items():
            message.replace_header(name, value)
        return message


def build_message(envelope: Envelope, config: EmailConfig, now: dt.datetime) -> Message:
    """The message as sent: from the organisation, Reply-To the hiring manager, its stored Message-ID.

    A line break in any header value is refused before anything is built.
    """
    check_headers(
        {
            "the organisation's name": config.organisation_name,
            "the organisation's address": config.organisation_email,
            "the recipient's name": envelope.to_name,
            "the recipient's address": envelope.to_address,
            "the reply-to name": envelope.reply_to_name,
            "the reply-to address": envelope.reply_to_address,
            "the subject": envelope.subject,
            "the Message-ID": envelope.message_id,
        }
    )
    sender = formataddr((config.organisation_name, config.organisation_email))
    to = formataddr((envelope.to_name, envelope.to_address))
    reply_to = (
        formataddr((envelope.reply_to_name or "", envelope.reply_to_address))
        if envelope.reply_to_address
        else None
    )
    message = OutboxMail(
        subject=envelope.subject,
        recipients=[(envelope.to_name, envelope.to_address)],
        body=envelope.text,
        html=envelope.html,
        sender=sender,
        reply_to=reply_to,
        date=now.timestamp(),
        address_headers={"From": sender, "To": to, **({"Reply-To": reply_to} if reply_to else {})},
    )
    message.msgId = envelope.message_id
    return message


# --- claiming and recording ---------------------------------------------------------------------

_T = OutboxMessage.__table__
_COLUMNS = (
    _T.c.id,
    _T.c.candidate_id,
    _T.c.kind,
    _T.c.to_name,
    _T.c.to_address,
    _T.c.reply_to_name,
    _T.c.reply_to_address,
    _T.c.subject,
    _T.c.text_body,
    _T.c.html_body,
    _T.c.message_id,
    _T.c.attempts,
    _T.c.lease_until,
    _T.c.queued_at,
    _T.c.promised_date,
)


def _due(now: dt.datetime):
    return or_(
        and_(_T.c.status == OutboxStatus.PENDING.value, _T.c.next_attempt_at <= now),
        and_(_T.c.status == OutboxStatus.SENDING.value, _T.c.lease_until <= now),
    )


def claim(session: Session, now: dt.datetime, config: EmailConfig) -> list[Envelope]:
    """Claim up to a batch of due messages with a lease, and commit the claim.

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent workers take different rows.
    SQLite (which has no SKIP LOCKED): one UPDATE that re-checks the due condition under the write
    lock, so a row another worker claimed first is not claimed again.
    """
    claimed = {
        "status": OutboxStatus.SENDING.value,
        "lease_until": now + dt.timedelta(seconds=config.lease_seconds),
        "attempts": _T.c.attempts + 1,
    }
    due = _due(now)
    order = (_T.c.next_attempt_at, _T.c.id)
    if session.get_bind(mapper=OutboxMessage.__mapper__).dialect.name == "postgresql":
        ids = session.scalars(
            select(_T.c.id)
            .where(due)
            .order_by(*order)
            .limit(config.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        rows = (
            session.execute(update(_T).where(_T.c.id.in_(ids)).values(**claimed).returning(*_COLUMNS)).all()
            if ids
            else []
        )
    else:
        batch = select(_T.c.id).where(due).order_by(*order).limit(config.batch_size).scalar_subquery()
        rows = session.execute(
            update(_T).where(_T.c.id.in_(batch), due).values(**claimed).returning(*_COLUMNS)
        ).all()
    session.commit()
    return sorted((_envelope(row) for row in rows), key=lambda e: e.id)


def _envelope(row) -> Envelope:
    return Envelope(
        id=row.id,
        candidate_id=row.candidate_id,
        kind=str(row.kind.value if hasattr(row.kind, "value") else row.kind),
        to_name=row.to_name,
        to_address=row.to_address,
        reply_to_name=row.reply_to_name,
        reply_to_address=row.reply_to_address,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        message_id=row.message_id,
        attempts=row.attempts,
        lease_until=row.lease_until,
        queued_at=row.queued_at,
        promised_date=row.promised_date,
    )


def _record_sent(
    session: Session, sent: Sequence[tuple[Envelope, dt.datetime]], org: OrgSettings
) -> DeliveryReport:
    """Mark sent messages sent, each at its own send time, and put EMAIL_SENT on their timelines.

    A message another worker already recorded (it took over after the lease ran out) gets no second
    event. One transaction for several messages: a crash before it commits resends them all, with
    their Message-IDs, which is the at-least-once promise.
    """
    if not sent:
        return DeliveryReport()
    sent_at = {envelope.id: literal(at, UTCDateTime()) for envelope, at in sent}
    recorded = set(
        session.scalars(
            update(_T)
            .where(_T.c.id.in_(list(sent_at)), _T.c.status == OutboxStatus.SENDING.value)
            .values(status=OutboxStatus.SENT.value, lease_until=None, sent_at=case(sent_at, value=_T.c.id))
            .returning(_T.c.id)
        )
    )
    candidate_ids = {e.candidate_id for e, _ in sent if e.id in recorded and e.candidate_id is not None}
    candidates = {c.id: c for c in session.scalars(select(Candidate).where(Candidate.id.in_(candidate_ids)))}
    for envelope, at in sent:
        if envelope.id not in recorded or envelope.candidate_id is None:
            continue
        candidate = candidates[envelope.candidate_id]
        wait = timeline.open_wait_of(session, candidate) if envelope.promised_date else None
        event = timeline.record(
            session,
            candidate,
            EventKind.EMAIL_SENT,
            at,
            data={"email_kind": envelope.kind, "message_id": envelope.message_id, "outbox_id": envelope.id},
        )
        _keep_promise(session, candidate, envelope, wait, event, at, org)
    session.commit()
    return DeliveryReport(sent=len(sent), message_ids=[e.message_id for e, _ in sent])


def _keep_promise(session, candidate, envelope, closed_wait, event, at, org) -> None:
    """An email that promised a date answers the candidate for now, but the decision is still owed:
    a new wait opens at the send time, due by the promised date at the latest."""
    if envelope.promised_date is None or candidate.status not in (Status.ACTIVE, Status.OFFERED):
        return
    if closed_wait is None or timeline.open_wait_of(session, candidate) is not None:
        return
    timeline.open_wait(
        session, candidate, closed_wait.reason, at, org, promised_date=envelope.promised_date, event=event
    )


def _mark_failed(
    session: Session,
    envelope: Envelope,
    at: dt.datetime,
    error: str,
    config: EmailConfig,
    rng: random.Random,
    *,
    permanent: bool = False,
) -> DeliveryReport:
    error = error[:MAX_ERROR]
    final = permanent or envelope.attempts >= config.max_attempts
    if final:
        values = {"status": OutboxStatus.FAILED.value, "failed_at": at}
    else:
        values = {
            "status": OutboxStatus.PENDING.value,
            "next_attempt_at": at + backoff(config, envelope.attempts, rng),
        }
    result = session.execute(
        update(_T)
        .where(_T.c.id == envelope.id, _T.c.status == OutboxStatus.SENDING.value)
        .values(last_error=error, lease_until=None, **values)
    )
    if final and result.rowcount == 1 and envelope.candidate_id is not None:
        timeline.record(
            session,
            session.get(Candidate, envelope.candidate_id),
            EventKind.EMAIL_FAILED,
            at,
            body=error,
            data={"email_kind": envelope.kind, "outbox_id": envelope.id, "attempts": envelope.attempts},
        )
    session.commit()
    if final:
        log.warning(
            "outbox: message %s failed for good after %s attempt(s): %s",
            envelope.id,
            envelope.attempts,
            error,
        )
        return DeliveryReport(failed=1)
    log.info("outbox: message %s attempt %s failed, will retry: %s", envelope.id, envelope.attempts, error)
    return DeliveryReport(retried=1)


def _release(session: Session, envelopes: Sequence[Envelope]) -> DeliveryReport:
    """Hand claimed, unsent messages back at once rather than when their lease expires."""
    result = session.execute(
        update(_T)
        .where(_T.c.id.in_([e.id for e in envelopes]), _T.c.status == OutboxStatus.SENDING.value)
        .values(status=OutboxStatus.PENDING.value, lease_until=None, attempts=_T.c.attempts - 1)
    )
    session.commit()
    return DeliveryReport(released=result.rowcount)


def backoff(config: EmailConfig, attempts: int, rng: random.Random) -> dt.timedelta:
    """base * 2**attempts, scaled by a random factor between 0.5 and 1 so retries spread out."""
    delay = config.backoff_seconds * 2**attempts
    return dt.timedelta(seconds=delay * (0.5 + rng.random() / 2))


# --- delivering ---------------------------------------------------------------------------------


def deliver_batch(
    session: Session,
    batch: Sequence[Envelope],
    config: EmailConfig,
    backend,
    *,
    clock: Clock = utcnow,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
    org: OrgSettings | None = None,
) -> DeliveryReport:
    """Send claimed messages on one connection; failures are recorded at once, successes in groups."""
    rng = rng or random.Random()  # noqa: S311  (spreads retries; not a secret)
    org = org or settings_service.load(session)
    session.commit()  # no transaction stays open while the server is talked to
    margin = dt.timedelta(seconds=min(2 * config.mail_timeout, config.lease_seconds / 2))
    sender = config.organisation_email
    report = DeliveryReport()
    sent: list[tuple[Envelope, dt.datetime]] = []  # accepted by the server, not yet recorded

    def record_sent() -> DeliveryReport:
        done = _record_sent(session, sent, org)
        sent.clear()
        return done

    transport = backend.open()
    try:
        for index, envelope in enumerate(batch):
            if index and ((stop is not None and stop.is_set()) or clock() >= envelope.lease_until - margin):
                report += record_sent()
                report += _release(session, batch[index:])
                break
            if envelope.attempts > config.max_attempts:
                report += _mark_failed(
                    session,
                    envelope,
                    clock(),
                    "gave up: the last attempt was interrupted (the message may have been delivered)",
                    config,
                    rng,
                    permanent=True,
                )
                continue
            try:
                message = build_message(envelope, config, clock())
            except HeaderError as exc:
                report += _mark_failed(session, envelope, clock(), str(exc), config, rng, permanent=True)
                continue
            try:
                transport.send(message, envelope, sender)
            except ConnectError as exc:
                for rest in batch[index:]:
                    report += _mark_failed(session, rest, clock(), str(exc), config, rng)
                break
            except DeliveryError as exc:
                report += _mark_failed(
                    session, envelope, clock(), str(exc), config, rng, permanent=exc.permanent
                )
                continue
            sent.append((envelope, clock()))
            _dispatched(message)
            if len(sent) >= RECORD_EVERY:
                report += record_sent()
        report += record_sent()
    except Exception:
        report += record_sent()  # what the server accepted is recorded whatever failed after it
        raise
    finally:
        transport.close()
    return report


def _dispatched(message: Message) -> None:
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
        batch = claim(session, clock(), config)
        if not batch:
            break
        report += deliver_batch(session, batch, config, backend, clock=clock, stop=stop, rng=rng)
    return report


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
