from __future__ import annotations

import click
from flask.cli import AppGroup

from feedback_sla.cli.common import committed
from feedback_sla.database import db
from feedback_sla.metrics import open_counts, rollup
from feedback_sla.settings import service as settings_service

metrics = AppGroup("metrics", help="The metrics page's counts of answered and open waits.")


@metrics.command("rebuild")
def rebuild_command():
    """Count every answered wait again, e.g. after an update of the time zone database or of the
    holiday rules, and the open waits (which the database counts as they change). The metrics page
    counts the answered ones again itself when the organisation's zone or calendar changed."""

    def count() -> tuple[int, int]:
        return rollup.rebuild(db.session, settings_service.load(db.session)), open_counts.recount(db.session)

    answered, still_open = committed(count)
    click.echo(f"{answered} answered wait(s) counted, {still_open} open")
