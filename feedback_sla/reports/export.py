"""The response-time export: one row per wait, open or closed, streamed from the database in batches.

Columns, in this order (``COLUMNS``; ``--no-pii`` drops the two marked *):

====================  ==================================================================================
wait_id               the wait's id; rows come in ascending wait id
candidate_id          the candidate's id
candidate_name *      the candidate's name
candidate_email *     the candidate's email address
position_id           the position's id
position              the position's title
manager               the hiring manager's email address
reason                why the wait opened: application, decision, follow_up
opened_at             when the wait opened
due_at                its deadline (the policy's business days, or the promised date if earlier)
promised_date         the date the candidate was promised an answer by (a local date), or empty
closed_at             when the candidate heard from us, or empty while the wait is open
closed_by             how they heard: phone, meeting, email, other (a logged contact); interview;
                      the kind of email the outbox sent (rejection, offer, update...); otherwise the
                      kind of the event that closed the wait (e.g. status_changed)
business_days_waited  business days begun between opened_at and closed_at (or now, while open),
                      counted in the position's time zone, skipping weekends and public holidays
hours_waited          elapsed hours between the same two instants, two decimals
outcome               closed: met (closed_at <= due_at) or breached; open: the state now, one of
                      on_track, due_soon, overdue, escalated
====================  ==================================================================================

Timestamps are ISO 8601 with their offset, in the position's time zone (so a deadline reads as the
end of the business day it falls on, e.g. ``2026-12-01T18:00:00-05:00``). Empty values are empty
strings in CSV and ``null`` in JSON and NDJSON.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from .. import clock
from ..accounts.models import User
from ..candidates.models import Candidate, Event, EventKind, Wait
from ..candidates.queries import state_expression
from ..errors import DomainError
from ..output import write_csv
from ..positions.models import Position
from ..settings.service import OrgSettings
from ..timeutil import as_utc, zone
from .period import opened_bounds

COLUMNS: tuple[str, ...] = (
    "wait_id",
    "candidate_id",
    "candidate_name",
    "candidate_email",
    "position_id",
    "position",
    "manager",
    "reason",
    "opened_at",
    "due_at",
    "promised_date",
    "closed_at",
    "closed_by",
    "business_days_waited",
    "hours_waited",
    "outcome",
)

#: Columns that identify a candidate; left out with ``--no-pii``.
PII_COLUMNS: frozenset[str] = frozenset({"candidate_name", "candidate_email"})

#: Rows fetched from the database at a time: memory stays flat whatever the number of waits.
BATCH_SIZE = 5000


class WaitStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@dataclass(frozen=True)
class ExportFilters:
    """Which waits to export; ``since`` and ``until`` are days in the organisation's time zone."""

    since: dt.date | None = None
    until: dt.date | None = None
    manager_id: int | None = None
    position_id: int | None = None
    status: WaitStatus = WaitStatus.ALL


def columns(pii: bool = True) -> tuple[str, ...]:
    return COLUMNS if pii else tuple(c for c in COLUMNS if c not in PII_COLUMNS)


def closed_by_expression():
    """How the candidate heard from us, from the event that closed the wait (NULL while open)."""
    kind = type_coerce(Event.kind, String)
    return case(
        (Event.kind == EventKind.CONTACT_LOGGED, Event.channel),
        (Event.kind == EventKind.INTERVIEW_HELD, literal("interview")),
        (
            Event.kind == EventKind.EMAIL_SENT,
            func.coalesce(Event.data["email_kind"].as_string(), literal("email")),
        ),
        else_=kind,
    )


def outcome_expression(now: dt.datetime, settings: OrgSettings):
    """met or breached for a closed wait; the state at ``now`` for an open one."""
    return case(
        (Wait.closed_at.is_(None), state_expression(now, settings)),
        (Wait.closed_at <= Wait.due_at, literal("met")),
        else_=literal("breached"),
    )


