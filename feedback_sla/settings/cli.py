from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..candidates.service import recompute_open_waits
from ..database import db
from ..output import WRITERS
from . import service

settings = AppGroup("settings", help="Show and change organisation settings.")


@settings.command("show")
@click.option(
    "--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True
)
def show_command(fmt):
    """Show every setting with its value and meaning."""
    values = service.raw_values(db.session)
    rows = [(key, values[key], d.help) for key, d in service.DEFINITIONS.items()]
    WRITERS[fmt](sys.stdout, ("key", "value", "meaning"), rows)


@settings.command("set")
@click.argument("key")
@click.argument("value")
def set_command(key, value):
    """Change a setting; deadlines of open waits it moves are recomputed."""
    try:
        service.store(db.session, key, value)
        moved = 0
        if key in service.DEADLINE_KEYS:
            db.session.flush()
            moved = recompute_open_waits(db.session, service.load(db.session))
        db.session.commit()
    except service.SettingError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} = {value.strip()}")
    if key in service.DEADLINE_KEYS:
        click.echo(f"{moved} open wait(s) recomputed")
