"""Delivery against real SMTP servers on loopback: accepted, refused, down, silent, crashing."""

import datetime as dt
import email
import re
import time
from email import policy

import pytest
import sqlalchemy as sa
from flask import current_app

from feedback_sla.candidates.models import Event, EventKind, Status
from feedback_sla.database import db
from feedback_sla.emails import checks, to_users
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.emails.transport import SmtpBackend
from feedback_sla.waits import answers, emailing
from feedback_sla.waits import service as waits
from feedback_sla.waits.models import Wait
from feedback_sla.worker import deliver_due, run_worker

from .emails_support import (
    ORG,
    T0,
    Recorder,
    SevenBitRecorder,
    Silent,
    SmtpSink,
    free_port,
    make_candidate,
    unfinished_by_candidate,
)

HOSTILE = '"><img src=x onerror=alert(1)>'
T1 = T0 + dt.timedelta(minutes=5)


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(app_config, port):
    app_config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        # Room for a loaded machine: a server in a thread of a busy test process may take a second
        # to answer. The test of a server that never answers sets its own short timeout.
        MAIL_TIMEOUT=10,
        OUTBOX_BACKOFF_SECONDS=10,
        OUTBOX_MAX_ATTEMPTS=3,
        OUTBOX_LEASE_SECONDS=60,
    )
    return app_config


def queue(session, candidate, kind="rejection", at=T0, **kwargs):
    request = EmailRequest(
        candidate, kind, checks.new_idempotency_key(), at, candidate.position.manager, **kwargs
    )
    message = answers.queue_email(session, request, EmailConfig.from_app(current_app), ORG)
    session.commit()
    return message


def deliver(app, at):
    return run_worker(app, once=True, clock=lambda: at)


def reload(session, message) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, message.id)


def events(session, candidate, kind):
    return list(
        session.scalars(
            sa.select(Event).where(Event.candidate_id == candidate.id, Event.kind == kind).order_by(Event.id)
        )
    )


def test_a_sent_email_comes_from_the_organisation_replies_to_the_manager_and_escapes_a_hostile_name(
    app, session, port
):
    candidate = make_candidate(session, name=HOSTILE)
    manager = candidate.position.manager
    message = queue(session, candidate, feedback="Your <script> tests were thorough.")
    with SmtpSink(port=port) as sink:
        report = deliver(app, T1)

    assert report.sent == 1
    [received] = sink.messages
    assert received["From"] == "Example Company <jobs@example.com>"
    assert received["Reply-To"] == f"Maria Lopez <{manager.email}>"
    assert received["Message-ID"] == message.message_id
    # The name travels as an RFC 2047 encoded word: its quotes and brackets cannot end the header.
    [to] = received["To"].addresses
    assert (to.display_name, to.addr_spec) == (HOSTILE, candidate.email)
    assert sink.envelopes == [("jobs@example.com", [candidate.email])]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert f"Dear {HOSTILE.split()[0]}," in text and "Your <script> tests were thorough." in text
    assert "<img" not in html and "<script>" not in html
    assert '"&gt;&lt;img' in html and "Your &lt;script&gt; tests were thorough." in html


@pytest.mark.parametrize(
    "name", ["O'Brien, Sean-Patrick Alexander Maximilian", "Chloé Nakamura-Silva de la Fuente y Montoya"]
)
def test_a_long_name_with_a_comma_or_an_accent_stays_one_recipient(app, session, port, name):
    address = "a.rather.long.address.for.this.candidate@example-company.com"
    candidate = make_candidate(session, name=name, email_address=address)
    queue(session, candidate)
    with SmtpSink(port=port) as sink:
        deliver(app, T1)
    [received] = sink.messages
    assert [(a.display_name, a.addr_spec) for a in received["To"].addresses] == [(name, address)]


