"""GET /metrics: response times for a period; managers see their own, admins everyone's or one manager's."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from feedback_sla.database import db
from feedback_sla.metrics import charts, service
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import local_date, utcnow
from feedback_sla.web.access import viewer
from feedback_sla.web.transaction import Refused, attempt

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@login_required
def index():
    user = viewer()
    settings = settings_service.load(db.session)
    now = utcnow()
    today = local_date(now, settings.time_zone)
    managers = service.managers(db.session) if user.is_admin else []
    page = {
        "managers": managers,
        "org_zone": settings.time_zone,
        "group_by": list(GroupBy),
        "percent": charts.percent,
        "week_label": charts.week_label,
    }

    def figures():
        filters = service.parse_filters(
            request.args,
            today,
            own_manager_id=None if user.is_admin else user.id,
            manager_ids=[m.id for m in managers],
        )
        return filters, service.metrics(db.session, now, settings, filters)

    done = attempt(figures)
    if isinstance(done, Refused):
        # A filter in the address (400), or stored data the figures cannot use, e.g. a position's zone
        status = 400 if isinstance(done.error, service.FilterError) else 409
        return render_template("metrics/index.html", error=done.error, form=request.args, **page), status
    filters, result = done
    form = {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "by": filters.by.value,
        "manager": "" if filters.manager_id is None or not user.is_admin else str(filters.manager_id),
    }
    chosen = next((m for m in managers if m.id == filters.manager_id), None)
    return render_template(
        "metrics/index.html",
        error=None,
        form=form,
        metrics=result,
        charts=charts.build(result),
        chosen=chosen,
        **page,
    )
