"""GET /api/v1/reports/survey: the candidates' verdict per manager or position, with the metrics
page's floor: no survey figure or comment for a group below ``survey.report_floor`` answers."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from flask_login import current_user

from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.metrics import verdict
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.survey import decisions
from feedback_sla.timeutil import local_date, utcnow
from feedback_sla.web.api import bp
from feedback_sla.web.api.schemas import Input

#: The longest period one request may name.
MAX_DAYS = 3 * 366
_SHARE = {"validate": ma.validate.Range(0, 1)}


class VerdictArgs(Input):
    since = ma.fields.Date(load_default=None, metadata={"description": "Default: 12 weeks before until"})
    until = ma.fields.Date(load_default=None, metadata={"description": "Default: today"})
    by = ma.fields.String(load_default="manager", validate=ma.validate.OneOf([g.value for g in GroupBy]))


class VerdictSchema(ma.Schema):
    group_id = ma.fields.Integer(required=True)
    group = ma.fields.String(required=True)
    shown = ma.fields.Boolean(
        required=True, metadata={"description": "false: fewer answers than survey.report_floor"}
    )
    answers = ma.fields.Integer(allow_none=True, required=True)
    candidate_nps = ma.fields.Integer(allow_none=True, required=True, validate=ma.validate.Range(-100, 100))
    answered_when_promised = ma.fields.Float(allow_none=True, required=True, **_SHARE)
    comments = ma.fields.List(ma.fields.String(), required=True)
    waits_answered = ma.fields.Integer(required=True)
    answer_median_business_days = ma.fields.Integer(allow_none=True, required=True)
    within_deadline = ma.fields.Float(allow_none=True, required=True, **_SHARE)
    decisions = ma.fields.Integer(required=True)
    decision_median_business_days = ma.fields.Integer(allow_none=True, required=True)
    decision_p90_business_days = ma.fields.Integer(allow_none=True, required=True)
    updates_before_decision = ma.fields.Integer(required=True)


class VerdictReportSchema(ma.Schema):
    since = ma.fields.Date(required=True)
    until = ma.fields.Date(required=True)
    floor = ma.fields.Integer(required=True)
    groups = ma.fields.List(ma.fields.Nested(VerdictSchema), required=True)


@bp.get("/reports/survey")
@bp.arguments(VerdictArgs, location="query")
@bp.response(200, VerdictReportSchema)
def survey_report(args: dict):
    """The token user's own groups (admins: everyone's): candidate NPS, answered when promised,
    comments, response times and time to a decision."""
    settings = settings_service.load(db.session)
    until = args["until"] or local_date(utcnow(), settings.time_zone)
    since = args["since"] or until - dt.timedelta(weeks=12)
    if (until - since).days > MAX_DAYS:
        raise DomainError(f"since: at most {MAX_DAYS} days before until")
    if since.year < 1900 or until.year > 9000:
        raise DomainError("since, until: between 1900-01-01 and 9000-12-31")
    opened_bounds(since, until, settings.time_zone)  # a refused period: a problem answer
    manager_id = None if current_user.is_admin else current_user.id
    floor = settings_service.value_of(db.session, "survey.report_floor")
    decided = decisions.decided_in(db.session, since, until, settings.time_zone)
    found = verdict.verdicts(
        db.session, settings, floor, since, until, GroupBy(args["by"]), manager_id, decided=decided
    )
    db.session.commit()  # the rollup, when it was counted again
    return {
        "since": since,
        "until": until,
        "floor": found.floor,
        "groups": [verdict.as_row(line) for line in found.groups],
    }
