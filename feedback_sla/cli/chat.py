"""``feedback-sla chat``: Slack and Microsoft Teams. Queue the nudges (cron), deliver them (a worker),
test a connection, link managers to Slack, list and retry what failed."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from feedback_sla.chat import cards, connection, delivery, linking, nudges, preferences, queue
from feedback_sla.chat.models import About, Channel, ChatMessage
from feedback_sla.cli.common import committed, refusing, user_named_by
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import parse_instant, utcnow

chat = AppGroup("chat", help="Slack and Microsoft Teams: nudges, the chat worker, connections.")


def _config() -> connection.ChatConfig:
    return connection.load(db.session, current_app.config)


def _now(text: str | None):
    try:
        return parse_instant(text, "UTC") if text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--now'") from None


@chat.command("nudge")
@click.option("--now", "now_text", metavar="ISO8601", help="Act as if it were this time (default: now).")
def nudge_command(now_text: str | None):
    """Queue the nudges due now and the chat digests (safe to run from cron every few minutes, on
    several hosts at once: nothing is queued twice)."""
    if not current_app.config.get("BASE_URL"):
        raise click.ClickException(
            "FEEDBACK_SLA_BASE_URL is not set: chat messages link into the app, "
            "e.g. FEEDBACK_SLA_BASE_URL=https://feedback.example.com"
        )
    now = _now(now_text)
    settings = settings_service.load(db.session)
    report = committed(lambda: nudges.run_nudges(db.session, now, settings, _config()))
    click.echo(report.summary())


@chat.command("work")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@with_appcontext
def work_command(once: bool):
    """Deliver queued chat messages until stopped (SIGTERM or Ctrl-C finish the current message first)."""
    app = current_app._get_current_object()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop, previous = threading.Event(), {}

    def request_stop(signum, _frame):
        click.echo(f"{signal.Signals(signum).name}: stopping after the current message", err=True)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        if not once:
            click.echo("chat worker delivering Slack and Teams messages; stop with Ctrl-C")
        report = delivery.run_worker(app, once=once, stop=stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(report.summary())


@chat.command("test")
@click.option("--manager", "email", required=True, help="The user to send a test message to.")
@click.option(
    "--channel", type=click.Choice([c.value for c in (Channel.SLACK, Channel.TEAMS)]), help="Only this one."
)
def test_command(email: str, channel: str | None):
    """Send a test message to a user on their channels now; exits 1 when one does not arrive."""
    user = user_named_by(email, "--manager")
    config, now = _config(), utcnow()
    pref = preferences.preference_of(db.session, user)
    wanted = (
        [Channel(channel)]
        if channel
        else [c for c in (Channel.SLACK, Channel.TEAMS) if preferences.reachable(pref, c, config)]
    )
    if not wanted:
        raise click.ClickException(
            f"{user.email} cannot be reached in chat: link them to Slack (feedback-sla chat link) "
            "or set a Teams workflow"
        )
    said, slack_body, teams_body = cards.connected_message(user.name, config.base_url)
    ids = []
    for each in wanted:
        body = slack_body if each == Channel.SLACK else teams_body
        message = queue.add(db.session, queue.NewMessage(user.id, each, About.TEST, said, body), now)
        ids.append(message.id)
    db.session.commit()
    delivery.deliver_due(db.session, config)
    failed = False
    for message_id in ids:
        message = db.session.get(ChatMessage, message_id)
        db.session.refresh(message)
        click.echo(
            f"{message.channel.label}: {message.status.value}"
            + (f" ({message.last_error})" if message.last_error else "")
        )
        failed |= message.status.value != "sent"
    if failed:
        raise SystemExit(1)


@chat.command("link")
@click.option("--manager", "email", help="Only this user (default: every active user not linked yet).")
@click.option("--slack-id", help="Link to this Slack member ID by hand (with --manager); empty unlinks.")
@click.option("--teams-url", help="The user's own Teams workflow URL (with --manager); empty removes it.")
def link_command(email: str | None, slack_id: str | None, teams_url: str | None):
    """Link users to their Slack member by address (users.lookupByEmail), or by hand."""
    user = user_named_by(email, "--manager") if email else None
    if (slack_id is not None or teams_url is not None) and user is None:
        raise click.UsageError("--slack-id and --teams-url need --manager")
    config, now = _config(), utcnow()
    if teams_url is not None:
        committed(lambda: preferences.set_teams_webhook(db.session, user, teams_url or None, config, now))
        click.echo(f"{user.email}: Teams workflow {'set' if teams_url else 'removed'}")
    if slack_id is not None:
        row = committed(lambda: preferences.link_slack(db.session, user, slack_id or None, now))
        click.echo(
            f"{user.email}: "
            + (f"linked to Slack member {row.slack_user_id}" if row.slack_user_id else "unlinked from Slack")
        )
    if slack_id is None and teams_url is None:
        found = committed(lambda: linking.link_by_address(db.session, config, now, [user] if user else None))
        for linked, member in found.linked:
            click.echo(f"{linked.email}: linked to Slack member {member}")
        for missing in found.not_found:
            click.echo(f"{missing.email}: no Slack user with this address")
        for failed, why in found.errors:
            click.echo(f"{failed.email}: {why}", err=True)
        if found.errors:
            raise SystemExit(1)


@chat.command("failures")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def failures_command(limit: int):
    """Chat messages that failed for good, newest first, with the reason."""
    rows = queue.failures(db.session, limit)
    if not rows:
        click.echo("no chat message has failed")
    for message in rows:
        click.echo(
            f"{message.id}\t{message.failed_at.isoformat(timespec='seconds')}\t{message.channel.value}\t"
            f"user {message.user_id}\t{message.about.value}\t{message.last_error}"
        )


@chat.command("retry")
@click.argument("message_id", type=int)
def retry_command(message_id: int):
    """Send a failed chat message again (its count of attempts starts anew)."""
    refusing(lambda: queue.retry(db.session, message_id, utcnow()))
    db.session.commit()
    click.echo(f"chat message {message_id} will be sent again")
