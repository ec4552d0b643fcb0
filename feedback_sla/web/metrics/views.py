"""GET /metrics: response times for a period; managers see their own, admins everyone's or one manager's."""

from __future__ import annotations

import functools

from flask import Blueprint, render_template, request
from flask_login import login_required

from feedback_sla.database import db
from feedback_sla.metrics import charts, service, verdict
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.survey import decisions
from feedback_sla.timeutil import local_date, utcnow
from feedback_sla.web.access import viewer
from feedback_sla.web.transaction import Refused, one_transaction

bp = Blueprint("metrics", __name__)


def _verdicts(settings, filters: service.MetricsFilters, figures: service.Metrics) -> verdict.Verdicts:
    """What candidates say beside the clock, for the groups on this page of the summary and the
    period, above the floor: a page reads what it shows, however many managers there are."""
    ids = {group.group_id for group in figures.groups}
    by_position = filters.by == GroupBy.POSITION
    decided = decisions.decided_in(
        db.session,
        filters.since,
        filters.until,
        settings.time_zone,
        positions=ids if by_position else None,
        managers=None if by_position else ids,
    )
    floor = settings_service.value_of(db.session, "survey.report_floor")
    return verdict.verdicts(
        db.session,
        settings,
        floor,
        filters.since,
        filters.until,
        filters.by,
        filters.manager_id,
        decided=decided,
        group_ids=ids,
    )


@bp.get("/metrics")
@login_required
def index():
    user = viewer()
    settings = settings_service.load(db.session)
    now = utcnow()
    today = local_date(now, settings.time_zone)
    typed = (request.args.get("manager") or "").strip() if user.is_admin else ""
    page = {
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
            find_manager=functools.partial(service.find_manager, db.session),
        )
        figures = service.metrics(db.session, now, settings, filters)
        judged = _verdicts(settings, filters, figures)
        return filters, figures, judged

    # One transaction: the rollup is counted again here if the settings it was counted with changed.
    done = one_transaction(figures)
    if isinstance(done, Refused):
        # A filter in the address (400), or stored data the figures cannot use, e.g. a position's zone
        error = done.error
        status = 400 if isinstance(error, service.FilterError) else 409
        choices = getattr(error, "choices", ())
        managers = list(choices) or (service.managers_matching(db.session, typed) if user.is_admin else [])
        form = request.args
        return render_template(
            "metrics/index.html", error=error, form=form, managers=managers, **page
        ), status
    filters, result, verdicts = done
    chosen = None
    if user.is_admin and filters.manager_id is not None:
        chosen = service.manager_by_id(db.session, filters.manager_id)
    form = {
        "since": filters.since.isoformat(),
        "until": filters.until.isoformat(),
        "by": filters.by.value,
        "manager": chosen.email if chosen is not None else "",
    }
    # The picker's suggestions: those the field's text starts, or the first by name (a few of
    # many; typing more of a name and showing finds any).
    managers = service.managers_matching(db.session, form["manager"]) if user.is_admin else []
    return render_template(
        "metrics/index.html",
        error=None,
        form=form,
        metrics=result,
        charts=charts.build(result),
        verdicts=verdicts,
        chosen=chosen,
        managers=managers,
        **page,
    )
