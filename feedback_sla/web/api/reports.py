"""The response-time export as NDJSON, streamed: one wait a line, in ascending wait id."""

from __future__ import annotations

import datetime as dt
import json

from flask import Response
from flask_login import current_user
from sqlalchemy.orm import Session

from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.reports.export import ExportFilters, WaitStatus, columns, export_rows
from feedback_sla.reports.period import opened_bounds
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.web.api import bp
from feedback_sla.web.api.schemas import ExportArgs

NDJSON = "application/x-ndjson"
#: The days a period may name.
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(9000, 12, 31)


@bp.get("/exports/response-times")
@bp.arguments(ExportArgs, location="query")
@bp.alt_response(200, success=True, content_type=NDJSON, description="One JSON object per wait and line")
def export_response_times(args: dict):
    """Every wait of the token user's positions (admins: all), as the CLI's NDJSON export."""
    filters = ExportFilters(
        since=args["since"],
        until=args["until"],
        manager_id=None if current_user.is_admin else current_user.id,
        status=WaitStatus(args["status"]),
    )
    for name in ("since", "until"):
        if args[name] is not None and not EARLIEST <= args[name] <= LATEST:
            raise DomainError(f"{name}: between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    now, settings = utcnow(), settings_service.load(db.session)
    opened_bounds(filters.since, filters.until, settings.time_zone)  # a refused period: a problem answer
    names, engine = columns(True), db.engine

    def lines():
        # Its own session: the request's is closed once the view returns, before the body streams.
        with Session(engine) as session:
            for row in export_rows(session, now, settings, filters, pii=True):
                yield json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n"

    return Response(lines(), mimetype=NDJSON)
