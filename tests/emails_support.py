"""Helpers for the email tests: real SMTP servers on loopback and a candidate with an open wait."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import threading
import time
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate
from feedback_sla.emails import queries
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory

# A Wednesday, well clear of weekends and holidays.
T0 = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
ORG = OrgSettings()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_candidate(
    session, *, name: str = "Jane Doe", email_address: str | None = None, applied_at: dt.datetime = T0
) -> Candidate:
    manager = UserFactory(name="Maria Lopez", email=f"maria{free_port()}@example.com")
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="UTC")
    address = email_address or f"candidate{free_port()}@example.com"
    candidate = waits.add_candidate(session, position, name, address, applied_at - dt.timedelta(days=1), ORG)
    session.commit()
    return candidate


def email_config(app) -> EmailConfig:
    return EmailConfig.from_app(app)


class Recorder:
    """Accepts every message and keeps it; ``answers`` are replies to DATA used first, in order."""

    def __init__(self, answers: tuple[str, ...] = ()) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.raw: list[bytes] = []
        self.connections: set[tuple] = set()
        self._answers = list(answers)
        self._lock = threading.Lock()
        self.delay = 0.0
        self.rendezvous = 0

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.connections.add(session.peer)
        # Hold every message until this many clients are connected: senders meet here.
        deadline = time.monotonic() + 30
        while len(self.connections) < self.rendezvous and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            if self._answers:
                return self._answers.pop(0)
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.raw.append(envelope.original_content)
        return "250 OK"

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


class SevenBitRecorder(Recorder):
    """A server that does not offer 8BITMIME (nor SMTPUTF8): it takes 7-bit messages only."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if "8BITMIME" not in r and "SMTPUTF8" not in r]


class _DropOnQuit(SMTP):
    """Closes the connection on QUIT without answering: the client's quit() raises."""

    async def smtp_QUIT(self, arg):
        self.transport.close()


class _CloseAfterMessage(SMTP):
    """Answers a message, then closes the connection, as servers with a per-connection limit do."""

    async def smtp_DATA(self, arg):
        await super().smtp_DATA(arg)
        self.transport.close()


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1:``port`` for the duration of a ``with`` block; with
    ``smtputf8`` it offers SMTPUTF8 (RFC 6531), as Postfix does with ``smtputf8_enable``."""

    def __init__(
        self,
        handler: Recorder | None = None,
        *,
        port: int | None = None,
        drop_on_quit=False,
        close_after_message=False,
        smtputf8=False,
    ):
        self.handler = handler or Recorder()
        self._smtputf8 = smtputf8
        self.port = port or free_port()
        self._drop_on_quit = drop_on_quit
        self._close_after_message = close_after_message
        self._controller: Controller | None = None

    def __enter__(self) -> Recorder:
        server_class = (
            _DropOnQuit if self._drop_on_quit else _CloseAfterMessage if self._close_after_message else SMTP
        )

        class _Controller(Controller):
            def factory(self):
                return server_class(self.handler, **self.SMTP_kwargs)

        self._controller = _Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self._smtputf8
        )
        self._controller.start()
        return self.handler

    def __exit__(self, *exc) -> None:
        self._controller.stop()


class Silent:
    """A server that accepts connections and never says a word."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __enter__(self) -> Silent:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)  # the kernel completes the handshake; nobody ever reads or writes
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()


def unfinished_by_candidate(
    session: Session, candidates: Sequence[int] | Select
) -> dict[int, list[OutboxMessage]]:
    """Pending, sending and failed emails per candidate, in one query.

    ``candidates`` is a list of ids, or a query selecting them (a page of hundreds of rows passes
    the query rather than hundreds of ids).
    """
    ids = candidates if isinstance(candidates, Select) else list(candidates)
    result: dict[int, list[OutboxMessage]] = {}
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.candidate_id.in_(ids), OutboxMessage.status.in_(queries.UNFINISHED))
        .order_by(OutboxMessage.queued_at, OutboxMessage.id)
    )
    for message in rows:
        result.setdefault(message.candidate_id, []).append(message)
    return result
