"""Candidate pages: details, timeline, the open wait, every action, adding and importing.

Each action validates its form, calls one domain function, commits once and says what happened.
Refused input re-renders the page with the reason and a 4xx status; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields import SelectChoice

from feedback_sla.candidates import importer
from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import UTC, local_date, utcnow, zone
from feedback_sla.waits import clock, service
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import open_wait_of
from feedback_sla.waits.wording import due_phrase
from feedback_sla.web.access import candidate_or_404, safe_next, scope_positions, viewer
from feedback_sla.web.candidates import bp
from feedback_sla.web.candidates.forms import (
    CHANNEL_LABELS,
    IMPORT_LIMIT_BYTES,
    ContactForm,
    DetailsForm,
    ImportForm,
    NewCandidateForm,
    NoteForm,
    StageForm,
    WithdrawForm,
)
from feedback_sla.web.candidates.page import render_candidate
from feedback_sla.web.filters import local_time
from feedback_sla.web.forms import PromiseForm, ReturnForm, errors_text


@bp.get("/<int:candidate_id>")
@login_required
def show(candidate_id: int):
    return render_candidate(candidate_or_404(candidate_id))


# --- actions -----------------------------------------------------------------------------------


def _act(
    candidate_id: int,
    form_name: str,
    form: ReturnForm,
    action: Callable[[Candidate, dt.datetime, OrgSettings], str],
):
    """Validate, act, commit once, say what happened; or show the page again with the reason."""
    candidate = candidate_or_404(candidate_id)
    if not form.validate_on_submit():
        flash(f"Nothing was saved. {errors_text(form)}", "danger")
        return render_candidate(candidate, 422, **{form_name: form})
    try:
        message = action(candidate, utcnow(), settings_service.load(db.session))
    except DomainError as exc:
        db.session.rollback()
        flash(f"Nothing was saved: {exc}", "danger")
        return render_candidate(candidate_or_404(candidate_id), 409, **{form_name: form})
    db.session.commit()
    flash(message, "success")
    return redirect(safe_next(form.next.data) or url_for("candidates.show", candidate_id=candidate_id))


def _due(wait: Wait, now: dt.datetime, candidate: Candidate, settings: OrgSettings) -> str:
    phrase = due_phrase(wait.due_at, now, candidate.position.time_zone, settings)
    return f"{phrase} ({local_time(wait.due_at)})"


@bp.post("/<int:candidate_id>/stage")
@login_required
def move_stage(candidate_id: int):
    form = StageForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        before, status_before = candidate.stage, candidate.status
        cancelled = service.move_stage(db.session, candidate, form.stage.data, now, viewer())
        message = (
            f"Moved {candidate.name} from {before} to {candidate.stage}. A stage move is internal: "
            "the candidate was not told, and any open wait stays open."
        )
        if cancelled and candidate.status != status_before:
            message += (
                f" The queued {cancelled[0].kind.label} was cancelled: {candidate.name} is "
                f"{candidate.status.value} again."
            )
        return message

    return _act(candidate_id, "stage_form", form, act)


@bp.post("/<int:candidate_id>/interview")
@login_required
def interview_held(candidate_id: int):
    form = ReturnForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        wait = service.interview_held(db.session, candidate, now, settings, viewer())
        return (
            f"Interview with {candidate.name} recorded. A decision is owed, "
            f"{_due(wait, now, candidate, settings)}."
        )

    return _act(candidate_id, "action_form", form, act)


@bp.post("/<int:candidate_id>/followed-up")
@login_required
def followed_up(candidate_id: int):
    form = ReturnForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        wait = service.followed_up(db.session, candidate, now, settings, viewer())
        if wait.follow_ups == 0:
            return (
                f"{candidate.name} asked for news. A reply is owed, {_due(wait, now, candidate, settings)}."
            )
        times = "once" if wait.follow_ups == 1 else f"{wait.follow_ups} times"
        message = f"{candidate.name} followed up ({times} during this wait)."
        if clock.state(wait, now, settings) == clock.State.ESCALATED:
            message += " The wait is escalated."
        return message

    return _act(candidate_id, "action_form", form, act)


@bp.post("/<int:candidate_id>/contact")
@login_required
def log_contact(candidate_id: int):
    form = ContactForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        was_waiting = open_wait_of(db.session, candidate) is not None
        service.log_contact(db.session, candidate, form.channel.data, now, viewer(), note=form.note.data)
        how = CHANNEL_LABELS[form.channel.data].lower()
        if was_waiting:
            return f"Logged contact with {candidate.name} ({how}): their wait is closed."
        return f"Logged contact with {candidate.name} ({how}). Nobody was waiting for an answer."

    return _act(candidate_id, "contact_form", form, act)


@bp.post("/<int:candidate_id>/promise")
@login_required
def set_promise(candidate_id: int):
    candidate = candidate_or_404(candidate_id)
    form = PromiseForm(today=local_date(utcnow(), candidate.position.time_zone))

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        wait = service.set_promise(db.session, candidate, form.promised_date.data, now, settings, viewer())
        if wait.promised_date is None:
            return f"Cleared the promised date for {candidate.name}; {_due(wait, now, candidate, settings)}."
        return (
            f"Promised {candidate.name} an answer by {wait.promised_date:%a %d %b %Y}; "
            f"{_due(wait, now, candidate, settings)}."
        )

    return _act(candidate_id, "promise_form", form, act)


@bp.post("/<int:candidate_id>/note")
@login_required
def add_note(candidate_id: int):
    form = NoteForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        service.add_note(db.session, candidate, form.body.data, now, viewer())
        return (
            f"Note added to {candidate.name}'s timeline. Notes are internal: "
            "the candidate heard nothing, so any open wait stays open."
        )

    return _act(candidate_id, "note_form", form, act)


@bp.post("/<int:candidate_id>/withdraw")
@login_required
def withdraw(candidate_id: int):
    form = WithdrawForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        service.withdraw(db.session, candidate, now, viewer(), form.reason.data)
        return (
            f"{candidate.name} is withdrawn. Nobody owes them an answer now: "
            "any open wait is closed and they leave the triage page."
        )

    return _act(candidate_id, "withdraw_form", form, act)


@bp.route("/<int:candidate_id>/edit", methods=["GET", "POST"])
@login_required
def edit(candidate_id: int):
    candidate = candidate_or_404(candidate_id)
    form = DetailsForm(obj=candidate)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                service.update_details(db.session, candidate, form.name.data, form.email.data)
                db.session.commit()
            except candidates.DuplicateCandidate as exc:
                db.session.rollback()
                form.email.errors.append(f"Email: {exc}")
                status = 409
            except IntegrityError:
                db.session.rollback()
                form.email.errors.append(f"Email: {form.email.data} is already a candidate for this position")
                status = 409
            except DomainError as exc:
                db.session.rollback()
                flash(f"Nothing was saved: {exc}", "danger")
            else:
                flash(f"Saved {candidate.name}'s details.", "success")
                return redirect(url_for("candidates.show", candidate_id=candidate_id))
        candidate = candidate_or_404(candidate_id)
    return render_template("candidates/edit.html", candidate=candidate, form=form), status


# --- adding and importing ----------------------------------------------------------------------


def _open_positions() -> list[Position]:
    return list(
        db.session.scalars(
            scope_positions(
                select(Position).where(Position.is_open.is_(True)).order_by(Position.title, Position.id)
            )
        )
    )


def _position_label(position: Position) -> str:
    label = f"{position.title} ({position.time_zone})"
    if current_user.is_admin:
        label += f" · {position.manager.name}"
    return label


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    positions = {p.id: p for p in _open_positions()}
    form = NewCandidateForm()
    form.position.choices = [SelectChoice(p.id, _position_label(p)) for p in positions.values()]
    if request.method == "GET":
        wanted = request.args.get("position", "")
        if wanted.isdigit() and int(wanted) in positions:
            form.position.data = int(wanted)
        return _render_new(form, positions)

    if form.validate_on_submit():
        position = positions[form.position.data]
        now = utcnow()
        applied_at = now
        if form.applied_at.data is not None:
            applied_at = form.applied_at.data.replace(tzinfo=zone(position.time_zone)).astimezone(UTC)
        try:
            candidate = service.add_candidate(
                db.session,
                position,
                form.name.data,
                form.email.data,
                applied_at,
                settings_service.load(db.session),
                viewer(),
                stage=form.stage.data,
                now=now,
            )
            db.session.commit()
        except candidates.DuplicateCandidate as exc:
            db.session.rollback()
            form.email.errors.append(f"Email: {exc}")
        except IntegrityError:
            db.session.rollback()
            form.email.errors.append(f"Email: {form.email.data} is already a candidate for this position")
        except candidates.FutureApplication:
            db.session.rollback()
            form.applied_at.errors.append("Applied at: is in the future")
        except DomainError as exc:
            db.session.rollback()
            flash(f"Nothing was saved: {exc}", "danger")
        else:
            flash(
                f"Added {candidate.name} to {position.title}; their application wait is open.",
                "success",
            )
            return redirect(url_for("candidates.show", candidate_id=candidate.id))
    return _render_new(form, positions), 422


def _render_new(form: NewCandidateForm, positions: dict[int, Position]) -> str:
    can_create = "positions.new" in current_app.view_functions
    return render_template(
        "candidates/new.html",
        form=form,
        has_positions=bool(positions),
        new_position_url=url_for("positions.new") if can_create else None,
    )


#: Room for the multipart envelope and the CSRF field around the file itself.
UPLOAD_OVERHEAD = 64 * 1024


def _too_large_message() -> str:
    return f"CSV file: larger than {IMPORT_LIMIT_BYTES // (1024 * 1024)} MB; split it into several files"


@bp.url_value_preprocessor
def _limit_upload_size(endpoint: str | None, values: dict | None) -> None:
    """Cap an import's body before anything reads it (the CSRF check reads the form first)."""
    if endpoint == "candidates.import_csv":
        request.max_content_length = IMPORT_LIMIT_BYTES + UPLOAD_OVERHEAD


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error: RequestEntityTooLarge):
    db.session.rollback()
    if request.endpoint != "candidates.import_csv" or not current_user.is_authenticated:
        return render_template("errors/error.html", error=error), 413
    form = ImportForm(formdata=None)
    form.file.errors = [_too_large_message()]
    return _render_import(form, []), 413


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_csv():
    form = ImportForm()
    if request.method == "GET":
        return _render_import(form, [])
    if not form.validate_on_submit():
        return _render_import(form, []), 422
    raw = form.file.data.read(IMPORT_LIMIT_BYTES + 1)
    if len(raw) > IMPORT_LIMIT_BYTES:
        form.file.errors.append(_too_large_message())
        return _render_import(form, []), 413
    only = None if current_user.is_admin else viewer()
    try:
        rows = importer.read_rows(db.session, raw, utcnow(), only_manager=only)
        result = service.import_rows(db.session, rows, settings_service.load(db.session), viewer())
        db.session.commit()
    except importer.CsvImportError as exc:
        db.session.rollback()
        return _render_import(form, exc.errors), 422
    except IntegrityError:
        db.session.rollback()
        error = importer.RowError(1, None, "a candidate in this file was added meanwhile; try again")
        return _render_import(form, [error]), 409
    flash(_imported_message(result), "success")
    return redirect(url_for("triage.index"))


def _render_import(form: ImportForm, errors: list[importer.RowError]) -> str:
    return render_template(
        "candidates/import.html",
        form=form,
        errors=errors,
        columns=importer.REQUIRED,
        optional=importer.OPTIONAL,
        limit_mb=IMPORT_LIMIT_BYTES // (1024 * 1024),
    )


def _imported_message(result: importer.ImportResult) -> str:
    noun = "candidate" if result.candidates == 1 else "candidates"
    message = f"Imported {result.candidates} {noun}"
    if result.decision_waits:
        message += f", {result.decision_waits} awaiting a decision after an interview"
    message += "."
    if result.positions_created:
        message += " New positions: " + ", ".join(result.positions_created) + "."
    return message
