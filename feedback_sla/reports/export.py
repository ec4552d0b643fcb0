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

import csv
import datetime as dt
import enum
import io
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Select, String, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..candidates.models import Candidate, Event, EventKind, Wait
from ..candidates.queries import state_expression
from ..errors import DomainError
from ..output import FORMULA_STARTS, csv_safe
from ..positions.models import Position
from ..settings.service import OrgSettings
from ..timeutil import as_utc, zone
from .days import BusinessDays
from .period import opened_bounds
from .utc_text import LocalClock, date_text, hours_between, text_of, utc_text

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

_WITHOUT_PII = operator.itemgetter(*(i for i, c in enumerate(COLUMNS) if c not in PII_COLUMNS))

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


def export_query(
    now: dt.datetime, settings: OrgSettings, filters: ExportFilters = ExportFilters(), *, dialect: str
) -> Select:
    """Every wait matching ``filters`` with what the export shows of it, in ascending wait id.

    Timestamps and the promised date come as UTC text (see ``utc_text``) for the given dialect.
    """
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
            utc_text(Wait.opened_at, dialect),
            utc_text(Wait.due_at, dialect),
            date_text(Wait.promised_date, dialect),
            utc_text(Wait.closed_at, dialect),
            closed_by_expression(),
            hours_between(Wait.opened_at, func.coalesce(Wait.closed_at, now), dialect),
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


def stream_options(dialect: str, batch_size: int = BATCH_SIZE) -> dict:
    """Execution options that read a large result in constant memory.

    SQLite's driver steps through the query as rows are read, so a plain cursor already streams
    (and SQLAlchemy's buffered fetching only slows it down); PostgreSQL needs a server-side cursor,
    read ``batch_size`` rows at a time.
    """
    return {} if dialect == "sqlite" else {"yield_per": batch_size}


def export_rows(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters = ExportFilters(),
    *,
    pii: bool = True,
    empty: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[tuple]:
    """The export's rows as tuples in ``columns(pii)`` order, streamed from the database.

    Values are int, float or str; a missing value (no promised date, not closed yet) is ``empty``.
    The rows come through a plain connection, not as ORM objects.
    """
    now = as_utc(now)
    connection = session.connection()
    dialect = connection.dialect.name
    result = connection.execute(
        export_query(now, settings, filters, dialect=dialect),
        execution_options=stream_options(dialect, batch_size),
    )
    rows = _Formatter(now, settings.holiday_calendar).rows(result, empty)
    try:
        yield from rows if pii else map(_WITHOUT_PII, rows)
    finally:
        result.close()


class _Formatter:
    """Turns query rows into export rows; remembers zones and business-day counts between rows."""

    def __init__(self, now: dt.datetime, calendar: str):
        self.now_text = text_of(now)
        self.clocks: dict[str, tuple[Callable[[str], str], str]] = {}
        self.business_days = BusinessDays(calendar)

    def clock(self, name: str, wait_id: int) -> tuple[Callable[[str], str], str]:
        """The zone's UTC-text-to-local-text function, and the local date now."""
        try:
            local = LocalClock(zone(name))
        except ValueError as exc:
            raise DomainError(f"wait {wait_id}: its position has an {exc}") from None
        entry = self.clocks[name] = (local.iso, local.iso(self.now_text)[:10])
        return entry

    def rows(self, result: Iterable[Sequence], empty: str | None) -> Iterator[tuple]:
        # The loop runs once per wait: locals only, no call that the cache makes unnecessary.
        clocks, business_days = self.clocks, self.business_days
        days_cache = business_days.known
        for (
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
            hours,
            outcome,
            time_zone,
        ) in result:
            iso, today = clocks.get(time_zone) or self.clock(time_zone, wait_id)
            opened = iso(opened_at)
            if closed_at is None:
                closed = closed_by = empty
                key = (opened[:10], today)
            else:
                closed = iso(closed_at)
                key = (opened[:10], closed[:10])
            days = days_cache.get(key)
            if days is None:
                days = business_days(key)
            yield (
                wait_id,
                candidate_id,
                name,
                email,
                position_id,
                title,
                manager,
                reason,
                opened,
                iso(due_at),
                empty if promised_date is None else promised_date,
                closed,
                closed_by,
                days,
                round(hours, 2),
                outcome,
            )


#: Columns holding text a person or another system typed: the only ones a spreadsheet could take for
#: a formula, or that may hold a comma, a quote or a line break. The others are numbers, dates and
#: fixed words.
TEXT_COLUMNS = frozenset({"candidate_name", "candidate_email", "position", "manager", "closed_by"})

#: A text column starting like a formula, found in the text columns each preceded by NUL.
_FORMULA_MARK = re.compile("\x00[" + re.escape("".join(FORMULA_STARTS)) + "]")
_LINES_PER_WRITE = 1000


def write_csv_rows(out: TextIO, names: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """CSV with a header line; text that starts like a formula gets a leading ``'`` (``csv_safe``).

    Missing values must come as empty strings. Most rows need neither quoting nor a prefix: those
    are formatted directly; the rest go through the ``csv`` module.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    text_of_row = operator.itemgetter(*(i for i, name in enumerate(names) if name in TEXT_COLUMNS))
    line = ",".join(["%s"] * len(names)) + "\n"
    formula = _FORMULA_MARK.search
    buffer = io.StringIO()
    careful = csv.writer(buffer, lineterminator="\n")
    lines: list[str] = []
    for row in rows:
        text = "\x00" + "\x00".join(text_of_row(row))
        # Scans for one character, and a pattern with a literal start: cheaper than csv.writer.
        if '"' in text or "," in text or "\n" in text or "\r" in text or formula(text):
            careful.writerow([csv_safe(v) for v in row])
            lines.append(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
        else:
            lines.append(line % row)
        if len(lines) >= _LINES_PER_WRITE:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


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


def write_export(
    out: TextIO,
    fmt: str,
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters = ExportFilters(),
    *,
    pii: bool = True,
) -> None:
    """Write the export to ``out`` as csv, json or ndjson, row by row."""
    rows = export_rows(session, now, settings, filters, pii=pii, empty="" if fmt == "csv" else None)
    _WRITERS[fmt](out, columns(pii), rows)


#: Streaming writers by format. Only CSV prefixes text a spreadsheet would run as a formula with ``'``;
#: JSON and NDJSON keep values as they are.
_WRITERS = {"csv": write_csv_rows, "json": write_json_rows, "ndjson": write_ndjson_rows}
FORMATS: tuple[str, ...] = tuple(_WRITERS)