def test_the_wait_closes_at_the_send_time_not_when_queued(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate)
    assert waits.open_wait_of(session, candidate) is not None
    with SmtpSink(port=port):
        deliver(app, T1)

    sent = reload(session, message)
    assert (sent.status, sent.sent_at, sent.attempts, sent.lease_until) == (OutboxStatus.SENT, T1, 1, None)
    [event] = events(session, candidate, EventKind.EMAIL_SENT)
    assert event.occurred_at == T1
    assert event.data == {
        "email_kind": "rejection",
        "message_id": message.message_id,
        "outbox_id": message.id,
    }
    wait = session.scalar(sa.select(Wait).where(Wait.candidate_id == candidate.id))
    assert (wait.closed_at, wait.closed_by_event_id) == (T1, event.id)


def test_a_batch_goes_out_on_one_smtp_connection(app, session, port):
    for _ in range(5):
        queue(session, make_candidate(session))
    with SmtpSink(port=port) as sink:
        report = deliver(app, T1)
    assert report.sent == 5 and len(sink.messages) == 5
    assert len(sink.connections) == 1


def test_a_server_that_closes_the_connection_after_each_message_still_gets_the_whole_batch(
    app, session, port
):
    messages = [queue(session, make_candidate(session)) for _ in range(3)]
    with SmtpSink(port=port, close_after_message=True) as sink:
        report = deliver(app, T1)
    assert report.sent == 3 and len(sink.connections) == 3
    assert [reload(session, m).attempts for m in messages] == [1, 1, 1]


def test_server_down_the_message_waits_with_backoff_and_goes_out_when_the_server_is_back(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate)

    report = deliver(app, T1)  # nothing listens on the port
    assert (report.sent, report.retried) == (0, 1)
    row = reload(session, message)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error.startswith(f"cannot reach mail server 127.0.0.1:{port}")
    # base 10 s * 2**1, scaled by a random factor in [0.5, 1]
    assert T1 + dt.timedelta(seconds=10) <= row.next_attempt_at <= T1 + dt.timedelta(seconds=20)
    assert waits.open_wait_of(session, candidate) is not None

    with SmtpSink(port=port) as sink:
        assert not deliver(app, row.next_attempt_at - dt.timedelta(seconds=1))  # not due yet
        report = deliver(app, row.next_attempt_at)
    assert report.sent == 1 and sink.message_ids() == [message.message_id]
    row = reload(session, message)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert waits.open_wait_of(session, candidate) is None


def test_a_451_answer_is_retried_later(app, session, port):
    message = queue(session, make_candidate(session))
    with SmtpSink(Recorder(answers=("451 4.3.0 Try again later",)), port=port) as sink:
        report = deliver(app, T1)
        assert report.retried == 1 and sink.messages == []
        row = reload(session, message)
        assert row.status == OutboxStatus.PENDING and row.last_error == "451 4.3.0 Try again later"
        report = deliver(app, row.next_attempt_at)
    assert report.sent == 1 and sink.message_ids() == [message.message_id]


def test_a_permanent_refusal_fails_at_once_and_the_wait_stays_open(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate)
    with SmtpSink(Recorder(answers=("550 5.1.1 No such mailbox",)), port=port):
        report = deliver(app, T1)
    assert report.failed == 1
    row = reload(session, message)
    assert (row.status, row.failed_at, row.last_error) == (
        OutboxStatus.FAILED,
        T1,
        "550 5.1.1 No such mailbox",
    )
    assert [e.body for e in events(session, candidate, EventKind.EMAIL_FAILED)] == [
        "550 5.1.1 No such mailbox"
    ]
    assert waits.open_wait_of(session, candidate) is not None


def test_a_server_that_never_answers_ends_the_attempt_within_the_mail_timeout(app, session, port):
    app.config["MAIL_TIMEOUT"] = 1
    message = queue(session, make_candidate(session))
    with Silent(port):
        started = time.monotonic()
        report = deliver(app, T1)
        elapsed = time.monotonic() - started
    assert report.retried == 1
    assert elapsed < 2.5  # MAIL_TIMEOUT is 1 s
    assert "timed out" in reload(session, message).last_error


