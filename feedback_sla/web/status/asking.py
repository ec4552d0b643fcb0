"""What the status page needs for the survey and "Download my data": whether the survey is open,
its questions in the page's language, and the forms' tokens."""

from __future__ import annotations

import datetime as dt

from flask import current_app

from feedback_sla.candidates.models import StatusLink
from feedback_sla.database import db
from feedback_sla.survey import service as survey
from feedback_sla.web.status.form_tokens import form_token

#: The "How likely…" scale, from 0 to 10.
SCORES = tuple(range(11))


def context(link: StatusLink, now: dt.datetime, language: str, decided: bool) -> dict:
    """The template's survey and download variables; ``decided``: the decision's email has gone."""
    secret = current_app.config["SECRET_KEY"]
    open_now = decided and survey.is_open(db.session, link, now)
    return {
        "survey_open": open_now,
        "survey_answered": link.survey_answered,
        "survey_questions": survey.wording(db.session, language) if open_now else {},
        "survey_scores": SCORES,
        "survey_max_comment": survey.MAX_COMMENT,
        "survey_token": form_token(secret, link.token_hash, "survey") if open_now else None,
        "my_data_token": form_token(secret, link.token_hash, "my_data"),
    }
