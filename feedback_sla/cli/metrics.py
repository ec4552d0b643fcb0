from __future__ import annotations

import click
from flask.cli import AppGroup

from feedback_sla.cli.common import committed
from feedback_sla.database import db
from feedback_sla.metrics import rollup
from feedback_sla.settings import service as settings_service

metrics = AppGroup("metrics", help="The metrics page's counts of answered waits.")


@metrics.command("rebuild")
def rebuild_command():
    """Count every answered wait again, e.g. after an update of the time zone database or of the
    holiday rules. The metrics page does this itself when the organisation's zone or calendar
    changed."""
    answered = committed(lambda: rollup.rebuild(db.session, settings_service.load(db.session)))
    click.echo(f"{answered} answered wait(s) counted")
