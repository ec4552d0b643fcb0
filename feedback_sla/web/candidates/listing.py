"""The candidates list: every candidate the viewer may see, of any status, found by name or email."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user, login_required

from feedback_sla.candidates.models import PIPELINE, Status
from feedback_sla.database import db
from feedback_sla.text import printable
from feedback_sla.waits.search import CandidateSearch, CandidateSort, find_candidates
from feedback_sla.web.access import PositionMenu, position_choices, viewer
from feedback_sla.web.candidates import bp

#: The longest search a person types; more is cut, never refused.
MAX_SEARCH = 200


@bp.get("")
@login_required
def index():
    positions = position_choices()
    search = _search_from(request.args, positions)
    found = find_candidates(db.session, search)
    return render_template(
        "candidates/index.html",
        found=found,
        search=search,
        positions=positions,
        stages=PIPELINE,
        statuses=list(Status),
        sorts=list(CandidateSort),
    )


def _search_from(args, positions: PositionMenu) -> CandidateSearch:
    """The page's query arguments as a search; anything unknown is ignored, never an error."""
    position = _int(args.get("position"))
    stage = args.get("stage") or None
    status = args.get("status") or None
    sort = args.get("sort") or CandidateSort.NAME.value
    return CandidateSearch(
        # Nobody searches for a control character (no column holds one; PostgreSQL refuses a NUL).
        text=printable(args.get("q") or "")[:MAX_SEARCH],
        position_id=positions.allows(position),
        stage=stage if stage in PIPELINE else None,
        status=Status(status) if status in {s.value for s in Status} else None,
        manager_id=None if current_user.is_admin else viewer().id,
        sort=CandidateSort(sort) if sort in {s.value for s in CandidateSort} else CandidateSort.NAME,
        descending=args.get("order") == "desc",
        page=_int(args.get("page")) or 1,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None
