"""Positions the token's user hires for (admins: every position)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.web.access import position_or_404, scope_positions
from feedback_sla.web.api import bp
from feedback_sla.web.api.paging import PageArgs, decode, page_of
from feedback_sla.web.api.schemas import PositionPageSchema, PositionSchema


@bp.get("/positions")
@bp.arguments(PageArgs, location="query", as_kwargs=True)
@bp.response(200, PositionPageSchema)
def list_positions(limit: int, cursor: str | None):
    query = scope_positions(select(Position).options(joinedload(Position.manager)))
    query = query.where(Position.id > decode(cursor)).order_by(Position.id).limit(limit + 1)
    return page_of(list(db.session.scalars(query)), limit)


@bp.get("/positions/<int:position_id>")
@bp.response(200, PositionSchema)
def get_position(position_id: int):
    return position_or_404(position_id)
