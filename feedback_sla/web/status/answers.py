"""The candidate's answers on their status page after the decision: the survey, and "Download my
data" (also offered to admins on the candidate page). Both are POSTs with the link's form token:
the download goes on the timeline, and a GET never changes anything."""

from __future__ import annotations

import json

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from feedback_sla.database import db
from feedback_sla.extensions import csrf, limiter
from feedback_sla.my_data import service as my_data
from feedback_sla.status_page import service
from feedback_sla.survey import service as survey
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import candidate_or_404, viewer
from feedback_sla.web.status import bp
from feedback_sla.web.status.views import (
    _chosen,
    _company,
    _form_ok,
    _gone,
    _language,
    _refused_form,
    _render,
    _words,
    throttled,
)
from feedback_sla.web.transaction import Refused, one_transaction


def _download_limit() -> str:
    return current_app.config["MY_DATA_LIMIT_PER_ADDRESS"]


@bp.post("/status/<token>/survey")
@csrf.exempt
@throttled
def answer_survey(token: str):
    """Keep the answer (once per link); a refused answer writes nothing and says which field."""
    now = utcnow()
    link = service.find(db.session, token, now)
    if link is None:
        return _gone()
    if not _form_ok(link, "survey"):
        return _refused_form(link.candidate)
    _language(link.candidate)  # the refusal's words are in the page's language
    try:
        given = survey.parse(request.form)
    except survey.SurveyRefused as refused:
        return _render(link, token, 400, survey_error=str(refused))
    kept = one_transaction(lambda: survey.answer(db.session, link, given, now))
    if isinstance(kept, Refused):
        db.session.refresh(link)
        return _render(link, token, 409, survey_error=_refusal(kept.error))
    return redirect(url_for("status.page", token=token, done="surveyed", lang=_chosen()), 303)


def _refusal(error) -> str:
    if isinstance(error, survey.AlreadyAnswered):
        return _("You have answered this survey already. Thank you!")
    return _("This survey is closed.")


def _attachment(document: dict) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@bp.post("/status/<token>/my-data")
@csrf.exempt
@throttled
@limiter.limit(_download_limit, scope="my-data")
def download_my_data(token: str):
    """The candidate's data as a JSON file, or (``format=html``) as a page to read; on the timeline."""
    now = utcnow()
    link = service.find(db.session, token, now)
    if link is None:
        return _gone()
    if not _form_ok(link, "my_data"):
        return _refused_form(link.candidate)

    def door():
        document = my_data.document(db.session, link.candidate, now)
        my_data.record(db.session, link.candidate, now, my_data.Requester.CANDIDATE)
        return document

    document = one_transaction(door)
    if isinstance(document, Refused):
        return _gone()
    if request.form.get("format") == "html":
        company, _ = _company()
        words = _words(_language(link.candidate))
        return render_template("status/my_data.html", data=document, company=company, **words)
    return _attachment(document)


@bp.post("/candidates/<int:candidate_id>/my-data")
@login_required
def my_data_for(candidate_id: int):
    """An admin's copy of the candidate's data, as the candidate would download it."""
    candidate = candidate_or_404(candidate_id)
    if not viewer().is_admin:
        abort(403)
    now = utcnow()

    def door():
        found = my_data.find(db.session, candidate.id)
        document = my_data.document(db.session, found, now)
        my_data.record(db.session, found, now, my_data.Requester.ADMIN, viewer())
        return document

    document = one_transaction(door)
    if isinstance(document, Refused):
        abort(404)
    if request.form.get("format") == "html":
        company, _ = _company()
        return render_template("status/my_data.html", data=document, company=company, **_words("en"))
    return _attachment(document)
