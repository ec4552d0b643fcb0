from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from feedback_sla.cli.common import committed, refusing, user_named_by
from feedback_sla.database import db
from feedback_sla.output import WRITERS
from feedback_sla.positions.models import Position
from feedback_sla.positions.service import create_position, parse_overrides, set_autopilot

positions = AppGroup("positions", help="Create and list positions.")


@positions.command("create")
@click.argument("title")
@click.option("--manager", "manager_email", required=True, help="Hiring manager's email.")
@click.option("--time-zone", help="IANA zone; defaults to the manager's.")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="REASON=DAYS",
    help="Business days replacing the organisation policy for a wait reason "
    "(application, decision, follow_up); repeatable.",
)
@click.option(
    "--autopilot/--no-autopilot",
    default=False,
    show_default=True,
    help="Send candidates a status update before their deadline passes (feedback-sla autopilot run).",
)
def create_command(title, manager_email, time_zone, policies, autopilot):
    """Create a position for a hiring manager."""
    manager = user_named_by(manager_email, "--manager")
    overrides = refusing(lambda: parse_overrides(policies))
    position = committed(
        lambda: create_position(db.session, title, manager, time_zone, overrides, autopilot=autopilot)
    )
    click.echo(
        f"created position {position.id} {position.title!r} for {manager.email} ({position.time_zone})"
    )


@positions.command("list")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def list_command(fmt):
    """List every position."""
    columns = ("id", "title", "manager", "time_zone", "policy_overrides", "open", "autopilot")
    rows = [
        (
            p.id,
            p.title,
            p.manager.email,
            p.time_zone,
            json.dumps(p.policy_overrides, sort_keys=True) if p.policy_overrides else "",
            p.is_open,
            p.autopilot,
        )
        for p in db.session.scalars(select(Position).order_by(Position.id))
    ]
    WRITERS[fmt](sys.stdout, columns, rows)


@positions.command("autopilot")
@click.argument("position_id", type=int)
@click.argument("switch", type=click.Choice(["on", "off"]))
def autopilot_command(position_id: int, switch: str):
    """Turn autopilot on or off for a position (see feedback-sla autopilot run)."""
    position = db.session.get(Position, position_id)
    if position is None:
        raise click.BadParameter(f"no position with id {position_id}", param_hint="'POSITION_ID'")
    set_autopilot(position, switch == "on")
    db.session.commit()
    click.echo(f"autopilot {switch} for position {position.id} {position.title!r}")
