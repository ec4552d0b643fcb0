"""Keeping the metrics page's rollup: every answered wait counted once, by position, day of opening
(in the organisation's zone) and business days to answer (in the position's zone and the
organisation's calendar), with how many met their deadline and how many autopilot answered.

Why: counted from the waits at every request, the page's figures for a million waits took
seconds (each answer's business days worked out in SQL by ``figures``). An answered wait's
figures never change while it stays answered, so they are counted once, into
``AnsweredByPosition`` (the page's groups) and ``AnsweredByDay`` (its totals); the page counts
the open waits from counts the database keeps by the hour (``open_counts``), since their state
moves with the clock.

When: in the transaction of whatever answers, reopens or removes a wait, through whichever door
(a contact logged, an email sent, a decision, an erasure; a bounce or an undo reopening). The
session announces each flush: before it, the waits it is about to change are read as they are,
and locked, so two transactions changing one wait count one after the other; after it they are
read as they are now, and the difference is added to the rollup (additions, so concurrent
answers add up instead of overwriting each other). A position whose zone changes is counted
again. A write that answers or reopens waits outside the ORM's unit of work (a Core UPDATE of
``closed_at``, raw SQL) must call ``rebuild``.

Counted with the organisation's zone and calendar, which ``RollupBasis`` records: when the
settings differ (one was changed, or a configured default), ``current`` counts everything again
(``rebuild``; also ``feedback-sla metrics rebuild``, e.g. after an update of the zone database or
of the holiday rules).

Two routes, one count: one answer is counted in Python by the clock's ``business_days_between``,
a rebuild in SQL by ``local_days.DayCounter`` (which ``tests/test_metrics_days.py`` holds to the
clock); the tests check that the page's figures equal those counted from the waits.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, delete, event, func, inspect, select, text
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event
from feedback_sla.database import add_to_rows
from feedback_sla.metrics.local_days import EPOCH, DayCounter
from feedback_sla.metrics.models import AnsweredByDay, AnsweredByPosition, RollupBasis
from feedback_sla.positions.models import Position
from feedback_sla.reports.export import autopilot_sent
from feedback_sla.timeutil import as_utc, utcnow, zone
from feedback_sla.waits.clock import OrgSettings, business_days_between
from feedback_sla.waits.models import Wait

#: ``days`` of an answer whose position's zone the zone database does not know: the page names it.
UNKNOWN_ZONE = -1
#: What a wait's count depends on: a change to any of these recounts it.
COUNTED = ("closed_at", "closed_by_event_id", "due_at", "opened_at", "candidate_id")
_BEFORE = "metrics.rollup.before_flush"
_COUNTS = ("answered", "met", "autopilot")


@dataclass(frozen=True)
class Basis:
    """The organisation's settings the rollup is counted with."""

    time_zone: str
    holiday_calendar: str


def basis_of(settings: OrgSettings) -> Basis:
    return Basis(settings.time_zone, settings.holiday_calendar)


def built_basis(session: Session) -> Basis | None:
    """What the rollup was counted with; None before it is first built."""
    row = session.execute(select(RollupBasis.time_zone, RollupBasis.holiday_calendar)).first()
    return None if row is None else Basis(*row)


def current(session: Session, settings: OrgSettings) -> bool:
    """Count everything again if the rollup was counted with other settings (or never); True if so.
    The caller commits."""
    if built_basis(session) == basis_of(settings):
        return False
    _lock(session, "EXCLUSIVE")
    if built_basis(session) == basis_of(settings):
        return False  # another request counted it meanwhile
    rebuild(session, settings)
    return True


