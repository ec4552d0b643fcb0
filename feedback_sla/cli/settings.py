from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla.database import db
from feedback_sla.output import WRITERS
from feedback_sla.settings import service

settings = AppGroup("settings", help="Show and change organisation settings.")


@settings.command("show")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def show_command(fmt):
    """Show every setting with its value and meaning."""
    values = service.raw_values(db.session, current_app.config)
    rows = [(key, values[key], d.help) for key, d in service.DEFINITIONS.items()]
    WRITERS[fmt](sys.stdout, ("key", "value", "meaning"), rows)


@settings.command("set")
@click.argument("key")
@click.argument("value")
def set_command(key, value):
    """Change a setting; deadlines of open waits it moves are recomputed."""
    try:
        # A deadline setting set again recomputes too: the way to apply a new holiday calendar.
        update = service.update(
            db.session,
            {key: value},
            recompute=key in service.DEADLINE_KEYS,
            config=current_app.config,
        )
        db.session.commit()
    except service.SettingError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} = {value.strip()}")
    if update.recomputed is not None:
        done = update.recomputed
        click.echo(
            f"{done.changed} open wait(s) recomputed: {done.due} new deadline(s), "
            f"{done.warn_only} due soon at a new time with the same deadline, "
            f"{done.escalate} escalating at a new time"
        )
