"""Forms for sending candidate emails and for editing their templates."""

from __future__ import annotations

import hashlib
import secrets

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..candidates.forms import PromiseForm, ReturnForm, stripped
from . import service, templates

#: A page's nonce: with the candidate id and the kind it makes a button's idempotency key.
NONCE_PATTERN = r"^[A-Za-z0-9_-]{8,40}$"

#: Internal rejection reasons a manager may pick: kept for reporting, never sent to the candidate.
REJECTION_REASONS = (
    "Experience level",
    "Technical skills",
    "Communication",
    "Salary expectations",
    "Location or working hours",
    "Position filled by another candidate",
    "Position closed or on hold",
    "Candidate not reachable",
)


def new_nonce() -> str:
    """Rendered once into a page; a double click or a resent form reuses it."""
    return secrets.token_urlsafe(12)


def idempotency_key(nonce: str, candidate_id: int, kind: str) -> str:
    """One key per page, candidate and kind: the candidate id and kind end it, so pages never collide."""
    return f"{nonce}:{candidate_id}:{kind}"


def digest(text: str) -> str:
    """A short fingerprint of text shown in a form, to tell later whether the manager edited it."""
    return hashlib.sha256(normalize_newlines(text).encode()).hexdigest()[:32]


def normalize_newlines(text: str | None) -> str:
    """Browsers send a textarea's lines with CR LF; messages keep LF."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


class SendForm(PromiseForm):
    """One click: queue the default template (an update may carry another promised date)."""

    nonce = HiddenField(
        validators=[DataRequired(message="The page is out of date: reload it and try again"),
                    Regexp(NONCE_PATTERN, message="The page is out of date: reload it and try again")]
    )


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class CustomizeForm(SendForm):
    """One more click: the message with this candidate's details, to edit before queueing it."""

    subject = StringField(
        "Subject",
        filters=[stripped],
        validators=[DataRequired(message="Subject: must not be empty"), Length(max=templates.MAX_SUBJECT)],
    )
    text = TextAreaField(
        "Message",
        validators=[DataRequired(message="Message: must not be empty"), Length(max=templates.MAX_BODY)],
        render_kw={"rows": 16},
    )
    feedback = TextAreaField(
        "Feedback for the candidate (optional)",
        filters=[stripped],
        validators=[Optional(), Length(max=service.MAX_FEEDBACK)],
        render_kw={"rows": 4},
    )
    reasons = MultiCheckboxField(
        "Internal rejection reasons (never sent)",
        choices=[SelectChoice(r, r) for r in REJECTION_REASONS],
        validate_choice=True,
    )
    other_reason = StringField(
        "Other internal reason",
        filters=[stripped],
        validators=[Optional(), Length(max=service.MAX_REASON)],
    )
    # Fingerprints of the subject and message as last shown: equal means "not edited".
    shown_subject = HiddenField()
    shown_text = HiddenField()

    def picked_reasons(self) -> list[str]:
        return list(self.reasons.data or []) + ([self.other_reason.data] if self.other_reason.data else [])


class MessageForm(ReturnForm):
    """Undo or retry one message."""


class TemplateForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(message="Subject: must not be empty")])
    text = TextAreaField(
        "Text part", validators=[DataRequired(message="Text part: must not be empty")], render_kw={"rows": 16}
    )
    html = TextAreaField(
        "HTML part", validators=[DataRequired(message="HTML part: must not be empty")], render_kw={"rows": 16}
    )
