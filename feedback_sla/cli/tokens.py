"""Personal API tokens from the command line: create (shown once), list, revoke."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from feedback_sla.accounts import tokens as api_tokens
from feedback_sla.accounts.models import ApiToken
from feedback_sla.accounts.service import find_by_email, no_user_with
from feedback_sla.cli.common import committed
from feedback_sla.database import db
from feedback_sla.output import WRITERS
from feedback_sla.timeutil import iso, utcnow

tokens = AppGroup("tokens", help="Create, list and revoke personal API tokens.")


def _user(email: str):
    user = find_by_email(db.session, email)
    if user is None:
        raise click.ClickException(no_user_with(email))
    return user


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="API token", show_default=True, help="What the token is for.")
def create_command(email, name):
    """Create a token for a user and print it: it is shown this once and never again."""
    user = _user(email)
    new = committed(lambda: api_tokens.create_token(db.session, user, name, utcnow()))
    click.echo(f"created token {new.token.id} {new.token.name!r} for {email}; it is shown once:", err=True)
    click.echo(new.secret)


@tokens.command("list")
@click.argument("email")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def list_command(email, fmt):
    """A user's tokens, newest first, with their last use."""
    columns = ("id", "name", "created_at", "last_used_at", "revoked_at")
    rows = [
        (t.id, t.name, iso(t.created_at), iso(t.last_used_at), iso(t.revoked_at))
        for t in api_tokens.tokens_of(db.session, _user(email))
    ]
    WRITERS[fmt](sys.stdout, columns, rows)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_command(token_id):
    """Revoke a token: requests carrying it are refused from now on."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token with id {token_id}")
    api_tokens.revoke(db.session, token, utcnow())
    db.session.commit()
    click.echo(f"revoked token {token.id} {token.name!r}")
