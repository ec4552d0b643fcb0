"""Outbox throughput: the worker against plain smtplib, into the same local aiosmtpd sink.

    python benchmarks/outbox.py [--count 2000] [--database-url postgresql://...]

Queues COUNT emails (no undo window) for COUNT candidates, a tenth one at a time through the one-click
door and the rest through the batch door (``waits.answers.queue_emails``, 500 a batch), and reports
both rates of queueing (messages queued per second: checks, rendering, outbox row, timeline event);
then measures, in the same run:
  * smtplib: the same messages (same headers, text and HTML) each built with the standard library's
             email package and sent on one SMTP connection: what a plain sender does;
  * wire:    the worker's own message bytes, prepared beforehand, sent by smtplib on one connection:
             the cost of SMTP alone, a floor nobody reaches;
  * worker:  ``run_worker(once=True)``: claim with a lease, build each message with Flask-Mail,
             send on one connection per batch, mark it sent, append EMAIL_SENT (closing the
             candidate's wait), commit.
The sink runs in its own process so it does not share the interpreter lock with any sender.
Target: worker time at most twice the plain smtplib time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _sink(port: int, received, ready) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(received, count: int) -> None:
    deadline = time.monotonic() + 60
    while received.value < count and time.monotonic() < deadline:
        time.sleep(0.001)
    if received.value < count:
        raise SystemExit(f"the sink received {received.value} of {count} messages")


#: Queued through the batch door this many at a time (as autopilot does).
QUEUE_BATCH = 500


def _prepare(app, count: int, now: dt.datetime) -> tuple[int, float, int, float]:
    """COUNT candidates, each with one email queued: the first tenth one at a time through the
    one-click door, the rest through the batch door. How many went each way, and their seconds."""
    from benchmarks.common import migrate
    from feedback_sla.accounts.models import Role
    from feedback_sla.accounts.service import create_user
    from feedback_sla.database import db
    from feedback_sla.emails.checks import EmailRequest
    from feedback_sla.emails.config import EmailConfig
    from feedback_sla.positions.service import create_position
    from feedback_sla.settings import service as settings_service
    from feedback_sla.waits import answers
    from feedback_sla.waits import service as waits

    migrate(app)
    session = db.session
    org = settings_service.load(session)
    config = EmailConfig.from_app(app)
    manager = create_user(
        session, "maria@example.com", "Maria Lopez", Role.MANAGER, "UTC", "benchmark-passphrase"
    )
    position = create_position(session, "Backend Engineer", manager, "UTC")
    requests = []
    for i in range(count):
        candidate = waits.add_candidate(
            session, position, f"Candidate {i}", f"candidate{i}@example.com", now - dt.timedelta(days=2), org
        )
        requests.append(EmailRequest(candidate, "next_step", f"benchmark-{i}", now, manager))
        if i % 500 == 499:
            session.commit()
    session.commit()
    alone, batched = requests[: max(1, count // 10)], requests[max(1, count // 10) :]
    started = time.perf_counter()
    for request in alone:
        answers.queue_email(session, request, config, org)
        session.commit()
    one_by_one = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(batched), QUEUE_BATCH):
        results = answers.queue_emails(session, batched[start : start + QUEUE_BATCH], config, org)
        if any(not getattr(result, "new", False) for result in results):
            raise SystemExit(f"the batch door did not queue every email: {results[0]}")
        session.commit()
    return len(alone), one_by_one, len(batched), time.perf_counter() - started


def _envelopes(app):
    from sqlalchemy import select

    from feedback_sla.database import db
    from feedback_sla.emails.leases import ENVELOPE_COLUMNS, envelope_of

    rows = db.session.execute(select(*ENVELOPE_COLUMNS).order_by(ENVELOPE_COLUMNS[0])).all()
    db.session.rollback()
    return [envelope_of(row) for row in rows]


def _stdlib_bytes(envelope, config) -> bytes:
    """One message built the way a plain smtplib program would, with email.message.EmailMessage."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate

    message = EmailMessage()
    message["Subject"] = envelope.subject
    message["From"] = formataddr((config.organisation_name, config.organisation_email))
    message["To"] = formataddr((envelope.to_name, envelope.to_address))
    message["Reply-To"] = formataddr((envelope.reply_to_name, envelope.reply_to_address))
    message["Date"] = formatdate()
    message["Message-ID"] = envelope.message_id
    message.set_content(envelope.text)
    message.add_alternative(envelope.html, subtype="html")
    return message.as_bytes(policy=policy.SMTP)


def _messages(app, now: dt.datetime) -> list[tuple[str, str, bytes]]:
    """The queued messages as the worker will build them: envelope sender, recipient, bytes."""
    from feedback_sla.emails.config import EmailConfig
    from feedback_sla.emails.transport import build_message

    config = EmailConfig.from_app(app)
    return [
        (config.organisation_email, e.to_address, build_message(e, config, now).as_bytes())
        for e in _envelopes(app)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()

    port = _free_port()
    received = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, received, ready), daemon=True)
    sink.start()
    ready.wait(10)

    with tempfile.TemporaryDirectory() as instance:
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = instance
        from feedback_sla import create_app
        from feedback_sla.worker import run_worker

        config = {
            "COMMAND_LINE": True,
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "OUTBOX_UNDO_SECONDS": 0,
            "OUTBOX_BATCH_SIZE": args.batch_size,
        }
        if args.database_url:
            config["DATABASE_URL"] = args.database_url
        app = create_app(config)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        with app.app_context():
            if args.database_url:
                from sqlalchemy import text

                from feedback_sla.database import db

                with db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            alone, one_by_one, batched, batch_seconds = _prepare(app, args.count, now)
            messages = _messages(app, now)
            envelopes = _envelopes(app)
            from feedback_sla.emails.config import EmailConfig

            email_config = EmailConfig.from_app(app)

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for envelope in envelopes:
                data = _stdlib_bytes(envelope, email_config)
                smtp.sendmail(email_config.organisation_email, [envelope.to_address], data)
        _wait_for(received, args.count)
        plain = time.perf_counter() - started

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for sender, recipient, data in messages:
                smtp.sendmail(sender, [recipient], data)
        _wait_for(received, 2 * args.count)
        wire = time.perf_counter() - started

        started = time.perf_counter()
        report = run_worker(app, once=True)
        _wait_for(received, 3 * args.count)
        worker = time.perf_counter() - started
        if report.sent != args.count:
            raise SystemExit(f"the worker sent {report.sent} of {args.count}: {report.summary()}")

    sink.terminate()
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.count} messages, {database}, batches of {args.batch_size}")
    alone_rate, batch_rate = alone / one_by_one, batched / batch_seconds
    print(f"queueing one at a time (the one-click door), {alone:>5} emails: {alone_rate:8.0f} messages/s")
    print(
        f"queueing through the batch door, {QUEUE_BATCH} a batch, {batched:>5}: {batch_rate:8.0f} messages/s"
    )
    print(f"ratio batch door / one at a time: {batch_rate / alone_rate:.1f}")
    print(f"plain smtplib, stdlib-built messages, one connection: {args.count / plain:8.0f} messages/s")
    print(f"smtplib, prepared bytes only (SMTP alone):            {args.count / wire:8.0f} messages/s")
    print(f"outbox worker:                                        {args.count / worker:8.0f} messages/s")
    print(f"ratio worker time / plain smtplib time: {worker / plain:.2f} (target at most 2)")
    print(f"ratio worker time / SMTP-alone time:    {worker / wire:.2f}")


if __name__ == "__main__":
    main()
