"""Where each user hears from us: My settings' chat choices, linking managers to Slack (by address
with users.lookupByEmail, or by hand), ``chat test``, and the migration that adds the chat tables."""

from __future__ import annotations

import re

import flask_migrate
import pytest
import sqlalchemy as sa

from feedback_sla.chat.models import Channel, ChatPreference
from feedback_sla.database import db

from .chat_support import chat_app_config, chat_config, choose, running_server
from .factories import UserFactory
from .helpers import logged_in, text

TEAMS_HOSTED = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=SECRET"
)


@pytest.fixture
def chat_server():
    with running_server() as server:
        yield server


@pytest.fixture
def app_config(app_config, chat_server):
    return chat_app_config(app_config, chat_server)


@pytest.fixture
def ana(session):
    return UserFactory(name="Ana Silva", email="ana@example.com", time_zone="Europe/Lisbon")


def preference(session, user) -> ChatPreference:
    session.expire_all()
    return session.get(ChatPreference, user.id)


def test_my_settings_choose_the_channels_and_keep_the_teams_url_secret(app, client, session, ana):
    app.config["TEAMS_WEBHOOK_HOSTS"] = "logic.azure.com"
    logged_in(client, ana)
    page = text(client.get("/account/settings"))
    assert "Chat: Slack and Teams" in page and "not linked to you yet: ask an admin" in page
    form = {"nudge_teams": "y", "digest_slack": "y", "daily_cap": "5", "quiet_from": "19", "quiet_until": "8"}
    refused = client.post("/account/chat", data=form)
    assert refused.status_code == 422 and "Teams: paste the URL of your Teams workflow first" in text(refused)
    assert preference(session, ana) is None  # nothing was saved
    elsewhere = client.post("/account/chat", data={**form, "teams_webhook": "https://example.org/hook"})
    assert elsewhere.status_code == 422 and "not a Teams Workflows URL" in text(elsewhere)
    saved = client.post("/account/chat", data={**form, "teams_webhook": TEAMS_HOSTED})
    assert saved.status_code == 302
    row = preference(session, ana)
    assert (row.channels("nudge"), row.channels("digest")) == ((Channel.TEAMS,), (Channel.SLACK,))
    assert (row.quiet_from, row.quiet_until, row.daily_cap) == (19, 8, 5)
    assert "SECRET" not in row.teams_webhook  # stored encrypted
    page = text(client.get("/account/settings"))
    assert "your own workflow is set" in page and "SECRET" not in page and "logic.azure.com" not in page
    unsure = client.post("/account/chat", data={**form, "quiet_until": "", "teams_webhook": ""})
    assert unsure.status_code == 422 and "quiet hours: choose both" in text(unsure)
    capped = client.post("/account/chat", data={**form, "daily_cap": "0"})
    assert capped.status_code == 422


def test_chat_link_finds_members_by_address_and_by_hand(runner, session, chat_server, ana):
    bob = UserFactory(name="Bob", email="bob@example.com")
    chat_server.members["ana@example.com"] = "U0ANA"
    session.commit()
    result = runner.invoke(args=["chat", "link"])
    assert result.exit_code == 0, result.output
    assert "ana@example.com: linked to Slack member U0ANA" in result.output
    assert "bob@example.com: no Slack user with this address" in result.output
    assert chat_server.problems == []
    assert preference(session, ana).slack_user_id == "U0ANA"
    taken = runner.invoke(args=["chat", "link", "--manager", bob.email, "--slack-id", "U0ANA"])
    assert taken.exit_code == 1 and "already linked to ana@example.com" in taken.output
    bad = runner.invoke(args=["chat", "link", "--manager", bob.email, "--slack-id", "not an id"])
    assert bad.exit_code == 1 and "Slack member ID: 'NOT AN ID' is not one" in bad.output
    assert runner.invoke(args=["chat", "link", "--manager", bob.email, "--slack-id", "U0BOB"]).exit_code == 0
    assert preference(session, bob).slack_user_id == "U0BOB"
    nobody = runner.invoke(args=["chat", "link", "--manager", "nobody@example.com"])
    assert nobody.exit_code == 2 and "no user with email nobody@example.com" in nobody.output


