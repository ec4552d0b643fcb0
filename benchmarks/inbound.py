"""Receiving mail whatever its shape: hostile messages against a candidate's normal reply.

On a database of its own (SQLite, and PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL or
--database-url names a server), sends one candidate an update (the worker, into .eml files), then
receives through the real receive path (``inbound.service.receive`` and the commit, what
``feedback-sla inbound receive`` does once it has read the message) each of:

  * reply:        the candidate's webmail reply to the update (tests/mail/webmail_reply.eml),
                  counted as a follow-up: the floor, measured in the same run;
  * one line:     a 9 MB message whose text is one line;
  * 100,000 parts: a 3.6 MB multipart of 100,000 small parts;
  * nested:       parts nested 1,000 deep;
  * big header:   a megabyte of one To header folded over 200,000 lines, and of a Content-Type's
                  parameters.

Each is received with a Message-ID of its own every time (the same message twice is recognised
and costs nothing). It prints each one's median time (interleaved runs, so all meet the same load)
and its ratio to the reply's, and the peak memory allocated while receiving it once (tracemalloc;
the copy of the message with its own Message-ID included). Fails (exit status 1) when a hostile
message takes more than ``--ratio`` (20) times the reply's time, or more than ``--peak-mb`` (150)
MB.

    python benchmarks/inbound.py [--times 15] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import (
    add_database_options,
    app_config,
    database_kinds,
    each_database,
    fresh_database,
    interleaved_medians,
    migrate,
)
from feedback_sla import create_app
from feedback_sla.accounts.models import Role
from feedback_sla.accounts.service import create_user
from feedback_sla.database import db
from feedback_sla.emails.checks import EmailRequest, new_idempotency_key
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.emails.transport import backend_for
from feedback_sla.inbound import service
from feedback_sla.positions.service import create_position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers
from feedback_sla.waits import service as waits
from feedback_sla.worker import deliver_due

#: Wednesday 25 November 2026, 09:00 UTC.
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
CANDIDATE = "zoe.obrien@example.net"
ADDRESSES = {
    "ORGANISATION_NAME": "Acme",
    "ORGANISATION_EMAIL": "jobs@acme.example",
    "BOUNCE_ADDRESS": "bounces@acme.example",
    "REPLY_ADDRESS": "replies@acme.example",
}
REPLY = Path(__file__).resolve().parent.parent / "tests" / "mail" / "webmail_reply.eml"
#: Stands in for the Message-ID's unique part; replaced at every receipt.
UNIQUE = b"UNIQUE-ID"


def reply_to(message: OutboxMessage) -> bytes:
    text = REPLY.read_text(encoding="utf-8").format(token=message.reply_token, message_id=message.message_id)
    raw = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return raw.replace(b"<CAF=reply-1-zoe@mail.example.net>", b"<" + UNIQUE + b"@mail.example.net>")


def _head(token: str) -> bytes:
    return (
        b"From: Zoe O'Brien <"
        + CANDIDATE.encode()
        + b">\r\nTo: replies+"
        + token.encode()
        + b"@acme.example\r\n"
        b"Subject: Re: Your application\r\nMessage-ID: <" + UNIQUE + b"@example.net>\r\nMIME-Version: 1.0\r\n"
    )


def one_line(token: str) -> bytes:
    return _head(token) + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + b"word " * 1_800_000


def many_parts(token: str) -> bytes:
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 100_000
    return _head(token) + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def nested(token: str, depth: int = 1_000) -> bytes:
    top = _head(token) + b'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n'
    opening = b"".join(
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i - 1, i)
        for i in range(1, depth)
    )
    inner = b"--n%d\r\nContent-Type: text/plain\r\n\r\nhello\r\n" % (depth - 1)
    return top + opening + inner + b"".join(b"--n%d--\r\n" % i for i in reversed(range(depth)))


def big_header(token: str) -> bytes:
    to = b"To: " + b",\r\n a@b.example" * 200_000 + b"\r\n"
    content_type = b"Content-Type: text/plain;" + b"\r\n a=b;" * 100_000 + b"\r\n"
    head = _head(token).replace(b"To: ", b"Cc: ")
    return head + to + content_type + b"\r\nhello\r\n"


HOSTILE: dict[str, Callable[[str], bytes]] = {
    "one line": one_line,
    "100,000 parts": many_parts,
    "nested": nested,
    "big header": big_header,
}


def sent_update(app) -> OutboxMessage:
    """An update to the candidate, queued and delivered by the worker."""
    with app.app_context():
        session = db.session
        settings = settings_service.load(session)
        config = EmailConfig.from_app(app)
        manager = create_user(
            session, "maria@acme.example", "Maria Lopez", Role.MANAGER, "UTC", "a long passphrase"
        )
        position = create_position(session, "Backend Engineer", manager, "UTC")
        candidate = waits.add_candidate(
            session, position, "Zoë O'Brien", CANDIDATE, NOW - dt.timedelta(days=3), settings
        )
        request = EmailRequest(candidate, "update", new_idempotency_key(), NOW, manager, default_promise=True)
        message = answers.queue_email(session, request, config, settings)
        session.commit()
        sent_at = NOW + dt.timedelta(seconds=config.undo_seconds + 1)
        deliver_due(session, config, backend_for(app, config), clock=lambda: sent_at)
        session.expire_all()
        message = session.get(OutboxMessage, message.id)
        session.expunge(message)
        return message


def receiver(app, raw: bytes) -> Callable[[], str]:
    """Receive ``raw`` with a Message-ID of its own each time, and commit; the outcome."""
    numbers = itertools.count()
    at = NOW + dt.timedelta(hours=1)

    def receive() -> str:
        unique = raw.replace(UNIQUE, b"bench-%d" % next(numbers), 1)
        with app.app_context():
            settings = settings_service.load(db.session)
            row = service.receive(db.session, unique, at, settings, EmailConfig.from_app(app))
            outcome = f"{row.kind}: {row.outcome}"
            db.session.commit()
            return outcome

    return receive


def peak_mb(receive: Callable[[], str]) -> tuple[float, str]:
    tracemalloc.start()
    try:
        outcome = receive()
        return tracemalloc.get_traced_memory()[1] / 1e6, outcome
    finally:
        tracemalloc.stop()


def one(kind: str, server: str | None, times: int, ratio: float, limit_mb: float) -> list[str]:
    with fresh_database(kind, "inbound", server) as database, tempfile.TemporaryDirectory() as mail:
        app = create_app({**app_config(database), **ADDRESSES, "OUTBOX_MAIL_DIR": mail})
        migrate(app)
        update = sent_update(app)
        messages = {"reply": reply_to(update)} | {
            name: make(update.reply_token) for name, make in HOSTILE.items()
        }
        runs = {name: receiver(app, raw) for name, raw in messages.items()}
        peaks = {name: peak_mb(run) for name, run in runs.items()}
        medians = interleaved_medians(runs, times, budget_seconds=60)
        with app.app_context():
            db.engine.dispose()
    floor = medians["reply"]
    missed = []
    for name, raw in messages.items():
        times_floor = medians[name] / floor
        peak, outcome = peaks[name]
        print(
            f"  {name:<14} {len(raw) / 1e6:6.2f} MB  {medians[name]:8.1f} ms  {times_floor:5.1f}x the reply  "
            f"peak {peak:6.1f} MB  ({outcome[:70]})",
            flush=True,
        )
        if name == "reply":
            continue
        if times_floor > ratio:
            missed.append(f"{kind}: {name}: {times_floor:.1f}x the reply's time (target {ratio:g}x)")
        if peak > limit_mb:
            missed.append(f"{kind}: {name}: peak {peak:.1f} MB (target {limit_mb:g} MB)")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=15, help="receipts of each message, at most")
    parser.add_argument("--ratio", type=float, default=20.0, help="largest time, in times the reply's")
    parser.add_argument("--peak-mb", type=float, default=150.0, help="largest peak memory while receiving")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    return each_database(kinds, lambda kind: one(kind, server, args.times, args.ratio, args.peak_mb))


if __name__ == "__main__":
    sys.exit(main())
