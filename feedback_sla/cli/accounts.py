from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla.accounts.models import Role
from feedback_sla.accounts.service import create_user, everyone, find_by_email, no_user_with
from feedback_sla.calendar_feed import service as calendar_feed
from feedback_sla.cli.common import committed
from feedback_sla.database import db
from feedback_sla.output import WRITERS

users = AppGroup("users", help="Create and list users; their calendar links.")


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
    user = committed(
        lambda: create_user(db.session, email, name, role, time_zone, password, digest_hour=digest_hour)
    )
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


@users.command("calendar")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Revoke the user's calendar link instead.")
def calendar_command(email, revoke):
    """Create a user's private calendar feed link (shown once; an earlier link stops working)."""
    user = find_by_email(db.session, email)
    if user is None:
        raise click.ClickException(no_user_with(email))
    if revoke:
        had = calendar_feed.revoke(user)
        db.session.commit()
        done = f"revoked the calendar link of {user.email}" if had else f"{user.email} had no calendar link"
        click.echo(done)
        return
    secret = committed(lambda: calendar_feed.create_token(user))
    base = current_app.config.get("BASE_URL")
    path = f"/calendar/{secret}.ics"
    click.echo(f"calendar link for {user.email}; it is shown once:", err=True)
    if not base:
        click.echo("FEEDBACK_SLA_BASE_URL is not set: put the app's public address before the path", err=True)
    click.echo(base + path if base else path)
