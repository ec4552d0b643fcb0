"""Positions in the browser: the list, create, edit, close and reopen."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import func, select

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import active_users
from feedback_sla.database import db
from feedback_sla.positions import service
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service as waits
from feedback_sla.waits.queries import waiting_per_position
from feedback_sla.web.access import position_or_404, scope_positions, viewer
from feedback_sla.web.forms import moved_message
from feedback_sla.web.paging import requested_page
from feedback_sla.web.positions.forms import MANAGERS_ZONE, PositionForm
from feedback_sla.web.transaction import Refused, one_transaction

bp = Blueprint("positions", __name__, url_prefix="/positions")

#: The list's filter: which positions each choice shows.
SHOW = {"open": True, "closed": False, "all": None}
#: The organisation's autopilot settings the form's help names.
AUTOPILOT = ("lead_business_hours", "max_per_wait")


@bp.get("")
@login_required
def index():
    """One page of the viewer's positions, each with its waiting candidates counted."""
    show = request.args.get("show", "open")
    if show not in SHOW:
        show = "open"
    query = scope_positions(select(Position))
    if SHOW[show] is not None:
        query = query.where(Position.is_open.is_(SHOW[show]))
    total = db.session.scalar(query.with_only_columns(func.count(Position.id)))
    paged, page, pages = requested_page(
        query.order_by(Position.is_open.desc(), func.lower(Position.title), Position.id), total
    )
    # The manager comes with the position (a joined relationship): one statement for the rows.
    positions = db.session.scalars(paged).all()
    counts = waiting_per_position([p.id for p in positions])
    waiting = dict(db.session.execute(select(counts.c.position_id, counts.c.waiting)).all())
    return render_template(
        "positions/index.html",
        rows=[(p, waiting.get(p.id, 0)) for p in positions],
        total=total,
        page=page,
        pages=pages,
        show=show,
        choices=list(SHOW),
        reasons=service.REASONS,
        settings=settings_service.load(db.session),
    )


def _managers(current: User | None = None) -> list[User]:
    """Who an admin may choose as hiring manager: active users, and the present one."""
    users = active_users(db.session)
    if current is not None and current not in users:
        users = [current, *users]
    return list(users)


def _chosen_manager(form: PositionForm, fallback: User) -> User:
    """Admins pick the manager; a manager's position stays theirs whatever was posted."""
    if not current_user.is_admin or not hasattr(form, "manager_id"):
        return fallback
    return db.session.get(User, form.manager_id.data)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    me = viewer()
    form = PositionForm(managers=_managers() if me.is_admin else None, managers_zone_allowed=me.is_admin)
    if request.method == "GET":
        form.time_zone.data = MANAGERS_ZONE if me.is_admin else me.time_zone
        if me.is_admin:
            form.manager_id.data = me.id
    if form.validate_on_submit():
        manager = _chosen_manager(form, me)
        position = one_transaction(
            lambda: service.create_position(
                db.session,
                form.title.data,
                manager,
                form.time_zone.data or None,
                form.overrides(),
                autopilot=form.autopilot.data,
            )
        )
        if isinstance(position, Refused):
            form.form_errors.append(position.reason)
        else:
            flash(gettext("Position %(title)s created.", title=position.title), "success")
            return redirect(url_for("positions.index"))
    return _render_form(form, None)


@bp.route("/<int:position_id>/edit", methods=["GET", "POST"])
@login_required
def edit(position_id: int):
    position = position_or_404(position_id)
    me = viewer()
    form = PositionForm(
        obj=position if request.method == "GET" else None,
        managers=_managers(position.manager) if me.is_admin else None,
    )
    if request.method == "GET":
        form.fill_overrides(position.policy_overrides or {})
    if form.validate_on_submit():
        moved = one_transaction(lambda: _update(position, form))
        if isinstance(moved, Refused):
            form.form_errors.append(moved.reason)
        else:
            flash(moved_message(moved), "success")
            return redirect(url_for("positions.index", show="all"))
    return _render_form(form, position)


def _update(position: Position, form: PositionForm) -> int:
    """Change the position as the form says; how many of its open waits got new deadlines."""
    change = service.PositionChange(
        form.title.data,
        _chosen_manager(form, position.manager),
        form.time_zone.data,
        form.overrides(),
        autopilot=form.autopilot.data,
    )
    return waits.update_position(db.session, position, change, settings_service.load(db.session))


@bp.post("/<int:position_id>/close")
@login_required
def close(position_id: int):
    position = position_or_404(position_id)
    service.close_position(position)
    db.session.commit()
    flash(
        gettext(
            "%(title)s is closed. Candidates already waiting still need an answer.", title=position.title
        ),
        "success",
    )
    return redirect(url_for("positions.index", show="all"))


@bp.post("/<int:position_id>/reopen")
@login_required
def reopen(position_id: int):
    position = position_or_404(position_id)
    service.reopen_position(position)
    db.session.commit()
    flash(gettext("%(title)s is open again.", title=position.title), "success")
    return redirect(url_for("positions.index", show="all"))


def _render_form(form: PositionForm, position: Position | None):
    form.show_defaults(settings_service.load(db.session))
    status = 422 if form.errors else 200
    autopilot = {key: settings_service.value_of(db.session, f"autopilot.{key}") for key in AUTOPILOT}
    return render_template("positions/form.html", form=form, position=position, autopilot=autopilot), status
