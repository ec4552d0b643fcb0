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
due_at                its deadline: the date promised to the candidate, else the policy's business days
promised_date         the date the candidate was promised an answer by (a local date), or empty
closed_at             when the candidate heard from us, or empty while the wait is open
closed_by             how they heard: phone, meeting, email, other (a logged contact); interview;
                      the kind of email the outbox sent (rejection, offer, update...), or
                      autopilot for an update autopilot sent; otherwise the
                      kind of the event that closed the wait (e.g. status_changed); ats_rejection
                      or ats_hire for a decision recorded in the applicant tracking system
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
import itertools
import json
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import Select, String, and_, case, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event, EventKind
from feedback_sla.output import FORMULA_STARTS, csv_safe
from feedback_sla.positions.models import Position
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.rows import RowFormatter
from feedback_sla.reports.utc_text import date_text, hours_between, use_iso_date_style, utc_text
from feedback_sla.timeutil import as_utc
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import state_expression

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
    #: The first and last wait id, both included: one part of an export written in parts.
    wait_ids: tuple[int, int] | None = None


def columns(pii: bool = True) -> tuple[str, ...]:
    return COLUMNS if pii else tuple(c for c in COLUMNS if c not in PII_COLUMNS)


def autopilot_sent(event=Event):
    """The event (``Event`` or an alias of it) is the sending of an update autopilot queued."""
    return and_(event.kind == EventKind.EMAIL_SENT, event.data["autopilot"].as_boolean().is_(True))


def closed_by_expression():
    """How the candidate heard from us, from the event that closed the wait (NULL while open)."""
    kind = type_coerce(Event.kind, String)
    return case(
        (autopilot_sent(), literal("autopilot")),
        (Event.kind == EventKind.CONTACT_LOGGED, Event.channel),
        (Event.kind == EventKind.INTERVIEW_HELD, literal("interview")),
        (
            Event.kind == EventKind.EMAIL_SENT,
            func.coalesce(Event.data["email_kind"].as_string(), literal("email")),
        ),
        # A decision recorded in the ATS names itself: ats_rejection, ats_hire.
        (Event.kind == EventKind.STATUS_CHANGED, func.coalesce(Event.data["closed_by"].as_string(), kind)),
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
    now: dt.datetime,
    settings: OrgSettings,
    filters: ExportFilters = ExportFilters(),
    *,
    dialect: str,
    empty: str | None = None,
    iso_date_style: bool = False,
) -> Select:
    """Every wait matching ``filters`` with what the export shows of it, in ascending wait id.

    Timestamps and the promised date come as UTC text (see ``utc_text``) for the given dialect;
    with ``iso_date_style`` the statement must run under DateStyle ISO (``use_iso_date_style``).
    The position's title, manager and zone are not repeated on every row: ``rows.positions_query``.
    A closed wait that names no closing event (the schema allows it), or was closed by a contact
    logged without a channel, has ``empty`` for how the candidate heard.
    """
    opened_at, due_at, closed_at = (
        utc_text(column, dialect, iso_date_style=iso_date_style)
        for column in (Wait.opened_at, Wait.due_at, Wait.closed_at)
    )
    closed_by = closed_by_expression()
    if empty is not None:
        closed_by = func.coalesce(closed_by, literal(empty))
    query = select(
        Wait.id,
        Candidate.id,
        Candidate.name,
        Candidate.email,
        Candidate.position_id,
        type_coerce(Wait.reason, String),
        opened_at,
        due_at,
        date_text(Wait.promised_date, dialect),
        closed_at,
        closed_by,
        hours_between(Wait.opened_at, func.coalesce(Wait.closed_at, now), dialect),
        outcome_expression(now, settings),
    ).join(Candidate, Wait.candidate_id == Candidate.id)
    query = query.outerjoin(Event, Wait.closed_by_event_id == Event.id)
    start, end = opened_bounds(filters.since, filters.until, settings.time_zone)
    if start is not None:
        query = query.where(Wait.opened_at >= start)
    if end is not None:
        query = query.where(Wait.opened_at < end)
    if filters.manager_id is not None:
        managed = select(Position.id).where(Position.manager_id == filters.manager_id)
        query = query.where(Candidate.position_id.in_(managed))
    if filters.position_id is not None:
        query = query.where(Candidate.position_id == filters.position_id)
    if filters.wait_ids is not None:
        query = query.where(Wait.id.between(*filters.wait_ids))
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
    formatter = RowFormatter(connection, now, settings.holiday_calendar)
    use_iso_date_style(connection)
    if dialect == "postgresql":
        # The plan streams index lookups, row after row: compiling it to machine code (JIT, which
        # its estimated cost would trigger) costs the server more than it saves.
        connection.exec_driver_sql("SET LOCAL jit = off")
    query = export_query(now, settings, filters, dialect=dialect, empty=empty, iso_date_style=True)
    result = connection.execute(query, execution_options=stream_options(dialect, batch_size))
    rows = formatter.rows(result, empty)
    try:
        yield from rows if pii else map(_WITHOUT_PII, rows)
    finally:
        result.close()


