"""What the commands share: one transaction per command, and finding the user an option names."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import find_by_email, no_user_with
from feedback_sla.database import db
from feedback_sla.errors import DomainError

T = TypeVar("T")


def refusing(call: Callable[[], T]) -> T:
    """``call``'s result; a refusal stops the command with its reason (exit 1). Commits nothing."""
    try:
        return call()
    except DomainError as exc:  # the one place a command turns a refusal into its error
        db.session.rollback()
        raise click.ClickException(str(exc)) from None


def committed(door: Callable[[], T]) -> T:
    """Run ``door`` as the command's one transaction: commit and hand back its result; or roll back
    and stop with the refusal's reason (exit 1)."""
    result = refusing(door)
    db.session.commit()
    return result


def user_named_by(email: str, option: str) -> User:
    """The user with this email; otherwise the option is refused, naming it."""
    user = find_by_email(db.session, email)
    if user is None:
        raise click.BadParameter(no_user_with(email), param_hint=f"'{option}'")
    return user
