from __future__ import annotations

from collections import Counter

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla import demo as demo_data
from feedback_sla.cli.common import user_named_by
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.digest import service
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails.config import EmailConfig
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import parse_instant, utcnow

digest = AppGroup("digest", help="The daily overdue digest.")


def _base_url() -> str:
    """FEEDBACK_SLA_BASE_URL, or in the demo's database the address the demo serves on."""
    base = current_app.config.get("BASE_URL") or demo_data.recorded_address(db.session)
    if base:
        return str(base)
    raise click.ClickException(
        "FEEDBACK_SLA_BASE_URL is not set: digest links need the app's public address, "
        "e.g. FEEDBACK_SLA_BASE_URL=https://feedback.example.com"
    )


@digest.command("send")
@click.option(
    "--now", "now_text", metavar="ISO8601", help="Act as if it were this time (default: the current time)."
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; write nothing.")
@click.option("--manager", "manager_email", help="Only this manager.")
def send_command(now_text: str | None, dry_run: bool, manager_email: str | None):
    """Queue today's digest for every manager at or past their digest hour (safe to run often)."""
    try:
        now = parse_instant(now_text, "UTC") if now_text else utcnow()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--now'") from None
    if manager_email:
        user_named_by(manager_email, "--manager")
    base_url = _base_url()
    try:
        config = EmailConfig.from_app(current_app)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    settings = settings_service.load(db.session)
    due = service.due_digests(db.session, now, manager_email)
    if dry_run:
        for manager, day in due:
            _print_dry_run(service.digest_for(db.session, now, settings, manager, day, base_url))
        click.echo(f"dry run: {len(due)} manager(s) due; nothing written")
        return
    outcomes = Counter()
    for manager, day in due:  # one manager's rows at a time, committed before the next
        digest = service.digest_for(db.session, now, settings, manager, day, base_url)
        claimed = service.queue(db.session, digest, now, config)
        db.session.commit()
        outcomes[_outcome(claimed)] += 1
    click.echo(
        f"{outcomes['queued']} digest(s) queued; {outcomes['skipped']} manager(s) owed nothing; "
        f"{outcomes['taken']} already handled by another run"
    )


def _outcome(claimed: DigestDay | None) -> str:
    if claimed is None:
        return "taken"
    return "skipped" if claimed.outbox_message_id is None else "queued"


def _print_dry_run(digest: service.Digest) -> None:
    wanted = digest.items or digest.manager.digest_empty
    click.echo(
        f"--- {digest.manager.email} ({digest.local_date.isoformat()}, "
        f"{digest.manager.time_zone}): " + (f"{digest.subject}" if wanted else "nothing owed, no digest")
    )
    if wanted:
        text, _ = service.render(digest)
        click.echo(text)
