"""Who may see what: managers their own candidates and positions, admins everything.

Anything else answers 404, so a manager cannot even learn that another's object exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.positions.models import Position


def viewer() -> User:
    return current_user._get_current_object()


def admin_required(view):
    """Admins only; a manager gets 404 like for any object that is not theirs."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def scope_positions(query: Select) -> Select:
    """Limit a query that involves Position to the viewer's own positions (admins: all)."""
    if current_user.is_admin:
        return query
    return query.where(Position.manager_id == current_user.id)


#: The most positions a filter menu lists; an organisation with more narrows them by manager first.
MAX_CHOICES = 200


@dataclass(frozen=True)
class PositionMenu:
    """(id, title, is_open) of the positions the viewer may filter by; ``complete`` is False when
    there are more than ``MAX_CHOICES`` (none are listed then: choose a manager first)."""

    choices: list
    complete: bool = True

    def allows(self, position_id: int | None, manager_id: int | None = None) -> int | None:
        """``position_id`` if the viewer may filter by it (of ``manager_id``'s, if given), else None."""
        if position_id is None:
            return None
        if self.complete:
            return position_id if position_id in {p.id for p in self.choices} else None
        found = db.session.get(Position, position_id)
        mine = current_user.is_admin or (found is not None and found.manager_id == current_user.id)
        chosen = manager_id is None or (found is not None and found.manager_id == manager_id)
        return position_id if found is not None and mine and chosen else None


def position_choices(manager_id: int | None = None) -> PositionMenu:
    """The positions the viewer may filter by, of one manager if given."""
    mine = not current_user.is_admin
    query = _POSITION_CHOICES[mine, manager_id is not None]
    values = {"viewer": current_user.id if mine else None, "manager_id": manager_id, "most": MAX_CHOICES + 1}
    rows = list(db.session.connection().execute(query, values).all())
    if len(rows) > MAX_CHOICES:
        return PositionMenu([], complete=False)
    return PositionMenu(rows)


def _position_choices(mine: bool, one_manager: bool) -> Select:
    query = (
        select(Position.id, Position.title, Position.is_open)
        .order_by(Position.title)
        .limit(bindparam("most"))
    )
    if mine:
        query = query.where(Position.manager_id == bindparam("viewer"))
    if one_manager:
        query = query.where(Position.manager_id == bindparam("manager_id"))
    return query


#: Every filter menu of positions, for a manager's own or anyone's, of one manager or all: built
#: once, bound at each request (building one cost as much as running it).
_POSITION_CHOICES = {
    (mine, of_manager): _position_choices(mine, of_manager)
    for mine in (False, True)
    for of_manager in (False, True)
}


def position_or_404(position_id: int) -> Position:
    position = db.session.get(Position, position_id)
    if position is None or not (current_user.is_admin or position.manager_id == current_user.id):
        abort(404)
    return position


#: The candidate with its position and the position's manager: every candidate page shows all
#: three. Built once, bound at each request (building it costs about as much as running it).
_CANDIDATE = (
    select(Candidate)
    .options(joinedload(Candidate.position).joinedload(Position.manager))
    .where(Candidate.id == bindparam("candidate_id"))
)


def candidate_or_404(candidate_id: int) -> Candidate:
    """The candidate, its position and its manager in one statement; 404 unless the viewer may
    see the candidate."""
    candidate = db.session.scalar(_CANDIDATE, {"candidate_id": candidate_id})
    if candidate is None:
        abort(404)
    if not current_user.is_admin and candidate.position.manager_id != current_user.id:
        abort(404)
    return candidate


def safe_next(target: str | None) -> str | None:
    """A local path to return to after login, or None for anything that leaves this site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def message_or_404(message_id: int) -> OutboxMessage:
    """A candidate email the viewer may act on: through a candidate of theirs (admins: any)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.candidate_id is None:
        abort(404)
    candidate_or_404(message.candidate_id)
    return message


def bearer_secret(header: str) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header; None for any other header."""
    scheme, _, secret = header.partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None
