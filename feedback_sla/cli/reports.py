"""``feedback-sla export response-times`` and ``feedback-sla report``: thin callers of the reports."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from feedback_sla.cli.appcontext import with_data_app
from feedback_sla.cli.common import refusing, user_named_by
from feedback_sla.database import db
from feedback_sla.output import WRITERS as TABLE_WRITERS
from feedback_sla.positions.models import Position
from feedback_sla.reports import export as export_module
from feedback_sla.reports import parts
from feedback_sla.reports.period import PeriodError, opened_bounds
from feedback_sla.reports.summary import GroupBy, GroupSummary, summarize
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import parse_date, utcnow

export = click.Group("export", help="Export data for use elsewhere.")


class IsoDate(click.ParamType):
    """A calendar day written as ISO 8601 (2026-11-20)."""

    name = "DATE"

    def convert(self, value, param, ctx) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return parse_date(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _period_options(command):
    command = click.option(
        "--until",
        type=IsoDate(),
        help="Only waits opened on or before this day (organisation time zone).",
    )(command)
    return click.option(
        "--since",
        type=IsoDate(),
        help="Only waits opened on or after this day (organisation time zone).",
    )(command)


def _check_period(since: dt.date | None, until: dt.date | None, time_zone: str) -> None:
    try:
        opened_bounds(since, until, time_zone)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--until'") from None


def _manager_id(email: str | None) -> int | None:
    if email is None:
        return None
    manager = user_named_by(email, "--manager")
    return manager.id


@contextlib.contextmanager
def _destination(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or ``path`` written whole or not at all (a temporary file, then a rename)."""
    if path is None:
        yield sys.stdout
        return
    if not path.parent.is_dir():
        raise click.BadParameter(f"folder {path.parent} does not exist", param_hint="'--output'")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@export.command("response-times")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export_module.FORMATS),
    default="csv",
    show_default=True,
)
@_period_options
@click.option("--manager", "manager_email", metavar="EMAIL", help="Only this hiring manager's waits.")
@click.option("--position", "position_id", type=int, metavar="ID", help="Only this position's waits.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in export_module.WaitStatus]),
    default="all",
    show_default=True,
    help="Open waits, closed waits, or both.",
)
@click.option("--no-pii", is_flag=True, help="Leave out candidate names and email addresses.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help=(
        "Processes writing a CSV or NDJSON export at once, each a range of waits, joined in order "
        f"[default: one per CPU, at most {parts.AUTOMATIC_MOST}, from {parts.AUTOMATIC_FROM:,} "
        "waits up; otherwise 1]."
    ),
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (replaced only once the export is complete) instead of standard output.",
)
@with_data_app
def response_times_command(fmt, since, until, manager_email, position_id, status, no_pii, jobs, output):
    """One row per wait, open or closed: when it opened, its deadline, when and how the
    candidate heard from us, business days and hours waited, met or breached.

    Timestamps are ISO 8601 in the position's time zone. Rows stream from the database, so any
    number of waits fits in memory.
    """
    if position_id is not None and db.session.get(Position, position_id) is None:
        raise click.BadParameter(f"no position with id {position_id}", param_hint="'--position'")
    filters = export_module.ExportFilters(
        since=since,
        until=until,
        manager_id=_manager_id(manager_email),
        position_id=position_id,
        status=export_module.WaitStatus(status),
    )
    settings = settings_service.load(db.session)
    _check_period(since, until, settings.time_zone)

    def write() -> None:
        with _destination(output) as out:  # a refused export leaves no file behind
            parts.write_export_in_parts(
                out, fmt, db.session, utcnow(), settings, filters, pii=not no_pii, jobs=jobs
            )

    try:
        refusing(write)
    finally:
        db.session.rollback()  # an export writes nothing


def _report_rows(groups: list[GroupSummary], by: GroupBy) -> tuple[tuple[str, ...], list[tuple]]:
    figures = ("waits", "answered", "median_days", "p90_days", "within_deadline_pct")
    figures += ("open_now", "overdue_now", "by_autopilot")
    if by == GroupBy.MANAGER:
        names = ("manager", *figures)
    else:
        names = ("position_id", "position", "manager", *figures)
    rows = []
    for g in groups:
        share = None if g.within_deadline is None else round(100 * g.within_deadline, 1)
        values = (g.waits, g.answered, g.median_days, g.p90_days, share, g.open_now, g.overdue_now)
        values += (g.by_autopilot,)
        key = (g.group,) if by == GroupBy.MANAGER else (g.group_id, g.group, g.manager)
        rows.append(key + values)
    return names, rows


@click.command("report")
@_period_options
@click.option(
    "--by",
    type=click.Choice([b.value for b in GroupBy]),
    default="manager",
    show_default=True,
    help="One line per hiring manager or per position.",
)
@click.option("--format", "fmt", type=click.Choice(list(TABLE_WRITERS)), default="table", show_default=True)
@with_data_app
def report_command(since, until, by, fmt):
    """Response times per manager or position, for waits opened in the period.

    waits opened; answered; median and 90th-percentile business days to answer (nearest rank);
    percentage of decided waits answered within the deadline (decided: answered, or open past
    the deadline); open now; overdue now; answered by an update autopilot sent.
    """
    group_by = GroupBy(by)
    settings = settings_service.load(db.session)
    _check_period(since, until, settings.time_zone)
    try:
        groups = refusing(lambda: summarize(db.session, utcnow(), settings, since, until, group_by))
    finally:
        db.session.rollback()  # a report writes nothing
    names, rows = _report_rows(groups, group_by)
    TABLE_WRITERS[fmt](sys.stdout, names, rows)
