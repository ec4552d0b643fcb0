"""Many answers at once in the browser: the candidates selected on a list, a page that says who
gets what and who is skipped and why, one POST that queues them as one batch, and one Undo for it.

The selection comes as a GET (``candidate`` repeated, ``kind``), so the lists need no JavaScript
and no form around their rows; only the confirmation posts, with its CSRF token.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required
from wtforms.fields import SelectChoice

from feedback_sla.database import db
from feedback_sla.emails import checks, scheduling
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxStatus
from feedback_sla.errors import DomainError
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import bulk
from feedback_sla.web.access import safe_next, viewer
from feedback_sla.web.email_parts import new_nonce
from feedback_sla.web.emails.forms import BulkForm, MessageForm
from feedback_sla.web.emails.views import bp, template_choices
from feedback_sla.web.filters import plural_words, words
from feedback_sla.web.flashes import flash_undoable
from feedback_sla.web.transaction import Refused, attempt, one_transaction

SETTING = "bulk.confirm_above"


def _manager_id() -> int | None:
    """Whose candidates the viewer answers: a manager their own, an admin everyone's."""
    return None if current_user.is_admin else current_user.id


def _kind(value: str | None) -> EmailKind | None:
    try:
        return bulk.check_kind(value or "")
    except DomainError:
        return None


def _selected(values: list[str]) -> list[int]:
    """The candidate ids of the selection, in order; anything that is no id is left out."""
    return [int(v) for v in values if v.isdigit() and len(v) < 10]


def _config() -> EmailConfig:
    return settings_service.email_config(db.session, EmailConfig.from_app(current_app))


def _back(next_value: str | None) -> str:
    return safe_next(next_value) or url_for("candidates.index")


def _answer(form: BulkForm, kind: EmailKind) -> bulk.Answer:
    rejection = kind == EmailKind.REJECTION
    return bulk.Answer(
        kind,
        feedback=form.feedback.data if rejection else None,
        reasons=tuple(form.picked_reasons()) if rejection else (),
        promised_date=form.promised_date.data if kind == EmailKind.UPDATE else None,
        template=form.picked_template(),
        send_at=form.chosen_send_at(),
    )


@bp.route("/emails/bulk", methods=["GET", "POST"])
@login_required
def bulk_answer():
    """GET: who would get the answer and who is skipped; POST: queue it as one batch."""
    source = request.form if request.method == "POST" else request.args
    kind = _kind(source.get("kind"))
    ids = _selected(source.getlist("candidate"))
    if request.method == "GET" and request.args.get("all") == "1":  # "All on this page", without JS
        ids = list(dict.fromkeys(ids + _selected(request.args.getlist("on_page"))))
    form = BulkForm()
    if request.method == "GET":
        form.nonce.data = new_nonce()
        form.next.data = safe_next(request.args.get("next")) or ""
        form.template.data = request.args.get("template", "")
    if request.method == "GET":
        return _confirmation(form, kind or EmailKind.UPDATE, ids)
    if kind is None or not ids:
        what = "Choose an answer: update, rejection or next step." if ids else "Select candidates first."
        flash(gettext("Nothing was queued. %(what)s", what=what), "warning")
        return redirect(_back(form.next.data))
    if not form.validate_on_submit():
        return _confirmation(form, kind, ids, 422)
    if request.form.get("action") == "preview":
        return _confirmation(form, kind, ids)
    now, config, org = utcnow(), _config(), settings_service.load(db.session)
    threshold = int(settings_service.value_of(db.session, SETTING))
    done = one_transaction(
        lambda: _summary(
            bulk.answer_many(
                db.session,
                ids,
                _answer(form, kind),
                config,
                org,
                now,
                key=f"bulk:{viewer().id}:{form.nonce.data}",
                actor=viewer(),
                manager_id=_manager_id(),
                confirm_above=threshold,
                typed=form.typed(),
            )
        )
    )
    if isinstance(done, Refused):
        target = form.confirm if isinstance(done.error, bulk.ConfirmationNeeded) else None
        target = form.send_at if done.reason.startswith("send at: ") else target
        message = done.reason.removeprefix("confirmation: ")
        label = (
            "Send at: " + message.removeprefix("send at: ")
            if target is form.send_at
            else f"Confirm: {message}"
        )
        (target.errors if target is not None else form.form_errors).append(
            label if target is not None else f"Nothing was queued: {message}"
        )
        return _confirmation(form, kind, ids, 409)
    return _answered(done, _back(form.next.data))