def export_query(now: dt.datetime, settings: OrgSettings, filters: ExportFilters = ExportFilters()) -> Select:
    """Every wait matching ``filters`` with what the export shows of it, in ascending wait id."""
    query = (
        select(
            Wait.id,
            Candidate.id,
            Candidate.name,
            Candidate.email,
            Position.id,
            Position.title,
            User.email,
            type_coerce(Wait.reason, String),
            Wait.opened_at,
            Wait.due_at,
            Wait.promised_date,
            Wait.closed_at,
            closed_by_expression(),
            outcome_expression(now, settings),
            Position.time_zone,
        )
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .join(User, Position.manager_id == User.id)
        .outerjoin(Event, Wait.closed_by_event_id == Event.id)
    )
    start, end = opened_bounds(filters.since, filters.until, settings.time_zone)
    if start is not None:
        query = query.where(Wait.opened_at >= start)
    if end is not None:
        query = query.where(Wait.opened_at < end)
    if filters.manager_id is not None:
        query = query.where(Position.manager_id == filters.manager_id)
    if filters.position_id is not None:
        query = query.where(Position.id == filters.position_id)
    if filters.status == WaitStatus.OPEN:
        query = query.where(Wait.closed_at.is_(None))
    elif filters.status == WaitStatus.CLOSED:
        query = query.where(Wait.closed_at.is_not(None))
    return query.order_by(Wait.id)


def export_rows(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters = ExportFilters(),
    *,
    pii: bool = True,
    batch_size: int = BATCH_SIZE,
) -> Iterator[tuple]:
    """The export's rows as tuples in ``columns(pii)`` order, fetched ``batch_size`` at a time.

    Values are Python values (int, float, str, None); the writers format them.
    """
    now = as_utc(now)
    result = session.execute(
        export_query(now, settings, filters), execution_options={"yield_per": batch_size}
    )
    rows = _Formatter(now, settings.holiday_calendar)
    try:
        for row in result:
            yield rows.format(row, pii)
    finally:
        result.close()


class _Formatter:
    """Turns a query row into an export row; caches zones and business-day counts between rows."""

    #: Distinct (opened day, closed day) pairs remembered; cleared beyond this, so memory stays flat.
    CACHE_LIMIT = 100_000

    def __init__(self, now: dt.datetime, calendar: str):
        self.now = now
        self.calendar = calendar
        self.zones: dict[str, ZoneInfo] = {}
        self.days: dict[tuple[dt.date, dt.date], int] = {}

    def zone(self, name: str, wait_id: int) -> ZoneInfo:
        tz = self.zones.get(name)
        if tz is None:
            try:
                tz = self.zones[name] = zone(name)
            except ValueError as exc:
                raise DomainError(f"wait {wait_id}: its position has an {exc}") from None
        return tz

    def business_days(self, start: dt.date, end: dt.date) -> int:
        key = (start, end)
        days = self.days.get(key)
        if days is None:
            if len(self.days) >= self.CACHE_LIMIT:
                self.days.clear()
            days = self.days[key] = clock.business_days_between(start, end, self.calendar)
        return days

    def format(self, row: Sequence, pii: bool) -> tuple:
        (
            wait_id,
            candidate_id,
            name,
            email,
            position_id,
            title,
            manager,
            reason,
            opened_at,
            due_at,
            promised_date,
            closed_at,
            closed_by,
            outcome,
            time_zone,
        ) = row
        tz = self.zone(time_zone, wait_id)
        end = closed_at if closed_at is not None else self.now
        opened_local = opened_at.astimezone(tz)
        days = self.business_days(opened_local.date(), end.astimezone(tz).date())
        hours = round((end - opened_at).total_seconds() / 3600, 2)
        values = (
            wait_id,
            candidate_id,
            position_id,
            title,
            manager,
            reason,
            opened_local.isoformat(timespec="seconds"),
            due_at.astimezone(tz).isoformat(timespec="seconds"),
            promised_date.isoformat() if promised_date is not None else None,
            closed_at.astimezone(tz).isoformat(timespec="seconds") if closed_at is not None else None,
            closed_by,
            days,
            hours,
            outcome,
        )
        if pii:
            return values[:2] + (name, email) + values[2:]
        return values


def write_json_rows(out: TextIO, names: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """One JSON array of objects, written as the rows arrive."""
    separator = "[\n"
    for row in rows:
        out.write(separator)
        out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
        separator = ",\n"
    out.write("[]\n" if separator == "[\n" else "\n]\n")


def write_ndjson_rows(out: TextIO, names: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """One JSON object per line."""
    for row in rows:
        out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
        out.write("\n")


#: Streaming writers by format. CSV (the shared writer) prefixes text a spreadsheet would run as a
#: formula with ``'``; JSON and NDJSON keep values as they are.
WRITERS = {"csv": write_csv, "json": write_json_rows, "ndjson": write_ndjson_rows}