def _lock(session: Session, mode: str) -> None:
    """On PostgreSQL, the rollup's lock until the transaction ends: a rebuild or a position counted
    again (EXCLUSIVE) runs alone; answers counted one at a time (ROW SHARE) run together, wait for
    it, and then read what it was counted with. Plain reads take no part. SQLite writes one
    transaction at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE metrics_rollup_basis IN {mode} MODE"))


# --- counting again, in SQL ------------------------------------------------------------------


def rebuild(session: Session, settings: OrgSettings) -> int:
    """Count every answered wait again with ``settings``; returns how many. The caller commits."""
    basis = basis_of(settings)
    _lock(session, "EXCLUSIVE")
    for model in (AnsweredByDay, AnsweredByPosition, RollupBasis):
        session.execute(delete(model))
    counted = _counted(session, basis)
    if counted is not None:
        columns = ["position_id", "opened_day", "days", *_COUNTS]
        session.execute(AnsweredByPosition.__table__.insert().from_select(columns, counted))
        by_day = select(
            AnsweredByPosition.opened_day,
            AnsweredByPosition.days,
            *(func.sum(getattr(AnsweredByPosition, name)) for name in _COUNTS),
        ).group_by(AnsweredByPosition.opened_day, AnsweredByPosition.days)
        session.execute(AnsweredByDay.__table__.insert().from_select(columns[1:], by_day))
    session.execute(
        RollupBasis.__table__.insert().values(
            id=1, time_zone=basis.time_zone, holiday_calendar=basis.holiday_calendar, built_at=utcnow()
        )
    )
    total = select(func.coalesce(func.sum(AnsweredByDay.answered), 0))
    return session.scalar(total)


def _counted(session: Session, basis: Basis, positions: Sequence[int] | None = None):
    """The answered waits (of ``positions``, if given) counted per position, day of opening and
    business days: a SELECT of the rollup's columns, or None when there is none."""
    scope = [Wait.closed_at.is_not(None)]
    if positions is not None:
        scope.append(Candidate.position_id.in_(positions))
    bounds = session.execute(
        select(
            func.min(Wait.opened_at),
            func.min(Wait.closed_at),
            func.max(Wait.opened_at),
            func.max(Wait.closed_at),
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .where(*scope)
    ).one()
    if bounds[0] is None:
        return None
    start, end = min(map(as_utc, bounds[:2])), max(map(as_utc, bounds[2:]))
    zones = select(Position.time_zone).distinct()
    if positions is not None:
        zones = zones.where(Position.id.in_(positions))
    dialect = session.get_bind().dialect.name
    org = DayCounter([basis.time_zone], "", start, end, dialect)
    local = DayCounter(session.scalars(zones), basis.holiday_calendar, start, end, dialect)
    # Each answer's local days, then its business days, then the count: OFFSET 0 keeps the
    # database from merging the steps (it would work out each local day again where it is used).
    waits = (
        select(
            Candidate.position_id.label("position_id"),
            org.local_day(Wait.opened_at).label("opened_day"),
            local.local_day(Wait.opened_at, Position.time_zone).label("opened"),
            local.local_day(Wait.closed_at, Position.time_zone).label("closed"),
            case((Wait.closed_at <= Wait.due_at, 1), else_=0).label("met"),
            case((autopilot_sent(), 1), else_=0).label("autopilot"),
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .outerjoin(Event, Event.id == Wait.closed_by_event_id)
        .where(*scope)
        .offset(0)
        .subquery()
    )
    raw = (local.number(waits.c.closed) - local.number(waits.c.opened)).label("raw")
    answers = select(waits.c.position_id, waits.c.opened_day, raw, waits.c.met, waits.c.autopilot)
    answers = answers.offset(0).subquery()
    days = case((answers.c.raw.is_(None), UNKNOWN_ZONE), (answers.c.raw < 0, 0), else_=answers.c.raw)
    # In key order: a position's rows then lie together, and the page reads a few positions' rows.
    return (
        select(
            answers.c.position_id,
            answers.c.opened_day,
            days,
            func.count(),
            func.sum(answers.c.met),
            func.sum(answers.c.autopilot),
        )
        .group_by(answers.c.position_id, answers.c.opened_day, days)
        .order_by(answers.c.position_id, answers.c.opened_day, days)
    )


def recount_positions(session: Session, positions: Sequence[int]) -> None:
    """Count the answers of ``positions`` again (their zone changed); nothing before a first build."""
    if not positions:
        return
    _lock(session, "EXCLUSIVE")
    basis = built_basis(session)
    if basis is None:
        return
    rows = AnsweredByPosition.__table__
    old = session.execute(select(rows).where(rows.c.position_id.in_(positions))).all()
    session.execute(delete(rows).where(rows.c.position_id.in_(positions)))
    counted = _counted(session, basis, positions)
    new = session.execute(counted).all() if counted is not None else []
    if new:
        columns = ["position_id", "opened_day", "days", *_COUNTS]
        session.execute(rows.insert(), [dict(zip(columns, row, strict=True)) for row in new])
    change: Counter[tuple] = Counter()
    for sign, found in ((-1, old), (1, new)):
        for _position, day, days, *counts in found:
            for name, count in zip(_COUNTS, counts, strict=True):
                change[(day, days, name)] += sign * count
    _add_to(session, AnsweredByDay, ("opened_day", "days"), change)


# --- one answer at a time, as the waits change ---------------------------------------------


@dataclass(frozen=True)
class _Answer:
    position_id: int
    opened_day: int
    days: int
    met: int
    autopilot: int


def answered_rows(session: Session, wait_ids: Iterable[int], *, lock: bool = False) -> list[tuple]:
    """What the rollup counts of the answered ones among the waits ``wait_ids``, read now (and
    locked until the transaction ends, with ``lock``)."""
    ids = sorted(set(wait_ids))
    if not ids:
        return []
    rows = session.execute(_answered_rows_statement(lock), {"ids": ids})
    return [tuple(row) for row in rows if row.closed_at is not None]


@functools.cache
def _answered_rows_statement(lock: bool):
    """``answered_rows``'s SELECT, built once per kind (every flush that answers a wait runs it
    twice: building it cost more than running it)."""
    query = (
        select(
            Candidate.position_id,
            Position.time_zone,
            Wait.opened_at,
            Wait.closed_at,
            case((Wait.closed_at <= Wait.due_at, 1), else_=0),
            case((autopilot_sent(), 1), else_=0),
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .outerjoin(Event, Event.id == Wait.closed_by_event_id)
        .where(Wait.id.in_(bindparam("ids", expanding=True)))
    )
    if lock:  # every one of them, open or not: one another transaction answers meanwhile is waited for
        query = query.with_for_update(of=Wait)
    return query


def answers(rows: Iterable[tuple], basis: Basis) -> list[_Answer]:
    """``answered_rows`` as the rollup counts them: the day of opening in the organisation's zone,
    the business days in the position's."""
    org = zone(basis.time_zone)
    found = []
    for position_id, time_zone, opened_at, closed_at, met, autopilot in rows:
        opened_day = (as_utc(opened_at).astimezone(org).date() - EPOCH).days
        found.append(
            _Answer(position_id, opened_day, _days(opened_at, closed_at, time_zone, basis), met, autopilot)
        )
    return found


def known_zone(time_zone: str) -> bool:
    try:
        zone(time_zone)
    except ValueError:
        return False
    return True


def _days(opened_at: dt.datetime, closed_at: dt.datetime, time_zone: str, basis: Basis) -> int:
    """Business days in (day opened, day answered], both local to the position."""
    if not known_zone(time_zone):
        return UNKNOWN_ZONE
    tz = zone(time_zone)
    opened, closed = (as_utc(at).astimezone(tz).date() for at in (opened_at, closed_at))
    return business_days_between(opened, closed, basis.holiday_calendar)


def add(session: Session, removed: Iterable[_Answer], added: Iterable[_Answer]) -> None:
    """Take ``removed`` out of the rollup and put ``added`` in: additions to its counts."""
    by_position: Counter[tuple] = Counter()
    by_day: Counter[tuple] = Counter()
    for sign, answers_ in ((-1, removed), (1, added)):
        for a in answers_:
            for name, count in (("answered", 1), ("met", a.met), ("autopilot", a.autopilot)):
                by_position[(a.position_id, a.opened_day, a.days, name)] += sign * count
                by_day[(a.opened_day, a.days, name)] += sign * count
    _add_to(session, AnsweredByPosition, ("position_id", "opened_day", "days"), by_position)
    _add_to(session, AnsweredByDay, ("opened_day", "days"), by_day)


def _add_to(session: Session, model, key: tuple[str, ...], change: Counter[tuple]) -> None:
    """Add ``change`` (by key and count name) to the rows of ``model``, in one statement for every
    row: a missing row is inserted with the change as its counts, an existing one has it added
    (INSERT … ON CONFLICT DO UPDATE, so two transactions adding to a new row both add). Rows left
    counting no answer go."""
    rows: dict[tuple, dict[str, int]] = {}
    for (*values, name), count in change.items():
        if count:
            rows.setdefault(tuple(values), dict.fromkeys(_COUNTS, 0))[name] = count
    if not rows:
        return
    add_to_rows(
        session,
        model,
        # In key order: two transactions adding to the same rows lock them in the same order.
        [dict(zip(key, values, strict=True)) | counts for values, counts in sorted(rows.items())],
        key=key,
        counts=_COUNTS,
    )
    if any(counts["answered"] < 0 for counts in rows.values()):
        table = model.__table__
        where = [table.c[name] == bindparam(f"key_{name}") for name in key]
        gone = [{f"key_{n}": v for n, v in zip(key, values, strict=True)} for values in rows]
        session.execute(delete(table).where(*where, table.c.answered <= 0), gone)


# --- the session's flushes ----------------------------------------------------------------


def _changed(obj, names: Sequence[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _answered_or_unknown(wait: Wait) -> bool:
    """The wait is answered, as far as the session knows (not loaded: it may be)."""
    return inspect(wait).dict.get("closed_at", True) is not None


def _maybe_answered(wait: Wait) -> bool:
    """A change of the wait may change what it counts: it is (or was, or may be) answered."""
    if _changed(wait, ("closed_at", "closed_by_event_id")):
        return True
    return _changed(wait, COUNTED) and _answered_or_unknown(wait)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    changing = [w for w in session.dirty if isinstance(w, Wait) and _maybe_answered(w)]
    changing += [w for w in session.deleted if isinstance(w, Wait) and _answered_or_unknown(w)]
    new = [w for w in session.new if isinstance(w, Wait) and w.closed_at is not None]
    moved = [p for p in session.dirty if isinstance(p, Position) and _changed(p, ("time_zone",))]
    if changing or new or moved:
        # The waits as they are, locked: a transaction changing one of them meanwhile waits.
        before = answered_rows(session, [w.id for w in changing], lock=True)
        session.info[_BEFORE] = (before, changing + new, [p.id for p in moved])


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    pending = session.info.pop(_BEFORE, None)
    if pending is None:
        return
    before, waits, moved = pending
    _lock(session, "ROW SHARE")
    basis = built_basis(session)
    if basis is None:
        return  # never built: the page counts everything when it is first shown
    after = answered_rows(session, [w.id for w in waits if w.id is not None])  # the deleted are gone
    add(session, answers(before, basis), answers(after, basis))
    recount_positions(session, moved)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_BEFORE, None)
