"""``feedback-sla autopilot run``: status updates before deadlines pass, from cron like the digest."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla.autopilot import service
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import local_time_in, parse_instant, utcnow

autopilot = AppGroup("autopilot", help="Status updates to candidates before their deadline passes.")


@autopilot.command("run")
@click.option(
    "--now", "now_text", metavar="ISO8601", help="Act as if it were this time (default: the current time)."
)
@click.option("--dry-run", is_flag=True, help="List the updates it would queue; write nothing.")
def run_command(now_text: str | None, dry_run: bool):
    """Queue an update to every candidate of an autopilot position whose deadline is near or past
    (safe to run often, and on several hosts at once). Exits 1 when an update could not be queued."""
    try:
        now = parse_instant(now_text, "UTC") if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--now'") from None
    try:
        configured = EmailConfig.from_app(current_app)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    # The company name the admins set, and the status page link, as in every candidate email.
    config = settings_service.email_config(db.session, configured)
    settings = settings_service.load(db.session)
    if dry_run:
        count = 0  # counted as it goes: the owed waits are never all held at once
        for item in service.would_queue(db.session, now, settings):
            click.echo(f"would queue: {_named(item)}, update {item.updates + 1}")
            count += 1
        click.echo(f"dry run: {count} update(s) to queue; nothing written")
        return
    outcome = service.run(db.session, now, settings, config)
    for sent in outcome.queued:
        click.echo(f"queued: {_named(sent.owed)}, promising {sent.promised_date.isoformat()}")
    for item in outcome.skipped:
        click.echo(f"skipped: {_named(item)}: answered or handled by another run meanwhile")
    for item, error in outcome.failed:
        click.echo(f"failed: {_named(item)}: {error}", err=True)
    click.echo(
        f"{len(outcome.queued)} update(s) queued; {len(outcome.skipped)} skipped; "
        f"{len(outcome.failed)} failed"
    )
    if outcome.failed:
        raise SystemExit(1)


def _named(item: service.Owed) -> str:
    return (
        f"{item.candidate} (candidate {item.candidate_id}, {item.position}), "
        f"due {local_time_in(item.due_at, item.time_zone)}"
    )
