"""Nudges by email, for a manager who chose email on My settings: the same nudge as in Slack or
Teams, once per wait and state however often cron runs, as an email from the outbox to their
address, with the candidate, the deadline in the manager's zone and the links to answer."""

from __future__ import annotations

import email
from email import policy

import pytest
import sqlalchemy as sa

from feedback_sla.chat.models import Channel, ChatStatus
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.worker import run_worker

from .chat_support import (
    BASE_URL,
    OVERDUE_AT,
    chat_app_config,
    choose,
    deliver,
    messages,
    nudge,
    running_server,
    waiting,
)
from .emails_support import Recorder, SmtpSink, free_port
from .factories import PositionFactory, UserFactory

HOSTILE = 'Zoë "<b>O\'Brien</b>"'


@pytest.fixture
def chat_server():
    with running_server() as server:
        yield server


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_config(app_config, chat_server, port):
    app_config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=10)
    return chat_app_config(app_config, chat_server)


def _nudge_emails(session) -> list[OutboxMessage]:
    session.expire_all()
    query = sa.select(OutboxMessage).where(OutboxMessage.kind == EmailKind.NUDGE)
    return list(session.scalars(query))


def test_an_overdue_wait_emails_its_manager_once_with_the_deadline_and_the_answers(
    app, session, chat_server, port
):
    manager = UserFactory(name="Grace Hopper", email="grace@example.com", time_zone="Europe/Berlin")
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="Europe/Berlin")
    candidate = waiting(session, position, name=HOSTILE)
    choose(session, manager, nudges_by=[Channel.EMAIL], member=None)

    for _ in range(2):  # cron, twice: one nudge
        nudge(session, OVERDUE_AT)
        deliver(session, OVERDUE_AT)
    [message] = messages(session)
    assert (message.channel, message.status) == (Channel.EMAIL, ChatStatus.SENT)
    [queued] = _nudge_emails(session)
    assert (queued.recipient_user_id, queued.to_address, queued.candidate_id) == (
        manager.id,
        manager.email,
        None,
    )

    with SmtpSink(Recorder(), port=port) as sink:
        run_worker(app, once=True, clock=lambda: OVERDUE_AT)
    [received] = sink.messages
    received = email.message_from_bytes(received.as_bytes(), policy=policy.default)
    assert received["To"].addresses[0].addr_spec == "grace@example.com"
    assert received["Subject"] == f"{HOSTILE} is overdue for an answer"
    assert received["Auto-Submitted"] == "auto-generated"
    text = received.get_body(("plain",)).get_content()
    # The deadline in Grace's zone: Monday 9 November at 18:00 in Berlin.
    assert "Position: Backend Engineer" in text and "18:00" in text and "Europe/Berlin" in text
    assert f"{BASE_URL}/candidates/{candidate.id}" in text
    assert f"{BASE_URL}/account/settings" in text
    html = received.get_body(("html",)).get_content()
    assert "<b>O" not in html and "&lt;b&gt;O" in html
    assert 'href="https://feedback.example.com/digest/answer/' in html  # Send update, signed

    # Nothing more: the chat queue and the outbox each hold the one message.
    nudge(session, OVERDUE_AT)
    deliver(session, OVERDUE_AT)
    assert len(messages(session)) == 1 and len(_nudge_emails(session)) == 1


def test_nudges_by_email_only_go_to_those_who_chose_them(session, chat_server):
    chose = UserFactory(email="ana@example.com", time_zone="Europe/Berlin")
    other = UserFactory(email="ben@example.com", time_zone="Europe/Berlin")
    for manager in (chose, other):
        waiting(
            session, PositionFactory(manager=manager, time_zone="Europe/Berlin"), email=f"c-{manager.email}"
        )
    choose(session, chose, nudges_by=[Channel.EMAIL, Channel.SLACK], member="U0ANA")
    choose(session, other, nudges_by=[Channel.SLACK], member="U0BEN")
    nudge(session, OVERDUE_AT)
    deliver(session, OVERDUE_AT)
    sent = sorted((m.user_id, m.channel.value) for m in messages(session))
    assert sent == sorted([(chose.id, "email"), (chose.id, "slack"), (other.id, "slack")])
    assert [m.to_address for m in _nudge_emails(session)] == ["ana@example.com"]
