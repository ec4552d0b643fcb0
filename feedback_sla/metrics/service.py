"""Figures for the metrics page, for the waits opened in a period.

Besides the summary per manager or position and its total (``reports.summary``: the waits, the
answers, business days to answer and the share in time), the page shows:

- per week (Monday to Sunday, by the day the wait opened in the organisation's time zone), the
  share of the decided waits answered within the deadline, with the same meaning of "decided" as
  the summary: answered, or still open past the deadline;
- the open waits by state now, whenever they opened (a backlog is not limited to a period).

The answered waits are counted once, as they are answered (``rollup``); the page reads those
counts and the open waits' counts the database keeps (``counts``, ``open_counts``), a page of
groups at a time: what a request costs does not grow with the managers, positions, weeks or
waits. ``from_scratch`` counts the
same figures from the waits themselves (``figures``): the tests hold the page to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate
from feedback_sla.errors import DomainError
from feedback_sla.metrics import counts, figures, rollup
from feedback_sla.positions.models import Position
from feedback_sla.reports.summary import GroupBy, GroupSummary, total
from feedback_sla.timeutil import as_utc, parse_date
from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import state_expression

#: The period shown when none is asked for: this week and the 11 before it.
DEFAULT_WEEKS = 12
#: The longest period the page charts week by week (a year touches at most 53 weeks).
MAX_WEEKS = 53
#: Answers that took this many business days or more share the histogram's last bar.
DAYS_CAP = 10
ONE_WEEK = dt.timedelta(weeks=1)


#: Hiring managers a search offers at most.
MANAGER_MATCHES = 20


class FilterError(DomainError):
    """A filter in the address that cannot be used; ``field`` names it, ``choices`` are the
    hiring managers a search found when it found several."""

    def __init__(self, field_name: str, message: str, choices: Sequence[ManagerOption] = ()):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.reason = message
        self.choices = tuple(choices)


@dataclass(frozen=True)
class MetricsFilters:
    """Waits opened from ``since`` through ``until`` (days in the organisation's time zone).

    ``manager_id`` limits every figure to that manager's positions; None means everyone's.
    ``page`` is the page of the summary's groups.
    """

    since: dt.date
    until: dt.date
    by: GroupBy = GroupBy.MANAGER
    manager_id: int | None = None
    page: int = 1

    @property
    def weeks(self) -> list[dt.date]:
        """The Monday of every week the period touches, in order."""
        first, last = week_start(self.since), week_start(self.until)
        return [first + ONE_WEEK * i for i in range((last - first).days // 7 + 1)]


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last ``DEFAULT_WEEKS`` weeks: from the Monday 11 weeks before this one through today."""
    return week_start(today) - ONE_WEEK * (DEFAULT_WEEKS - 1), today


def parse_filters(
    args: Mapping[str, str],
    today: dt.date,
    *,
    own_manager_id: int | None = None,
    manager_ids: Container[int] = (),
    find_manager: Callable[[str], ManagerOption] | None = None,
) -> MetricsFilters:
    """Filters from the page's query arguments; FilterError names the argument that is wrong.

    A manager (``own_manager_id`` given) always sees their own figures and the ``manager``
    argument is ignored; an admin may name a hiring manager, found by ``find_manager`` (an id, an
    email, or the start of a name or email), or without it one of ``manager_ids`` by id; nobody
    for everyone.
    """
    since = _date(args, "since")
    until = _date(args, "until")
    if until is None:
        until = today if since is None else max(today, since)
    if since is None:
        since = default_period(until)[0]
    if until < since:
        raise FilterError("until", f"{until.isoformat()} is before since ({since.isoformat()})")
    by_text = (args.get("by") or GroupBy.MANAGER.value).strip()
    if by_text not in {b.value for b in GroupBy}:
        raise FilterError("by", f"{by_text!r} is not one of {', '.join(b.value for b in GroupBy)}")
    page_text = (args.get("page") or "1").strip()
    if not page_text.isdigit() or int(page_text) < 1:
        raise FilterError("page", f"{page_text!r} is not a page number (1, 2, …)")
    filters = MetricsFilters(since, until, GroupBy(by_text), own_manager_id, int(page_text))
    if len(filters.weeks) > MAX_WEEKS:
        raise FilterError(
            "since",
            f"the period from {since.isoformat()} to {until.isoformat()} touches "
            f"{len(filters.weeks)} weeks; the page shows at most {MAX_WEEKS} "
            "(feedback-sla report covers any period)",
        )
    manager = (args.get("manager") or "").strip()
    if own_manager_id is None and manager:
        if find_manager is not None:
            manager_id = find_manager(manager).id
        elif manager.isdigit() and int(manager) in manager_ids:
            manager_id = int(manager)
        else:
            raise FilterError("manager", f"no hiring manager with id {manager!r}")
        filters = dataclasses.replace(filters, manager_id=manager_id)
    return filters


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError as exc:
        raise FilterError(name, str(exc)) from None


@dataclass(frozen=True)
class ManagerOption:
    id: int
    name: str
    email: str
    active: bool


def _managers():
    """Everyone who manages a position (or did: disabled users keep their history), by name."""
    has_position = exists().where(Position.manager_id == User.id)
    return (
        select(User.id, User.name, User.email, User.active).where(has_position).order_by(User.name, User.id)
    )


def managers_matching(session: Session, text: str, limit: int = MANAGER_MATCHES) -> list[ManagerOption]:
    """Hiring managers whose name or email starts with ``text`` (any case), at most ``limit``, by
    name; without a text, the first by name."""
    query = _managers().limit(limit)
    text = text.strip().lower()
    if text:
        query = query.where(
            or_(
                func.lower(User.name).startswith(text, autoescape=True),
                func.lower(User.email).startswith(text, autoescape=True),
            )
        )
    return [ManagerOption(*row) for row in session.execute(query)]


def manager_by_id(session: Session, manager_id: int) -> ManagerOption | None:
    row = session.execute(_managers().where(User.id == manager_id)).first()
    return None if row is None else ManagerOption(*row)


def find_manager(session: Session, text: str) -> ManagerOption:
    """The hiring manager ``text`` names: their id, their email or name, or the start of one name or
    email. FilterError when it names nobody, or several (offering up to ``MANAGER_MATCHES``)."""
    text = text.strip()
    if text.isdigit() and (found := manager_by_id(session, int(text))) is not None:
        return found
    for column in (User.email, User.name):
        rows = session.execute(_managers().where(func.lower(column) == text.lower()).limit(2)).all()
        if len(rows) == 1:
            return ManagerOption(*rows[0])
    matches = managers_matching(session, text, MANAGER_MATCHES + 1)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FilterError(
            "manager", f"no hiring manager with id {text!r}, nor one whose name or email starts with it"
        )
    several = f"more than {MANAGER_MATCHES}" if len(matches) > MANAGER_MATCHES else str(len(matches))
    raise FilterError(
        "manager",
        f"{several} hiring managers have a name or email starting with {text!r}: type more of it, "
        "or pick one",
        matches[:MANAGER_MATCHES],
    )


@dataclass(frozen=True)
class WeekShare:
    """The waits opened in one week: how many, how many are decided, how many of those in time."""

    week: dt.date
    waits: int = 0
    decided: int = 0
    met: int = 0

    @property
    def share(self) -> float | None:
        return self.met / self.decided if self.decided else None


def weekly_shares(
    session: Session, now: dt.datetime, settings: OrgSettings, filters: MetricsFilters
) -> list[WeekShare]:
    """Per week of the period, the waits opened, how many are decided, how many of those in time."""
    counts = figures.weekly_counts(session, now, settings, filters.since, filters.until, filters.manager_id)
    return [WeekShare(week, *counts.get(week, ())) for week in filters.weeks]


def histogram(days: Counter[int]) -> list[tuple[str, int]]:
    """(label, count) for 0, 1, … business days, the last bar counting ``DAYS_CAP`` or more."""
    bars = [(str(d), days.get(d, 0)) for d in range(DAYS_CAP)]
    capped = sum(count for d, count in days.items() if d >= DAYS_CAP)
    return [*bars, (f"{DAYS_CAP}+", capped)]


def open_by_state(
    session: Session, now: dt.datetime, settings: OrgSettings, manager_id: int | None = None
) -> dict[State, int]:
    """Every wait open at ``now`` by its state, most urgent first; counted in SQL."""
    state = state_expression(as_utc(now), settings).label("state")
    inner = select(state).select_from(Wait).where(Wait.closed_at.is_(None))
    if manager_id is not None:
        inner = (
            inner.join(Candidate, Wait.candidate_id == Candidate.id)
            .join(Position, Candidate.position_id == Position.id)
            .where(Position.manager_id == manager_id)
        )
    states = inner.subquery()
    counts = dict(session.execute(select(states.c.state, func.count()).group_by(states.c.state)).all())
    return {s: counts.get(s.value, 0) for s in State}


@dataclass(frozen=True)
class Metrics:
    filters: MetricsFilters
    #: The groups of this page of the summary.
    groups: list[GroupSummary]
    #: Every group taken together: the table's last line and the histogram's figures.
    totals: GroupSummary
    weeks: list[WeekShare]
    open_states: dict[State, int]
    #: The groups with a wait in the period, on every page, and the pages they fill.
    group_count: int = 0
    page: int = 1
    pages: int = 1

    def histogram(self) -> list[tuple[str, int]]:
        return histogram(self.totals.days)


def metrics(session: Session, now: dt.datetime, settings: OrgSettings, filters: MetricsFilters) -> Metrics:
    """Everything the page shows; the rollup is counted again first if the settings it was counted
    with changed (the caller commits)."""
    rollup.current(session, settings)
    period = counts.period_of(filters.since, filters.until, settings)
    totals = counts.totals(session, now, settings, period, filters.manager_id)
    listed = counts.group_page(
        session, now, period, filters.by, filters.manager_id, filters.page, totals.open_in_period
    )
    return Metrics(
        filters=filters,
        groups=listed.lines,
        totals=totals.line,
        weeks=[WeekShare(week, *totals.weeks.get(week, ())) for week in filters.weeks],
        open_states=totals.open_states,
        group_count=listed.total,
        page=listed.page,
        pages=listed.pages,
    )


def from_scratch(
    session: Session, now: dt.datetime, settings: OrgSettings, filters: MetricsFilters
) -> Metrics:
    """The page's figures counted from the waits themselves, every group on one page: what
    ``metrics`` must show (its groups are a page of these)."""
    groups = figures.group_summaries(
        session, now, settings, filters.since, filters.until, filters.by, filters.manager_id
    )
    return Metrics(
        filters=filters,
        groups=groups,
        totals=total(groups),
        weeks=weekly_shares(session, now, settings, filters),
        open_states=open_by_state(session, now, settings, filters.manager_id),
        group_count=len(groups),
    )
