"""Candidates: the list with the candidates page's filters, its search (in a body, so that no name
is in a URL), one candidate, adding and correcting one. Writes go through the wait's door, as on
the pages."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.text import printable, search_key
from feedback_sla.timeutil import as_utc, utcnow
from feedback_sla.waits import service
from feedback_sla.waits.models import Wait
from feedback_sla.web.access import candidate_or_404, position_or_404, scope_positions, viewer
from feedback_sla.web.api import bp
from feedback_sla.web.api.paging import decode, page_of
from feedback_sla.web.api.schemas import (
    CandidateArgs,
    CandidateChangeSchema,
    CandidatePageSchema,
    CandidateSchema,
    CandidateSearchSchema,
    NewCandidateSchema,
)

#: Each candidate with its position, the position's manager and the open wait's deadline: one
#: statement for the whole page (as_json reads all three).
_ROWS = (
    select(Candidate, Wait.due_at)
    .join(Candidate.position)
    .join(Position.manager)
    .outerjoin(Wait, (Wait.candidate_id == Candidate.id) & Wait.closed_at.is_(None))
    .options(contains_eager(Candidate.position).contains_eager(Position.manager))
)


def as_json(candidate: Candidate, due_at) -> dict:
    return {
        "id": candidate.id,
        "name": candidate.name,
        "email": candidate.email,
        "position_id": candidate.position_id,
        "position": candidate.position.title,
        "manager": candidate.position.manager.email,
        "stage": candidate.stage,
        "status": candidate.status,
        "due_at": due_at,
        "time_zone": candidate.time_zone,
        "language": candidate.language,
    }


def _one(candidate_id: int) -> dict:
    """One of the viewer's candidates, in the list's one statement; 404 for anyone else's."""
    found = db.session.execute(scope_positions(_ROWS.where(Candidate.id == candidate_id))).first()
    if found is None:
        abort(404)
    return as_json(*found)


@bp.get("/candidates")
@bp.arguments(CandidateArgs, location="query", as_kwargs=True)
@bp.response(200, CandidatePageSchema)
def list_candidates(**filters):
    """Every candidate the token's user may see, of any status, by id. A search by name or email is
    ``POST /candidates/search``: a ``q`` in the URL is refused, as access logs keep URLs."""
    return _page(q="", **filters)


@bp.post("/candidates/search")
@bp.arguments(CandidateSearchSchema, as_kwargs=True)
@bp.response(200, CandidatePageSchema)
def search_candidates(**filters):
    """The list, with ``q`` searching name and email whatever the case or accents; the same filters
    and paging (``next_cursor`` goes back in the body). In a body, so no name is in a URL."""
    return _page(**filters)


def _page(limit, cursor, q, position_id, stage, status) -> dict:
    query = scope_positions(_ROWS.where(Candidate.id > decode(cursor)))
    text = printable(q).strip()  # nobody searches for control characters, and no column holds them
    if text:
        query = query.where(Candidate.search_key.contains(search_key(text), autoescape=True))
    if position_id is not None:
        query = query.where(Candidate.position_id == position_id)
    if stage:
        query = query.where(Candidate.stage == stage)
    if status is not None:
        query = query.where(Candidate.status == status)
    rows = db.session.execute(query.order_by(Candidate.id).limit(limit + 1)).all()
    page = page_of(rows, limit, key=lambda row: row[0].id)
    return {**page, "items": [as_json(*row) for row in page["items"]]}


@bp.get("/candidates/<int:candidate_id>")
@bp.response(200, CandidateSchema)
def get_candidate(candidate_id: int):
    return _one(candidate_id)


@bp.post("/candidates")
@bp.arguments(NewCandidateSchema)
@bp.response(201, CandidateSchema)
def create_candidate(data: dict):
    """A new applicant for one of the token user's open positions; its application wait opens when
    they applied (``applied_at``, at most ten years ago; now by default)."""
    position = position_or_404(data["position_id"])
    if not position.is_open:
        raise DomainError(f"position {position.id} is closed")
    now = utcnow()
    try:
        candidate = service.add_candidate(
            db.session,
            position,
            data["name"],
            data["email"],
            as_utc(data["applied_at"]) if data["applied_at"] else now,
            settings_service.load(db.session),
            viewer(),
            stage=data["stage"],
            now=now,
            time_zone=data["time_zone"],
            language=data["language"],
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(f"{data['email']} is already a candidate for this position") from None
    return _one(candidate.id)


@bp.patch("/candidates/<int:candidate_id>")
@bp.arguments(CandidateChangeSchema)
@bp.response(200, CandidateSchema)
def update_candidate(data: dict, candidate_id: int):
    """Correct the name, email, time zone or language; queued emails follow the correction (an
    email already written keeps its language)."""
    candidate = candidate_or_404(candidate_id)
    try:
        service.update_details(
            db.session,
            candidate,
            data.get("name", candidate.name),
            data.get("email", candidate.email),
            data.get("time_zone", candidate.time_zone),
            language=data.get("language"),
            settings=settings_service.load(db.session),
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("that email is already a candidate for this position") from None
    return _one(candidate_id)
