"""The chat queue loses nothing: a 429 waits for its Retry-After, a 5xx is retried with backoff,
an error no retry can mend fails the message for good with the reason on the admins' page."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.accounts.models import Role
from feedback_sla.chat import connection
from feedback_sla.chat.models import ChatSetting, ChatStatus

from .chat_support import (
    OVERDUE_AT,
    chat_app_config,
    choose,
    deliver,
    messages,
    nudge,
    running_server,
    waiting,
)
from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text


@pytest.fixture
def chat_server():
    with running_server() as server:
        yield server


@pytest.fixture
def app_config(app_config, chat_server):
    return chat_app_config(app_config, chat_server)


@pytest.fixture
def queued(session, chat_server):
    """Grace's overdue nudge, queued for Slack."""
    manager = UserFactory(name="Grace Hopper", email="grace@example.com", time_zone="Europe/Berlin")
    waiting(session, PositionFactory(manager=manager, time_zone="Europe/Berlin"))
    choose(session, manager)
    nudge(session, OVERDUE_AT)
    [message] = messages(session)
    return message


def test_a_429_waits_for_its_retry_after_then_the_message_is_delivered(session, chat_server, queued):
    chat_server.script(
        "/api/chat.postMessage", (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"})
    )
    report = deliver(session, OVERDUE_AT)
    assert (report.sent, report.retried) == (0, 1)
    [message] = messages(session)
    assert message.status == ChatStatus.PENDING and message.attempts == 1
    assert message.next_attempt_at == OVERDUE_AT + dt.timedelta(seconds=2)
    assert "ratelimited" in message.last_error
    assert deliver(session, OVERDUE_AT + dt.timedelta(seconds=1)).sent == 0  # not before its time
    assert deliver(session, OVERDUE_AT + dt.timedelta(seconds=2)).sent == 1
    assert len(chat_server.posted()) == 2 and messages(session)[0].status == ChatStatus.SENT
    assert chat_server.problems == []


def test_a_server_error_is_retried_with_backoff(session, chat_server, queued):
    chat_server.script("/api/chat.postMessage", (500, b"Internal Server Error", {}))
    assert deliver(session, OVERDUE_AT).retried == 1
    [message] = messages(session)
    assert message.status == ChatStatus.PENDING
    # 30 s * 2**1, scaled between a half and the whole: between 30 and 60 seconds later.
    assert (
        OVERDUE_AT + dt.timedelta(seconds=30)
        <= message.next_attempt_at
        <= OVERDUE_AT + dt.timedelta(seconds=60)
    )
    assert deliver(session, message.next_attempt_at).sent == 1


def test_invalid_auth_fails_for_good_with_the_reason_on_the_admins_page(client, session, chat_server, queued):
    chat_server.script("/api/chat.postMessage", (200, {"ok": False, "error": "invalid_auth"}, {}))
    assert deliver(session, OVERDUE_AT).failed == 1
    [message] = messages(session)
    assert (message.status, message.last_error) == (ChatStatus.FAILED, "Slack answered invalid_auth")
    assert deliver(session, OVERDUE_AT + dt.timedelta(hours=1)).sent == 0  # never tried again
    admin = UserFactory(role=Role.ADMIN, email="admin@example.com")
    with time_machine.travel(OVERDUE_AT + dt.timedelta(hours=1), tick=False):
        logged_in(client, admin)
        page = text(client.get("/admin/chat"))
        assert f'data-chat-message="{message.id}"' in page and "Slack answered invalid_auth" in page
        retried = client.post(f"/admin/chat/messages/{message.id}/retry", follow_redirects=True)
        assert f"Chat message {message.id} will be sent again" in text(retried)
    assert deliver(session, OVERDUE_AT + dt.timedelta(hours=1)).sent == 1


def test_the_failures_command_lists_the_reason_and_exits_zero(runner, session, chat_server, queued):
    chat_server.script("/api/chat.postMessage", (200, {"ok": False, "error": "channel_not_found"}, {}))
    deliver(session, OVERDUE_AT)
    result = runner.invoke(args=["chat", "failures"])
    assert result.exit_code == 0 and "Slack answered channel_not_found" in result.output
    retried = runner.invoke(args=["chat", "retry", str(queued.id)])
    assert retried.exit_code == 0
    again = runner.invoke(args=["chat", "retry", str(queued.id)])
    assert again.exit_code == 1 and "only a failed chat message can be retried" in again.output


def test_chat_work_once_delivers_and_a_teams_4xx_fails_for_good(runner, session, chat_server):
    manager = UserFactory(email="linus@example.com", time_zone="Europe/Berlin")
    waiting(session, PositionFactory(manager=manager, time_zone="Europe/Berlin"))
    choose(session, manager, nudges_by=[], member=None)
    from .chat_support import Channel

    choose(
        session, manager, nudges_by=[Channel.TEAMS], member=None, teams_url=chat_server.url + "/teams/gone"
    )
    nudge(session, OVERDUE_AT)
    chat_server.script("/teams/gone", (404, b"workflow not found", {}))
    result = runner.invoke(args=["chat", "work", "--once"])
    assert result.exit_code == 0 and "failed 1" in result.output
    [message] = messages(session)
    assert message.last_error == "Teams answered HTTP 404: workflow not found"


def test_secrets_entered_by_an_admin_are_stored_encrypted_and_never_shown(app, client, session, chat_server):
    app.config["SLACK_BOT_TOKEN"] = None  # not configured: entered on the page
    admin = UserFactory(role=Role.ADMIN, email="admin@example.com")
    manager = UserFactory(email="ana@example.com")
    logged_in(client, manager)
    assert client.get("/admin/chat").status_code == 404
    assert client.post("/admin/chat/connection", data={"slack_bot_token": "xoxb-x"}).status_code == 404
    client.post("/logout")
    logged_in(client, admin)
    refused = client.post("/admin/chat/connection", data={"slack_bot_token": "not-a-token"})
    assert refused.status_code == 422 and "starts with xoxb-" in text(refused)
    saved = client.post("/admin/chat/connection", data={"slack_bot_token": "xoxb-secret-value-123"})
    assert saved.status_code == 302
    stored = session.scalar(sa.select(ChatSetting.value).where(ChatSetting.name == "slack_bot_token"))
    assert "xoxb" not in stored
    page = text(client.get("/admin/chat"))
    assert "xoxb-secret-value-123" not in page and "entered on the chat page" in page
    assert connection.load(session, app.config).slack_bot_token == "xoxb-secret-value-123"


def test_the_email_worker_command_delivers_the_chat_queue_too(runner, session, chat_server, queued):
    # One worker for email and chat: `feedback-sla worker --once` drains both queues.
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "chat: sent 1" in result.output
    [message] = messages(session)
    assert message.status == ChatStatus.SENT
    [posted] = chat_server.posted()
    assert "Ada Lovelace" in posted["text"]