class CrashAfterData(BaseException):
    """The worker process dies right after the server accepted the message."""


class CrashingBackend(SmtpBackend):
    def open(self):
        transport = super().open()
        send = transport.send

        def send_then_crash(*args):
            send(*args)
            raise CrashAfterData

        transport.send = send_then_crash
        return transport


def test_a_crash_after_the_server_accepted_resends_with_the_same_message_id(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate)
    config = EmailConfig.from_app(app)
    with SmtpSink(port=port) as sink:
        with pytest.raises(CrashAfterData):
            deliver_due(db.session, config, CrashingBackend(app.extensions["mail"], 1), clock=lambda: T1)
        db.session.rollback()
        row = reload(session, message)
        assert row.status == OutboxStatus.SENDING and row.lease_until == T1 + dt.timedelta(seconds=60)
        assert not deliver(app, T1 + dt.timedelta(seconds=59))  # the lease still holds
        report = deliver(app, T1 + dt.timedelta(seconds=60))
    assert report.sent == 1
    assert sink.message_ids() == [message.message_id, message.message_id]
    row = reload(session, message)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert len(events(session, candidate, EventKind.EMAIL_SENT)) == 1


def test_an_error_after_the_server_accepted_means_sent_not_failed(app, session, port):
    message = queue(session, make_candidate(session))
    with SmtpSink(port=port, drop_on_quit=True) as sink:
        report = deliver(app, T1)
    assert report.sent == 1 and sink.message_ids() == [message.message_id]
    assert reload(session, message).status == OutboxStatus.SENT


def test_after_the_last_attempt_the_email_is_failed_shown_and_can_be_retried(app, session, port):
    candidate = make_candidate(session)
    message = queue(session, candidate)
    at = T1
    for attempt in (1, 2, 3):
        report = deliver(app, at)
        row = reload(session, message)
        assert row.attempts == attempt
        at = row.next_attempt_at
    assert report.failed == 1
    assert (row.status, row.failed_at) == (OutboxStatus.FAILED, row.failed_at)
    assert row.last_error.startswith("cannot reach mail server")
    [failed] = events(session, candidate, EventKind.EMAIL_FAILED)
    assert failed.body == row.last_error and failed.data["attempts"] == 3
    assert waits.open_wait_of(session, candidate) is not None
    assert unfinished_by_candidate(session, [candidate.id]) == {candidate.id: [row]}
    assert session.get(type(candidate), candidate.id).status == Status.REJECTED

    emailing.retry(session, row, at + dt.timedelta(hours=1))
    session.commit()
    with SmtpSink(port=port) as sink:
        report = deliver(app, at + dt.timedelta(hours=1))
    assert report.sent == 1 and sink.message_ids() == [message.message_id]
    assert waits.open_wait_of(session, candidate) is None


def test_a_line_break_smuggled_into_a_stored_header_is_refused_before_the_message_is_built(
    app, session, port
):
    message = queue(session, make_candidate(session))
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(to_name="X\r\nBcc: all@example.com")
    )
    session.commit()
    with SmtpSink(port=port) as sink:
        report = deliver(app, T1)
    assert report.failed == 1 and sink.messages == []
    assert "the recipient's name contains a line break" in reload(session, message).last_error


def test_undo_inside_the_window_means_the_server_never_sees_the_message(app, session, port):
    message = queue(session, make_candidate(session))
    answers.undo_email(session, message, T0 + dt.timedelta(seconds=30))
    session.commit()
    with SmtpSink(port=port) as sink:
        report = deliver(app, T0 + dt.timedelta(days=1))
    assert not report and sink.messages == []


