from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from feedback_sla.candidates import importer
from feedback_sla.candidates.models import Status
from feedback_sla.cli.common import refusing, user_named_by
from feedback_sla.database import db
from feedback_sla.my_data import service as my_data
from feedback_sla.output import WRITERS
from feedback_sla.retention import service as retention
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import iso, utcnow
from feedback_sla.waits import importing
from feedback_sla.waits.queries import Filters, waiting

candidates = AppGroup("candidates", help="Import, list, erase and export candidates.")

LIST_COLUMNS = (
    "candidate",
    "email",
    "position",
    "manager",
    "stage",
    "reason",
    "opened_at",
    "due_at",
    "business_days_waited",
    "state",
    "follow_ups",
)


@candidates.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path):
    """Import candidates from a CSV file; one bad row means nothing is imported.

    Columns: name,email,position,manager_email,stage,applied_at and optionally
    interview_at,promised_by,time_zone,language. Dates without an offset are in the position's
    time zone; a language is one of the organisation's (empty: its default).
    """
    try:
        settings = settings_service.load(db.session)
        rows = importer.read_rows(db.session, file.read_bytes(), utcnow(), languages=settings.languages)
        result = importing.import_rows(db.session, rows, settings)
        db.session.commit()
    except importer.CsvImportError as exc:
        db.session.rollback()
        for error in exc.errors:
            click.echo(f"{file}: {error}", err=True)
        raise click.ClickException(f"nothing imported: {len(exc.errors)} problem(s) in {file}") from None
    except BaseException:
        db.session.rollback()
        raise
    click.echo(
        f"imported {result.candidates} candidate(s); "
        f"{result.decision_waits} awaiting a decision after interview"
    )
    for title in result.positions_created:
        click.echo(f"created position {title!r}")


@candidates.command("list")
@click.option("--overdue", is_flag=True, help="Only waits past their deadline.")
@click.option("--manager", "manager_email", help="Only this hiring manager's candidates.")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def list_command(overdue: bool, manager_email: str | None, fmt: str):
    """List candidates waiting for an answer, most urgent first."""
    manager_id = None
    if manager_email:
        manager = user_named_by(manager_email, "--manager")
        manager_id = manager.id
    settings = settings_service.load(db.session)
    now = utcnow()
    rows = waiting(db.session, now, settings, Filters(manager_id=manager_id, overdue_only=overdue))
    table = [
        (
            r.candidate,
            r.email,
            r.position,
            r.manager,
            r.stage,
            r.reason.value,
            iso(r.opened_at, r.time_zone),
            iso(r.due_at, r.time_zone),
            r.business_days_waited,
            r.state.value,
            r.follow_ups,
        )
        for r in rows
    ]
    WRITERS[fmt](sys.stdout, LIST_COLUMNS, table)


@candidates.command("erase")
@click.argument("candidate_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--reason", default="on request", show_default=True, help="Why, recorded on the timeline.")
def erase_command(candidate_id: int, yes: bool, reason: str):
    """Erase one candidate's personal data (name, address, notes, feedback, emails' texts, status
    links); the waits stay, so reports still count them."""
    candidate = refusing(lambda: retention.candidate_by_id(db.session, candidate_id))
    request = refusing(lambda: retention.request_by("command line", reason))
    if candidate.erased_at is not None:
        click.echo(f"candidate {candidate_id} was erased on {iso(candidate.erased_at)}: nothing to do")
        return
    if not yes:
        still_in = candidate.status in (Status.ACTIVE, Status.OFFERED)
        withdrawn = f" They are {candidate.status.value}: erasing withdraws them." if still_in else ""
        click.confirm(
            f"Erase the personal data of candidate {candidate_id}?{withdrawn} It cannot be undone", abort=True
        )
    try:
        retention.erase(db.session, candidate, utcnow(), request)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    click.echo(f"erased candidate {candidate_id}")


@candidates.command("export-data")
@click.argument("candidate_id", type=int)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the JSON file here (default: standard output).",
)
def export_data_command(candidate_id: int, output: Path | None):
    """Everything held about one candidate, as JSON (what "Download my data" gives them); the
    export goes on their timeline."""
    now = utcnow()

    def door():
        candidate = my_data.find(db.session, candidate_id)
        document = my_data.document(db.session, candidate, now)
        my_data.record(db.session, candidate, now, my_data.Requester.OPERATOR)
        return document

    document = refusing(door)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    try:  # written first, then the export recorded: a file that could not be written is no export
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
        db.session.commit()
    except OSError as exc:
        db.session.rollback()
        raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    except BaseException:
        db.session.rollback()
        raise
    if output is not None:
        click.echo(f"wrote candidate {candidate_id}'s data to {output}", err=True)
