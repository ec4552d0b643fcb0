"""``feedback-sla retention run``: erase candidates' personal data a set time after the decision."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from feedback_sla.database import db
from feedback_sla.retention import service
from feedback_sla.timeutil import iso, utcnow

retention = AppGroup("retention", help="Erase candidates' personal data a set time after the decision.")


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="List who would be erased; write nothing.")
def run_command(dry_run: bool):
    """Erase every candidate decided more than retention.days_after_decision days ago (safe to
    run from cron on several hosts at once)."""
    days = service.days_after_decision(db.session)
    if days is None:
        click.echo(
            "retention is off: nothing erased (set it with: "
            "feedback-sla settings set retention.days_after_decision DAYS)"
        )
        return
    now = utcnow()
    if dry_run:
        count = 0
        for due in service.due(db.session, now, days):
            click.echo(f"candidate {due.id}: decided {iso(due.decided_at)}")
            count += 1
        click.echo(
            f"dry run: {count} candidate(s) decided over {days} days ago would be erased; nothing written"
        )
        return
    erased = 0
    try:
        while batch := service.next_batch(db.session, now, days):
            erased += service.erase_batch(db.session, batch, now, days)
            db.session.commit()
        comments = service.erase_survey_comments(db.session, now, days)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    click.echo(f"erased {erased} candidate(s) decided over {days} days ago")
    if comments:
        click.echo(f"erased {comments} survey comment(s) about decisions over {days} days ago")
