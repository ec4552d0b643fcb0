"""Admin pages: users (create, role, disable) and the organisation settings."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts.models import User
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.text import a_or_an
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import admin_required, viewer
from feedback_sla.web.admin.forms import LABELS, ROLE_CHOICES, NewUserForm, RoleForm, SettingsForm
from feedback_sla.web.forms import moved_message
from feedback_sla.web.paging import requested_page
from feedback_sla.web.transaction import Refused, one_transaction

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def _admins_only():
    """Every page here is for admins; anyone else gets 404 (and a login page when logged out)."""


@bp.get("/users")
def users():
    """One page of every account, the active ones first, by name."""
    total = db.session.scalar(select(func.count(User.id)))
    query, page, pages = requested_page(
        select(User).order_by(User.active.desc(), func.lower(User.name), User.id), total
    )
    rows = db.session.scalars(query).all()
    return render_template(
        "admin/users.html", users=rows, total=total, page=page, pages=pages, roles=ROLE_CHOICES, me=viewer()
    )


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = NewUserForm()
    if request.method == "GET":
        form.time_zone.data = settings_service.load(db.session).time_zone
    if form.validate_on_submit():
        user = one_transaction(
            lambda: accounts.create_user(
                db.session,
                form.email.data,
                form.name.data,
                form.role.data,
                form.time_zone.data,
                form.password.data,
            )
        )
        if isinstance(user, Refused):
            form.form_errors.append(user.reason)
        else:
            flash(
                gettext("%(name)s (%(email)s) can now log in.", name=user.name, email=user.email), "success"
            )
            return redirect(url_for("admin.users"))
    status = 422 if form.errors else 200
    return render_template("admin/new_user.html", form=form), status


def _user_action(user_id: int, action, done: str):
    """Apply ``action(user)``, commit, and say what happened or why it was refused."""
    user = db.get_or_404(User, user_id)
    changed = one_transaction(lambda: action(user))
    if isinstance(changed, Refused):
        flash(gettext("Not changed: %(reason)s.", reason=changed.reason), "danger")
    else:
        flash(done.format(name=user.name), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
def set_role(user_id: int):
    form = RoleForm()
    if not form.validate():
        db.get_or_404(User, user_id)
        flash(gettext("Not changed: choose a role from the list."), "danger")
        return redirect(url_for("admin.users"))
    label = form.role_label().lower()
    return _user_action(
        user_id,
        lambda user: accounts.set_role(db.session, user, form.role.data),
        "{name} is now " + a_or_an(label) + ".",
    )


@bp.post("/users/<int:user_id>/disable")
def disable_user(user_id: int):
    return _user_action(
        user_id,
        lambda user: accounts.disable_user(db.session, user, viewer(), utcnow()),
        "{name} is disabled and logged out everywhere.",
    )


@bp.post("/users/<int:user_id>/enable")
def enable_user(user_id: int):
    return _user_action(
        user_id, lambda user: accounts.enable_user(db.session, user, utcnow()), "{name} can log in again."
    )


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    form = SettingsForm()
    if request.method == "GET":
        form.fill(settings_service.raw_values(db.session, current_app.config))
    if form.validate_on_submit():
        try:
            update = settings_service.update(db.session, form.values(), config=current_app.config)
        except settings_service.SettingsInvalid as exc:
            db.session.rollback()
            form.show_errors(exc.errors)
        else:
            db.session.commit()
            if not update.changed:
                flash(gettext("Nothing changed."), "info")
            else:
                flash(_saved(update), "success")
            return redirect(url_for("admin.settings"))
    status = 422 if form.errors else 200
    form.offer_current_calendar()
    return render_template("admin/settings.html", form=form), status


def _saved(update: settings_service.SettingsUpdate) -> str:
    """What a saved change of settings did to the open waits: a new warning window or escalation
    period moves no deadline, and the message does not say it did."""
    changed = gettext(
        "Changed: %(settings)s.",
        settings="; ".join(str(LABELS[k]).lower() for k in LABELS if k in update.changed),
    )
    recomputed = update.recomputed
    if recomputed is None:
        return gettext("Saved. %(changed)s", changed=changed)
    said = [moved_message(recomputed.due)]
    if recomputed.warn_only:
        other = "other " if recomputed.due else ""
        said.append(_waits(recomputed.warn_only, other, "becomes", "become") + " due soon at a new time.")
    if recomputed.escalate:
        said.append(_waits(recomputed.escalate, "", "escalates", "escalate") + " at a new time.")
    return " ".join([*said, changed])


def _waits(count: int, other: str, one: str, many: str) -> str:
    if count == 1:
        return f"1 {other}open wait {one}"
    return f"{count} {other}open waits {many}"
