"""The whole organisation's triage list, read from one index whatever its size.

An admin's first view lists every waiting candidate of the organisation: 400,000 at a million
waits. Its statements read ``ix_waits_listed_due`` (the waiting candidates' open waits by
deadline, with what their state needs) and join only the page's rows to their candidates,
positions and managers:

- the counts per state, from the index alone;
- a page by number: the counts say which states it spans and where in each it starts; each
  state's waits are in deadline order in the index (a state's deadlines lie on one side of now,
  so the index is entered there);
- the next or the previous page (a *cursor*: the last or first row's state, deadline and wait):
  the index is entered at the cursor and read for fifty rows, however deep the page.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select, tuple_, union_all
from sqlalchemy.orm import Session

from feedback_sla.timeutil import UTC
from feedback_sla.triage.sorting import NOW, URGENCY, TriageSort, order_of
from feedback_sla.types import UTCDateTime
from feedback_sla.waits.clock import State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import BY_URGENCY, PAGE_SIZE, Filters, listed, waiting_select

#: No filter: the whole organisation.
EVERYONE = Filters()

#: The organisation's counts per state, from the index alone.
COUNTED = select(URGENCY, func.count()).where(Wait.closed_at.is_(None), listed()).group_by(URGENCY)


@dataclass(frozen=True)
class Cursor:
    """A row of the list by urgency, where the next page starts after it (or the previous one
    ends before it): its state, deadline and wait. In an address: ``1.1765000000000000.42``."""

    urgency: int
    due_at: dt.datetime
    wait_id: int

    def __str__(self) -> str:
        micros = round(self.due_at.timestamp() * 1_000_000)
        return f"{self.urgency}.{micros}.{self.wait_id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor an address carries; None for anything else (a page number is used then)."""
        parts = (text or "").split(".")
        if len(parts) != 3 or not all(p.isdigit() and len(p) < 20 for p in parts):
            return None
        urgency, micros, wait_id = map(int, parts)
        if urgency >= len(BY_URGENCY) or wait_id > 2**31:
            return None
        try:
            due_at = dt.datetime.fromtimestamp(micros / 1_000_000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(urgency, due_at, wait_id)


def _of_state(urgency, ordered: bool = True) -> Select:
    """The organisation's open waits in one state, by deadline, entered where the state's
    deadlines lie: overdue ones are due by now, due-soon and on-track ones after."""
    query = select(Wait.id, Wait.due_at).where(Wait.closed_at.is_(None), listed(), URGENCY == urgency)
    if urgency == State.OVERDUE.urgency:
        query = query.where(Wait.due_at <= NOW)
    elif urgency in (State.DUE_SOON.urgency, State.ON_TRACK.urgency):
        query = query.where(Wait.due_at > NOW)
    return query


# --- a page by number --------------------------------------------------------------------------


def _slice(urgency: int | None, sort: TriageSort, n: int | str = "") -> Select:
    """``limit{n}`` ids from ``offset{n}`` on, of one state if given, in the order of ``sort``."""
    if urgency is None:
        query = select(Wait.id).where(Wait.closed_at.is_(None), listed())
    else:
        query = _of_state(urgency).with_only_columns(Wait.id)
    order = (Wait.opened_at, Wait.id) if sort == TriageSort.WAITED else (Wait.due_at, Wait.id)
    return query.order_by(*order).limit(bindparam(f"limit{n}")).offset(bindparam(f"offset{n}"))


@functools.cache
def _numbered(sort: TriageSort, one_state: bool) -> Select:
    """A numbered page's rows in one statement. By urgency, a slice of each state (empty for the
    states the page does not reach); in another order, one slice (of the chosen state, if any)."""
    if sort == TriageSort.URGENCY:
        slices = [_slice(s.urgency, sort, s.urgency).subquery() for s in BY_URGENCY]
        ids = union_all(*(select(slice_.c.id) for slice_ in slices))
    else:
        ids = select(_slice(bindparam("state") if one_state else None, sort).subquery().c.id)
    return _rows(sort).where(Wait.id.in_(ids))


def _rows(sort: TriageSort) -> Select:
    return waiting_select(NOW, bindparam("followups"), EVERYONE).order_by(None).order_by(*order_of(sort))


def _slice_values(counts: dict[State, int], state: State | None, offset: int) -> dict[str, int]:
    """Where the page starting at ``offset`` lies in each state (``offset{u}``, ``limit{u}``): the
    states follow each other in the urgency order, each by deadline."""
    values, start = {}, 0
    for s in BY_URGENCY:
        shown = counts[s] if state in (None, s) else 0
        low, high = max(offset, start), min(offset + PAGE_SIZE, start + shown)
        values[f"offset{s.urgency}"] = max(0, low - start)
        values[f"limit{s.urgency}"] = max(0, high - low)
        start += shown
    return values


def numbered_page(
    session: Session, parameters: dict, counts: dict[State, int], state, sort: TriageSort, offset: int
) -> list:
    """The rows of the page starting at ``offset``, in one statement."""
    if sort == TriageSort.URGENCY:
        values = _slice_values(counts, state, offset)
    else:
        values = {"offset": offset, "limit": PAGE_SIZE, "state": None if state is None else state.urgency}
    query = _numbered(sort, state is not None)
    return session.connection().execute(query, {**parameters, **values}).all()


# --- the next or previous page by cursor --------------------------------------------------------

_KEY = tuple_(Wait.due_at, Wait.id)
_AT = tuple_(bindparam("due_at", type_=UTCDateTime()), bindparam("wait_id"))


@functools.cache
def _from_cursor(urgency: int, forward: bool, bounded: bool) -> Select:
    """Up to ``limit`` ids of one state next to the cursor (``bounded``) or from the state's end
    nearest to it, in reading order."""
    query = _of_state(urgency)
    if bounded:
        query = query.where(_KEY > _AT if forward else _KEY < _AT)
    order = (Wait.due_at, Wait.id) if forward else (Wait.due_at.desc(), Wait.id.desc())
    return query.order_by(*order).limit(bindparam("limit"))


def cursor_page(
    session: Session,
    parameters: dict,
    counts: dict[State, int],
    state: State | None,
    cursor: Cursor,
    forward: bool,
) -> list:
    """The fifty rows after the cursor (``forward``) or before it, by urgency: from the cursor's
    state on, into the next states (or the previous ones) while the page is not full."""
    connection = session.connection()
    states = [s.urgency for s in BY_URGENCY if state in (None, s) and counts[s]]
    if not forward:
        states.reverse()
    found: list = []
    for urgency in states:
        if (urgency < cursor.urgency) if forward else (urgency > cursor.urgency):
            continue
        values = {**parameters, "limit": PAGE_SIZE - len(found)}
        bounded = urgency == cursor.urgency
        if bounded:
            values |= {"due_at": cursor.due_at, "wait_id": cursor.wait_id}
        found += connection.execute(_from_cursor(urgency, forward, bounded), values).all()
        if len(found) == PAGE_SIZE:
            break
    if not found:
        return []
    return connection.execute(_by_ids(), {**parameters, "ids": [row.id for row in found]}).all()


@functools.cache
def _by_ids() -> Select:
    return _rows(TriageSort.URGENCY).where(Wait.id.in_(bindparam("ids", expanding=True)))