def test_an_update_answers_the_candidate_and_keeps_the_promised_decision_owed(app, session, port):
    candidate = make_candidate(session)
    promised = dt.date(2026, 11, 20)
    queue(session, candidate, "update", promised_date=promised)
    with SmtpSink(port=port):
        deliver(app, T1)
    waits = list(session.scalars(sa.select(Wait).where(Wait.candidate_id == candidate.id).order_by(Wait.id)))
    assert [w.closed_at for w in waits] == [T1, None]
    assert waits[1].opened_at == T1 and waits[1].promised_date == promised
    assert waits[1].due_at == dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)


def test_the_file_backend_writes_each_message_as_an_eml_file(app, session, tmp_path):
    app.config.update(MAIL_BACKEND="file", OUTBOX_MAIL_DIR=str(tmp_path / "outbox-mail"))
    message = queue(session, make_candidate(session))
    report = deliver(app, T1)
    assert report.sent == 1
    [path] = (tmp_path / "outbox-mail").iterdir()
    assert path.name.endswith(f"-{message.id:06d}-rejection.eml")
    written = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert written["Message-ID"] == message.message_id
    assert reload(session, message).status == OutboxStatus.SENT


class StopAfterFirst(SmtpBackend):
    """Asks the worker to stop (as SIGTERM does) once the first message is out."""

    def __init__(self, state, timeout, stop):
        super().__init__(state, timeout)
        self.stop = stop

    def open(self):
        transport = super().open()
        send = transport.send

        def send_then_stop(*args):
            send(*args)
            self.stop.set()

        transport.send = send_then_stop
        return transport


def test_a_stopping_worker_records_what_it_sent_and_hands_the_rest_back_at_once(app, session, port):
    import threading

    messages = [queue(session, make_candidate(session)) for _ in range(3)]
    stop = threading.Event()
    backend = StopAfterFirst(app.extensions["mail"], 1, stop)
    with SmtpSink(port=port) as sink:
        report = deliver_due(db.session, EmailConfig.from_app(app), backend, clock=lambda: T1, stop=stop)
    assert (report.sent, report.released) == (1, 2) and len(sink.messages) == 1
    rows = [reload(session, m) for m in messages]
    assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.PENDING]
    assert [(r.attempts, r.lease_until) for r in rows[1:]] == [(0, None), (0, None)]


def test_a_worker_near_the_end_of_its_lease_hands_the_rest_of_the_batch_back(app, session, port):
    messages = [queue(session, make_candidate(session)) for _ in range(2)]
    with SmtpSink(port=port) as sink:
        # The lease is 60 s and the margin 2 s: once the first message is out, 59 s have passed.
        report = deliver_due(
            db.session,
            EmailConfig.from_app(app),
            SmtpBackend(app.extensions["mail"], 1),
            clock=lambda: T1 + dt.timedelta(seconds=59 if sink.messages else 0),
        )
    # The second message went back and was claimed again, with a fresh lease, in the next round.
    assert (report.sent, report.released) == (2, 1) and len(sink.messages) == 2
    second = reload(session, messages[1])
    assert (second.status, second.attempts) == (OutboxStatus.SENT, 1)


def test_a_message_interrupted_on_its_last_attempt_is_failed_not_sent_again(app, session, port):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    candidate = make_candidate(session)
    message = queue(session, candidate)
    config = EmailConfig.from_app(app)
    with SmtpSink(port=port) as sink:
        with pytest.raises(CrashAfterData):
            deliver_due(db.session, config, CrashingBackend(app.extensions["mail"], 1), clock=lambda: T1)
        db.session.rollback()
        report = deliver(app, T1 + dt.timedelta(minutes=5))
    assert report.failed == 1 and len(sink.messages) == 1
    row = reload(session, message)
    assert row.status == OutboxStatus.FAILED and "may have been delivered" in row.last_error
    assert waits.open_wait_of(session, candidate) is not None


