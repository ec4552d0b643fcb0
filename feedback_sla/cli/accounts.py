from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from feedback_sla.accounts.models import Role
from feedback_sla.accounts.service import create_user, everyone
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.output import WRITERS

users = AppGroup("users", help="Create and list users.")


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name shown to colleagues and candidates.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="manager", show_default=True)
@click.option("--time-zone", default="UTC", show_default=True, help="IANA zone, e.g. Europe/Berlin.")
@click.option(
    "--digest-hour",
    type=click.IntRange(0, 23),
    default=8,
    show_default=True,
    help="Local hour of the daily digest.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email, name, role, time_zone, digest_hour, password_stdin):
    """Create a user; the password is prompted for without echo."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, email, name, role, time_zone, password, digest_hour=digest_hour)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def list_command(fmt):
    """List every user."""
    columns = ("id", "email", "name", "role", "time_zone", "digest_hour", "active")
    rows = [
        (u.id, u.email, u.name, u.role.value, u.time_zone, u.digest_hour, u.active)
        for u in sorted(everyone(db.session), key=lambda user: user.id)
    ]
    WRITERS[fmt](sys.stdout, columns, rows)
