"""/admin/survey: the survey's questions worded per language by the admins (empty: the shipped wording)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from feedback_sla import languages
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.survey import service as survey
from feedback_sla.survey.models import SurveyWording
from feedback_sla.web import i18n
from feedback_sla.web.admin.views import bp
from feedback_sla.web.transaction import Refused, one_transaction


def _shipped(language: str) -> dict[str, str]:
    with force_locale(language):
        return {question: survey.default_wording(question) for question in survey.QUESTIONS}


@bp.route("/survey", methods=["GET", "POST"])
def survey_wording():
    """One text box per language and question, each saved as typed; a refused one names itself."""
    enabled = i18n.organisation_languages()
    stored = {(row.language, row.question): row.text for row in db.session.query(SurveyWording)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        posted = {
            (tag, question): request.form.get(f"{tag}-{question}", "")
            for tag in enabled
            for question in survey.QUESTIONS
        }

        def door():
            for (tag, question), text in posted.items():
                try:
                    survey.set_wording(db.session, tag, question, text)
                except DomainError as exc:
                    errors[f"{tag}-{question}"] = str(exc)
            if errors:
                raise DomainError("; ".join(errors.values()))

        if not isinstance(one_transaction(door), Refused):
            flash(_("Saved the survey's wording."), "success")
            return redirect(url_for("admin.survey_wording"))
        stored = {key: text for key, text in posted.items()}
    rows = [
        (
            tag,
            languages.name_of(tag, "en"),
            _shipped(tag),
            {q: stored.get((tag, q), "") for q in survey.QUESTIONS},
        )
        for tag in enabled
    ]
    status = 400 if errors else 200
    return render_template(
        "admin/survey.html", rows=rows, questions=survey.QUESTIONS, errors=errors, limit=survey.MAX_WORDING
    ), status