#: Columns holding text a person or another system typed: the only ones a spreadsheet could take for
#: a formula, or that may hold a comma, a quote or a line break. The others are numbers, dates and
#: fixed words.
TEXT_COLUMNS = frozenset({"candidate_name", "candidate_email", "position", "manager", "closed_by"})

#: A text column starting like a formula, found in the text columns each preceded by NUL.
_FORMULA_MARK = re.compile("\x00[" + re.escape("".join(FORMULA_STARTS)) + "]")
#: Rows checked and written at a time.
_ROWS_PER_WRITE = 500


def _plain(text: str) -> bool:
    """Text columns joined, each preceded by NUL, need neither quoting nor a formula prefix.

    Scans for one character, and a pattern with a literal start: cheaper than csv.writer.
    """
    return not ('"' in text or "," in text or "\n" in text or "\r" in text or _FORMULA_MARK.search(text))


def write_csv_rows(
    out: TextIO, names: Sequence[str], rows: Iterable[Sequence[object]], *, header: bool = True
) -> None:
    """CSV with a header line; text that starts like a formula gets a leading ``'`` (``csv_safe``).

    Missing values must come as empty strings. Most rows need neither quoting nor a prefix: they
    are checked and formatted ``_ROWS_PER_WRITE`` at a time (the loops run inside ``join`` and
    ``map``, not row by row in Python); a group with any other row goes row by row, that row
    through the ``csv`` module.
    """
    if header:
        csv.writer(out, lineterminator="\n").writerow(names)
    text_of_row = operator.itemgetter(*(i for i, name in enumerate(names) if name in TEXT_COLUMNS))
    line = ",".join(["%s"] * len(names)) + "\n"
    careful = csv.writer(out, lineterminator="\n")
    rows = iter(rows)
    while group := list(itertools.islice(rows, _ROWS_PER_WRITE)):
        if _plain("\x00" + "\x00".join(map("\x00".join, map(text_of_row, group)))):
            out.write("".join(map(line.__mod__, group)))
            continue
        for row in group:
            if _plain("\x00" + "\x00".join(text_of_row(row))):
                out.write(line % row)
            else:
                careful.writerow([csv_safe(v) for v in row])


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
    header: bool = True,
) -> None:
    """Write the export to ``out`` as csv, json or ndjson, row by row.

    ``header=False`` leaves out the CSV header line: a part that follows another.
    """
    rows = export_rows(session, now, settings, filters, pii=pii, empty="" if fmt == "csv" else None)
    if fmt == "csv":
        write_csv_rows(out, columns(pii), rows, header=header)
    elif fmt == "ndjson":
        write_ndjson_rows(out, columns(pii), rows)
    else:
        write_json_rows(out, columns(pii), rows)


#: Only CSV prefixes text a spreadsheet would run as a formula with ``'``; JSON and NDJSON keep
#: values as they are.
FORMATS: tuple[str, ...] = ("csv", "json", "ndjson")
#: Formats written one line per wait, so that parts written apart join into one export.
LINE_FORMATS: frozenset[str] = frozenset({"csv", "ndjson"})