def _confirmation(form: BulkForm, kind: EmailKind, ids: list[int], status: int = 200):
    now, org = utcnow(), settings_service.load(db.session)
    answer = bulk.Answer(kind, promised_date=form.promised_date.data if kind == EmailKind.UPDATE else None)
    planned = attempt(lambda: bulk.plan(db.session, ids, answer, now, org, manager_id=_manager_id()))
    if isinstance(planned, Refused):
        flash(gettext("Nothing was queued: %(reason)s", reason=planned.reason), "danger")
        return redirect(_back(form.next.data))
    preview = None
    if planned.eligible:
        first = planned.eligible[0]
        preview = attempt(
            lambda: checks.draft(
                db.session,
                first.candidate,
                kind,
                _config(),
                promised_date=first.promised_date,
                feedback=form.feedback.data if kind == EmailKind.REJECTION else None,
                template=form.picked_template(),
            )
        )
    threshold = int(settings_service.value_of(db.session, SETTING))
    form.template.choices = template_choices(None, kind, gettext("Each candidate's default"))
    form.send_when.choices = [
        SelectChoice("now", gettext("After the undo window")),
        SelectChoice("tomorrow", gettext("Tomorrow at 09:00, each candidate's time")),
        SelectChoice("at", gettext("At a date and time I choose, each candidate's time")),
    ]
    if isinstance(preview, Refused) and form.picked_template() is not None:
        form.template.errors = [*form.template.errors, preview.reason]
    return render_template(
        "emails/bulk.html",
        form=form,
        kind=kind,
        kinds=bulk.BULK_KINDS,
        ids=ids,
        plan=planned,
        reasons={s.candidate_id: bulk.skip_text(s, kind) for s in planned.skipped},
        preview=None if isinstance(preview, Refused) else preview,
        confirm_needed=len(planned.eligible) > threshold,
        threshold=threshold,
        back_url=_back(form.next.data),
    ), status


def _summary(answered: bulk.Answered) -> dict:
    """What is said of the batch, read before the commit expires its rows."""
    return {
        "kind": answered.kind,
        "batch_id": answered.batch_id,
        "queued": [candidate.name for candidate, _ in answered.queued],
        "pending": any(m.status == OutboxStatus.PENDING for _, m in answered.queued),
        "until": bulk.undo_until(answered),
        "scheduled": _scheduled(answered),
        "skipped": [
            f"{name} ({bulk.skip_text(s, answered.kind)})"
            for name, s in zip(bulk.names(answered.skipped), answered.skipped, strict=True)
        ],
    }


def _scheduled(answered: bulk.Answered) -> str | None:
    """When a scheduled batch goes, as its first email's candidate reads it."""
    scheduled = [(c, m) for c, m in answered.queued if m.send_at_zone and m.status == OutboxStatus.PENDING]
    if not scheduled:
        return None
    candidate, message = scheduled[0]
    return scheduling.describe(message.send_after, message.send_at_zone, candidate.time_zone)


def _undo_window() -> dt.timedelta:
    return dt.timedelta(seconds=EmailConfig.from_app(current_app).undo_seconds)


def _answered(done: dict, back: str):
    kind, queued, skipped = done["kind"], done["queued"], done["skipped"]
    if skipped:
        flash(gettext("Skipped %(count)s: %(who)s.", count=len(skipped), who="; ".join(skipped)), "warning")
    if not queued:
        flash(
            gettext(
                "Nothing was queued: no selected candidate can get %(kinds)s now.", kinds=plural_words(kind)
            ),
            "danger",
        )
        return redirect(back)
    text = ngettext(
        "Queued %(num)d %(kind)s, each to its own candidate.",
        "Queued %(num)d %(kinds)s, each to its own candidate.",
        len(queued),
        kind=words(kind),
        kinds=plural_words(kind),
    )
    if done["until"] is not None:
        if done["scheduled"]:
            text += " " + gettext(
                "They are scheduled for %(when)s; one Undo takes them all back until then.",
                when=done["scheduled"],
            )
        else:
            text += " " + gettext("They are sent after the undo window unless you undo them all.")
        undo_url = url_for("emails.undo_batch", batch_id=done["batch_id"])
        flash_undoable(text, undo_url, min(done["until"], utcnow() + _undo_window()), back)
    else:
        flash(text, "success")
    return redirect(back)


@bp.post("/emails/batches/<batch_id>/undo")
@login_required
def undo_batch(batch_id: str):
    """One Undo for the whole batch: every email still in its window is cancelled."""
    form = MessageForm()
    back = _back(form.next.data)
    if not (batch_id.isalnum() and len(batch_id) <= 32):
        abort(404)
    done = one_transaction(
        lambda: _undone(bulk.undo_batch(db.session, batch_id, utcnow(), viewer(), manager_id=_manager_id()))
    )
    if isinstance(done, Refused) and isinstance(done.error, bulk.NoSuchBatch):
        abort(404)  # like any object that is not the viewer's
    if isinstance(done, Refused):
        flash(
            gettext("Not undone: %(reason)s.", reason=done.reason.removeprefix("batch: ")),
            "danger",
        )
        return redirect(back)
    undone, left = done
    if undone:
        flash(
            gettext(
                "Undone: %(undone)s will not be sent; the candidates are as they were before.", undone=undone
            ),
            "success",
        )
    if left:
        flash(gettext("Not undone: %(reason)s.", reason="; ".join(left)), "warning")
    return redirect(back)


def _undone(result: bulk.Undone) -> tuple[str, list[str]]:
    count = len(result.undone)
    kinds = {m.kind for m in result.undone}
    label = kinds.pop().label if len(kinds) == 1 else "email"
    undone = f"{count} {label}{'s' if count != 1 else ''}" if count else ""
    left = [f"{m.candidate.name}: {reason}" for m, reason in result.not_undone]
    return undone, left
