"""What the commands share: finding the user an option names."""

from __future__ import annotations

import click

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import find_by_email, no_user_with
from feedback_sla.database import db


def user_named_by(email: str, option: str) -> User:
    """The user with this email; otherwise the option is refused, naming it."""
    user = find_by_email(db.session, email)
    if user is None:
        raise click.BadParameter(no_user_with(email), param_hint=f"'{option}'")
    return user
