"""Candidate pages: details, timeline, the open wait, every action, adding and importing.

Each action validates its form, calls one domain function, commits once and says what happened.
Refused input re-renders the page with the reason and a 4xx status; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import login_required
from sqlalchemy.exc import IntegrityError

from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import Candidate, Event, EventKind
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import as_utc, local_date, utcnow
from feedback_sla.waits import clock, service, undo
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import open_wait_of
from feedback_sla.waits.wording import due_phrase
from feedback_sla.web.access import candidate_or_404, safe_next, viewer
from feedback_sla.web.candidates import bp
from feedback_sla.web.candidates.forms import (
    CHANNEL_LABELS,
    ContactForm,
    DetailsForm,
    NoteForm,
    StageForm,
    WithdrawForm,
)
from feedback_sla.web.candidates.page import Shown, render_candidate
from feedback_sla.web.filters import local_time
from feedback_sla.web.flashes import flash_undoable
from feedback_sla.web.forms import PromiseForm, ReturnForm, errors_text
from feedback_sla.web.transaction import Refused, added, one_transaction


@bp.get("/<int:candidate_id>")
@login_required
def show(candidate_id: int):
    """The candidate page; ``?events=N`` and ``?emails=N`` list more of the history."""
    return render_candidate(candidate_or_404(candidate_id), shown=Shown.from_args(request.args))


# --- actions -----------------------------------------------------------------------------------


def _act(
    candidate_id: int,
    form_name: str,
    form: ReturnForm,
    action: Callable[[Candidate, dt.datetime, OrgSettings], str | tuple[str, Event]],
    candidate: Candidate | None = None,
):
    """Validate, act, commit once, say what happened; or show the page again with the reason.

    An action that answers with an event as well can be undone: its message holds the Undo button.
    A view that needed the candidate to build its form passes it, so it is not read twice.
    """
    candidate = candidate or candidate_or_404(candidate_id)
    if not form.validate_on_submit():
        flash(gettext("Nothing was saved. %(errors)s", errors=errors_text(form)), "danger")
        return render_candidate(candidate, 422, **{form_name: form})
    done = one_transaction(
        lambda: _worded(candidate_id, action(candidate, utcnow(), settings_service.load(db.session)))
    )
    if isinstance(done, Refused):
        flash(gettext("Nothing was saved: %(reason)s", reason=done.reason), "danger")
        return render_candidate(candidate_or_404(candidate_id), 409, **{form_name: form})
    text, undoable = done
    back = safe_next(form.back_to(candidate_id)) or url_for("candidates.show", candidate_id=candidate_id)
    if undoable is None:
        flash(text, "success")
    else:
        flash_undoable(text, *undoable, back)
    return redirect(back)


def _worded(candidate_id: int, done: str | tuple[str, Event]) -> tuple[str, tuple[str, dt.datetime] | None]:
    """What to say, with the Undo button (where it posts, until when) of an action that answered
    with its event: read before the commit expires the event, so it is not read again."""
    if isinstance(done, str):
        return done, None
    text, event = done
    db.session.flush()  # the event's id and recorded time
    undo_url = url_for("candidates.undo_event", candidate_id=candidate_id, event_id=event.id)
    return text, (undo_url, as_utc(event.recorded_at) + _undo_window())


def _undo_window() -> dt.timedelta:
    return dt.timedelta(seconds=EmailConfig.from_app(current_app).undo_seconds)


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

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> tuple[str, Event]:
        with added(Event) as written:
            wait = service.followed_up(db.session, candidate, now, settings, viewer())
        event = written[0]
        if wait.follow_ups == 0:
            due = _due(wait, now, candidate, settings)
            return f"{candidate.name} asked for news. A reply is owed, {due}.", event
        times = "once" if wait.follow_ups == 1 else f"{wait.follow_ups} times"
        message = f"{candidate.name} followed up ({times} during this wait)."
        if clock.state(wait, now, settings) == clock.State.ESCALATED:
            message += " The wait is escalated."
        return message, event

    return _act(candidate_id, "action_form", form, act)


@bp.post("/<int:candidate_id>/contact")
@login_required
def log_contact(candidate_id: int):
    candidate = candidate_or_404(candidate_id)
    form = ContactForm(today=local_date(utcnow(), candidate.position.time_zone))

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> tuple[str, Event]:
        was_waiting = open_wait_of(db.session, candidate) is not None
        promised = form.promised_date.data
        event = service.log_contact(
            db.session,
            candidate,
            form.channel.data,
            now,
            viewer(),
            note=form.note.data,
            promised=promised,
            settings=settings,
        )
        how = CHANNEL_LABELS[form.channel.data].lower()
        if not was_waiting:
            return f"Logged contact with {candidate.name} ({how}). Nobody was waiting for an answer.", event
        wait = open_wait_of(db.session, candidate)
        if wait is not None and promised is not None:
            return (
                f"Logged contact with {candidate.name} ({how}): you promised an answer by "
                f"{promised:%a %d %b %Y}; {_due(wait, now, candidate, settings)}.",
                event,
            )
        return f"Logged contact with {candidate.name} ({how}): their wait is closed.", event

    return _act(candidate_id, "contact_form", form, act, candidate)


@bp.post("/<int:candidate_id>/events/<int:event_id>/undo")
@login_required
def undo_event(candidate_id: int, event_id: int):
    """Take back a contact or follow-up recorded by mistake, within the undo window."""
    form = ReturnForm()

    def act(candidate: Candidate, now: dt.datetime, settings: OrgSettings) -> str:
        undone = undo.undo(db.session, candidate, event_id, now, _undo_window(), viewer())
        what = undo.UNDOABLE[EventKind(undone.data["kind"])]
        wait = open_wait_of(db.session, candidate)
        after = f" {candidate.name} is waiting again, {_due(wait, now, candidate, settings)}." if wait else ""
        return f"Undone: the {what} with {candidate.name} is taken back.{after}"

    return _act(candidate_id, "action_form", form, act)


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

    return _act(candidate_id, "promise_form", form, act, candidate)


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
                saved = one_transaction(
                    lambda: service.update_details(
                        db.session,
                        candidate,
                        form.name.data,
                        form.email.data,
                        form.time_zone.data,
                        language=form.language.data,
                        settings=settings_service.load(db.session),
                    )
                )
            except IntegrityError:  # the same address, committed meanwhile by another request
                db.session.rollback()
                taken = f"{form.email.data} is already a candidate for this position"
                saved = Refused(candidates.DuplicateCandidate(taken))
            if not isinstance(saved, Refused):
                flash(gettext("Saved %(name)s's details.", name=candidate.name), "success")
                return redirect(url_for("candidates.show", candidate_id=candidate_id))
            if isinstance(saved.error, candidates.DuplicateCandidate):
                form.email.errors.append(gettext("Email: %(reason)s", reason=saved.reason))
                status = 409
            else:
                flash(gettext("Nothing was saved: %(reason)s", reason=saved.reason), "danger")
        candidate = candidate_or_404(candidate_id)
    return render_template("candidates/edit.html", candidate=candidate, form=form), status