def test_a_digest_to_a_user_is_sent_at_once_once_and_touches_no_timeline(app, session, port):
    from feedback_sla.emails.composing import RenderedEmail
    from feedback_sla.emails.models import EmailKind

    from .factories import UserFactory

    user = UserFactory(name="Maria Lopez")
    rendered = RenderedEmail("2 candidates are waiting", "Text", "<p>HTML</p>")
    config = EmailConfig.from_app(app)
    first = to_users.queue_to_user(
        session, user, EmailKind.DIGEST, rendered, T0, config, idempotency_key="d1"
    )
    again = to_users.queue_to_user(
        session, user, EmailKind.DIGEST, rendered, T0, config, idempotency_key="d1"
    )
    session.commit()
    assert again.id == first.id and first.send_after == T0 and first.candidate_id is None
    with SmtpSink(port=port) as sink:
        report = deliver(app, T0)
    assert report.sent == 1
    [received] = sink.messages
    assert received["To"].addresses[0].addr_spec == user.email and received["Reply-To"] is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


# --- what any server accepts ------------------------------------------------------------------------

#: What a manager types into the feedback box: one paragraph, no line break, accents, and a word
#: (a link) longer than a mail line.
LONG_FEEDBACK = (
    "Thank you for the time you gave us; your answers on caching were thoughtful, and Zoë enjoyed the "
    "pairing session. " * 41 + "See https://example.com/" + "a" * 200 + " for the notes."
)


@pytest.mark.parametrize("handler", [Recorder, SevenBitRecorder], ids=["line-limit", "no-8bitmime"])
def test_a_long_paragraph_of_feedback_reaches_a_strict_server_intact(app, session, port, handler):
    assert 4_900 < len(LONG_FEEDBACK) <= 5_000  # the longest feedback a manager may write
    candidate = make_candidate(session, name="Zoë O'Brien, Jr.")
    message = queue(session, candidate, feedback=LONG_FEEDBACK, at=T0)
    with SmtpSink(handler(), port=port) as server:
        deliver(app, T1)
    assert reload(session, message).status == OutboxStatus.SENT, reload(session, message).last_error
    [raw] = server.raw
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78  # well inside RFC 5321's 998
    assert all(byte < 128 for byte in raw)  # 7-bit: a server without 8BITMIME takes it as is
    headers = lines[: lines.index(b"")]
    assert not [h for h in headers if re.fullmatch(rb"[A-Za-z-]+:\s*", h)]  # no header folded at once
    [received] = server.messages
    assert received.get_content_type() == "multipart/alternative"
    text, html = received.get_body(("plain",)), received.get_body(("html",))
    assert LONG_FEEDBACK in text.get_content()
    assert "a" * 200 in html.get_content()
    assert received["To"].addresses[0].display_name == "Zoë O'Brien, Jr."  # one address, not two
    assert len(received["To"].addresses) == 1


def test_a_server_refusing_with_5xx_fails_at_once_with_its_words_and_4xx_is_retried(app, session, port):
    candidate = make_candidate(session)
    refused = queue(session, candidate, at=T0)
    answers_ = ("451 4.3.0 Try again later", "554 5.7.1 Message rejected as spam")
    with SmtpSink(Recorder(answers=answers_), port=port):
        deliver(app, T1)
        first = reload(session, refused)
        assert first.status == OutboxStatus.PENDING and "451 4.3.0 Try again later" in first.last_error
        deliver(app, T1 + dt.timedelta(hours=1))
    last = reload(session, refused)
    assert last.status == OutboxStatus.FAILED and last.last_error.endswith(
        "554 5.7.1 Message rejected as spam"
    )
    assert last.attempts == 2


def test_an_email_in_the_candidates_language_says_so_in_its_content_language(app, session, port):
    candidate = make_candidate(session, name="Jana Müller")
    candidate.language = "de"
    session.commit()
    queue(session, candidate)
    with SmtpSink(port=port) as sink:
        deliver(app, T1)
    [received] = sink.messages
    assert received["Content-Language"] == "de"  # RFC 3282
    assert "Jana" in received.get_body(("plain",)).get_content()
    assert received.get_content_type() == "multipart/alternative"
