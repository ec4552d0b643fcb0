"""A page action is one transaction: call the door, commit what it wrote, or, when a rule of the
domain refuses, roll all of it back and hand the page the refusal to word."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import event as sa_event

from feedback_sla.database import db
from feedback_sla.errors import DomainError

T = TypeVar("T")


@dataclass(frozen=True)
class Refused:
    """A rule of the domain refused the request; nothing the door wrote is kept."""

    error: DomainError

    @property
    def reason(self) -> str:
        """Why, fit to show the user."""
        return str(self.error)


def attempt(call: Callable[[], T]) -> T | Refused:
    """``call``'s result, or its refusal; for checks that write nothing, so nothing is committed."""
    try:
        return call()
    except DomainError as error:  # the one place a page turns a refusal into a value
        return Refused(error)


def one_transaction(door: Callable[[], T]) -> T | Refused:
    """Run ``door`` as the request's one transaction: commit and hand back its result, or roll back
    and hand back the refusal. What must be read before the commit expires the rows, ``door`` reads."""
    outcome = attempt(door)
    if isinstance(outcome, Refused):
        db.session.rollback()
    else:
        db.session.commit()
    return outcome


@contextmanager
def added(model: type[T]) -> Iterator[list[T]]:
    """The rows of ``model`` the session is given meanwhile, in order: what a door wrote, without
    reading the table again (where another request may have written a newer row)."""
    session = db.session()
    written: list[T] = []

    def _pending(_session, instance) -> None:
        if isinstance(instance, model):
            written.append(instance)

    sa_event.listen(session, "transient_to_pending", _pending)
    try:
        yield written
    finally:
        sa_event.remove(session, "transient_to_pending", _pending)
