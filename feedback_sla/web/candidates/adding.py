"""Adding candidates one at a time and importing them from a CSV file."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields import SelectChoice

from feedback_sla.candidates import importer
from feedback_sla.candidates import service as candidates
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import UTC, utcnow, zone
from feedback_sla.waits import importing, service
from feedback_sla.web.access import scope_positions, viewer
from feedback_sla.web.candidates import bp
from feedback_sla.web.candidates.forms import IMPORT_LIMIT_BYTES, ImportForm, NewCandidateForm
from feedback_sla.web.transaction import Refused, one_transaction


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
            added = one_transaction(
                lambda: service.add_candidate(
                    db.session,
                    position,
                    form.name.data,
                    form.email.data,
                    applied_at,
                    settings_service.load(db.session),
                    viewer(),
                    stage=form.stage.data,
                    now=now,
                    time_zone=form.time_zone.data,
                    language=form.language.data,
                )
            )
        except IntegrityError:  # the same address, committed meanwhile by another request
            db.session.rollback()
            taken = f"{form.email.data} is already a candidate for this position"
            added = Refused(candidates.DuplicateCandidate(taken))
        if not isinstance(added, Refused):
            flash(
                gettext(
                    "Added %(name)s to %(title)s; their application wait is open.",
                    name=added.name,
                    title=position.title,
                ),
                "success",
            )
            return redirect(url_for("candidates.show", candidate_id=added.id))
        if isinstance(added.error, candidates.DuplicateCandidate):
            form.email.errors.append(gettext("Email: %(reason)s", reason=added.reason))
        elif isinstance(added.error, candidates.ImpossibleApplication):
            form.applied_at.errors.append(
                gettext("Applied at: %(reason)s", reason=added.reason.removeprefix("applied at: "))
            )
        else:
            flash(gettext("Nothing was saved: %(reason)s", reason=added.reason), "danger")
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
    return gettext(
        "CSV file: larger than %(size)s MB; split it into several files",
        size=IMPORT_LIMIT_BYTES // (1024 * 1024),
    )


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
        settings = settings_service.load(db.session)
        rows = importer.read_rows(db.session, raw, utcnow(), only_manager=only, languages=settings.languages)
        result = importing.import_rows(db.session, rows, settings, viewer())
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
    if result.decision_waits:
        message = ngettext(
            "Imported %(num)d candidate, %(waits)s awaiting a decision after an interview.",
            "Imported %(num)d candidates, %(waits)s awaiting a decision after an interview.",
            result.candidates,
            waits=result.decision_waits,
        )
    else:
        message = ngettext("Imported %(num)d candidate.", "Imported %(num)d candidates.", result.candidates)
    if result.positions_created:
        message += " " + gettext("New positions: %(titles)s.", titles=", ".join(result.positions_created))
    return message
