"""The home page: who is waiting on me, and who is already late."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required

from feedback_sla.accounts.service import everyone
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.triage.service import triage
from feedback_sla.waits.clock import State
from feedback_sla.waits.queries import Filters
from feedback_sla.waits.wording import DueWords
from feedback_sla.web.access import position_choices
from feedback_sla.web.email_parts import triage_email_context
from feedback_sla.web.triage.rows import render_rows

bp = Blueprint("triage", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/")
@login_required
def index():
    manager_id = current_user.id
    managers = []
    if current_user.is_admin:
        # Disabled managers too: their candidates may still be waiting.
        managers = everyone(db.session)
        chosen = _int_arg("manager")
        manager_id = chosen  # None: everyone's candidates
        if chosen is not None and chosen not in {m.id for m in managers}:
            abort(404)
    stage = request.args.get("stage") or None
    if stage is not None and stage not in PIPELINE:
        stage = None
    state = request.args.get("state") or None
    state = State(state) if state in {s.value for s in State} else None
    position_id = _int_arg("position")

    positions = position_choices(manager_id)
    if position_id is not None and position_id not in {p.id for p in positions}:
        position_id = None

    settings = settings_service.load(db.session)
    now = utcnow()
    result = triage(
        db.session,
        now,
        settings,
        Filters(manager_id=manager_id, position_id=position_id, stage=stage),
        state,
    )
    # Queued and failed emails: one query for the whole page, whatever the number of rows.
    emails = triage_email_context(now, manager_id)
    rows = render_rows(
        result.rows,
        DueWords(now, settings, current_user.time_zone),
        # Row links are this prefix plus the candidate id: one url_for per page, not per row.
        candidates_url=url_for("candidates.show", candidate_id=0).removesuffix("0"),
        with_manager=current_user.is_admin,
        emails=emails["unfinished"],
        now=now,
        emails_url=emails["emails_url"],
        customize_query=emails["customize_query"],
    )
    return render_template(
        "triage/index.html",
        triage=result,
        positions=positions,
        managers=managers,
        stages=PIPELINE,
        states=list(State),
        rows=rows,
        selected={"manager": manager_id, "position": position_id, "stage": stage, "state": state},
        **emails,
    )
