"""Open waits: who is waiting for an answer, filtered by state or position."""

from __future__ import annotations

from flask_login import current_user

from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import BY_URGENCY, Filters, waiting_query
from feedback_sla.web.api import bp
from feedback_sla.web.api.paging import decode, page_of
from feedback_sla.web.api.schemas import WaitArgs, WaitPageSchema


@bp.get("/waits")
@bp.arguments(WaitArgs, location="query", as_kwargs=True)
@bp.response(200, WaitPageSchema)
def list_waits(limit: int, cursor: str | None, state, position_id):
    """Open waits of active candidates, by wait id; ``state`` as on the triage page."""
    now, settings = utcnow(), settings_service.load(db.session)
    filters = Filters(
        manager_id=None if current_user.is_admin else current_user.id,
        position_id=position_id,
        states=frozenset({state}) if state else None,
    )
    query = waiting_query(now, settings, filters).where(Wait.id > decode(cursor))
    rows = db.session.execute(query.order_by(None).order_by(Wait.id).limit(limit + 1)).all()
    page = page_of(rows, limit, key=lambda row: row.wait_id)
    return {**page, "items": [_as_json(row) for row in page["items"]]}


def _as_json(row) -> dict:
    return {
        "id": row.wait_id,
        "candidate_id": row.candidate_id,
        "candidate": row.candidate,
        "position": row.position,
        "manager": row.manager,
        "stage": row.stage,
        "reason": row.reason.value,
        "opened_at": row.opened_at,
        "due_at": row.due_at,
        "promised_date": row.promised_date,
        "follow_ups": row.follow_ups,
        "state": BY_URGENCY[row.urgency].value,
    }