def test_chat_link_stops_on_invalid_auth_and_exits_non_zero(runner, session, chat_server, ana):
    session.commit()
    chat_server.script("/api/users.lookupByEmail", (200, {"ok": False, "error": "invalid_auth"}, {}))
    result = runner.invoke(args=["chat", "link"])
    assert result.exit_code == 1 and "Slack answered invalid_auth" in result.output


def test_chat_test_reaches_the_manager_or_says_why_not(runner, session, chat_server, ana):
    session.commit()
    unreachable = runner.invoke(args=["chat", "test", "--manager", ana.email])
    assert unreachable.exit_code == 1 and "cannot be reached in chat" in unreachable.output
    choose(session, ana, member="U0ANA")
    result = runner.invoke(args=["chat", "test", "--manager", ana.email])
    assert result.exit_code == 0 and "Slack: sent" in result.output
    [dm] = chat_server.posted()
    assert dm["channel"] == "U0ANA" and "feedback-sla can reach Ana Silva here" in dm["text"]
    chat_server.script("/api/chat.postMessage", (200, {"ok": False, "error": "channel_not_found"}, {}))
    failed = runner.invoke(args=["chat", "test", "--manager", ana.email])
    assert failed.exit_code == 1 and "Slack: failed (Slack answered channel_not_found)" in failed.output


def test_an_admin_links_a_manager_by_hand_and_a_manager_cannot(client, session, ana):
    from feedback_sla.accounts.models import Role

    admin = UserFactory(role=Role.ADMIN, email="admin@example.com")
    logged_in(client, ana)
    assert client.post(f"/admin/chat/users/{ana.id}/slack", data={"member_id": "U0ANA"}).status_code == 404
    assert preference(session, ana) is None
    client.post("/logout")
    logged_in(client, admin)
    assert client.post(f"/admin/chat/users/{ana.id}/slack", data={"member_id": "u0ana"}).status_code == 302
    assert preference(session, ana).slack_user_id == "U0ANA"
    page = text(client.get("/admin/chat"))
    assert 'value="U0ANA"' in page and "/chat/slack/interactivity" in page


def test_the_migration_adds_the_chat_tables_and_takes_them_away(app, session, ana):
    choose(session, ana, member="U0ANA")
    assert chat_config().slack_bot_token
    flask_migrate.downgrade(revision="0017_template_choice")
    try:
        names = sa.inspect(db.engine).get_table_names()
        assert "chat_messages" not in names and "chat_preferences" not in names
        assert db.session.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1  # kept
    finally:
        db.session.rollback()
        flask_migrate.upgrade()
    assert {"chat_messages", "chat_preferences", "chat_settings", "chat_slack_requests"} <= set(
        sa.inspect(db.engine).get_table_names()
    )


@pytest.mark.parametrize(
    "url",
    ["http://localhost:5432/hook", "http://127.0.0.1:6379/", "http://[::1]:8080/x", "https://127.0.0.1/x"],
)
def test_a_manager_cannot_point_their_teams_nudges_at_this_machine(app, client, session, ana, url):
    # The server would post to whatever the address names: only the operator's hosts are taken.
    app.config["TEAMS_WEBHOOK_HOSTS"] = "logic.azure.com"
    logged_in(client, ana)
    form = {"nudge_teams": "y", "daily_cap": "5", "teams_webhook": url}
    refused = client.post("/account/chat", data=form)
    assert refused.status_code == 422 and "not a Teams Workflows URL" in text(refused)
    assert preference(session, ana) is None


def test_my_settings_sends_nudges_by_email_without_any_chat_connection(app, client, session, ana):
    logged_in(client, ana)
    saved = client.post("/account/chat", data={"nudge_email": "y", "daily_cap": "20"})
    assert saved.status_code == 302
    assert preference(session, ana).channels("nudge") == (Channel.EMAIL,)
    page = client.get("/account/settings").get_data(as_text=True)
    [box] = re.findall(r'<input[^>]*name="nudge_email"[^>]*>', page)
    assert "checked" in box and "Nudges by email" in page
    client.post("/account/chat", data={"nudge_slack": "y", "daily_cap": "20"})
    assert preference(session, ana).channels("nudge") == (Channel.SLACK,)
    [box] = re.findall(
        r'<input[^>]*name="nudge_email"[^>]*>', client.get("/account/settings").get_data(as_text=True)
    )
    assert "checked" not in box
