"""The candidate page's forms: each validates its own fields and carries the page to return to."""

from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..accounts.service import normalize_email
from ..errors import DomainError
from .models import PIPELINE, ContactChannel

NOTE_LIMIT = 5000
IMPORT_LIMIT_BYTES = 2 * 1024 * 1024

STAGE_CHOICES = [SelectChoice(stage, stage.capitalize()) for stage in PIPELINE]
CHANNEL_LABELS = {
    ContactChannel.PHONE.value: "Phone call",
    ContactChannel.MEETING.value: "Meeting",
    ContactChannel.EMAIL.value: "Email sent outside this app",
    ContactChannel.OTHER.value: "Other",
}
CHANNEL_CHOICES = [SelectChoice(value, label) for value, label in CHANNEL_LABELS.items()]


def valid_email(_form, field) -> None:
    """A syntactically valid address; the field keeps it normalised (lower case)."""
    try:
        field.data = normalize_email(field.data or "")
    except DomainError as exc:
        raise ValidationError(str(exc)) from None


def stripped(value):
    """A field filter: text without surrounding whitespace."""
    return value.strip() if isinstance(value, str) else value


class ReturnForm(FlaskForm):
    """A form posted from a list or a candidate page; ``next`` is where to go afterwards."""

    next = HiddenField()


class StageForm(ReturnForm):
    stage = SelectField("Move to stage", choices=STAGE_CHOICES, validators=[DataRequired()])


class ContactForm(ReturnForm):
    channel = SelectField(
        "How they heard from you", choices=CHANNEL_CHOICES, validators=[DataRequired()]
    )
    note = TextAreaField(
        "What you told them (optional)",
        filters=[stripped],
        validators=[Optional(), Length(max=NOTE_LIMIT)],
    )


class PromiseForm(ReturnForm):
    promised_date = DateField("Promised an answer by", validators=[Optional()])

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_promised_date(self, field) -> None:
        if field.data is not None and self.today is not None and field.data < self.today:
            raise ValidationError(
                f"Promised an answer by: {field.data.isoformat()} is in the past "
                f"(today is {self.today.isoformat()} in the position's time zone)"
            )


class NoteForm(ReturnForm):
    body = TextAreaField(
        "Internal note",
        filters=[stripped],
        validators=[DataRequired(message="Internal note: write some text"), Length(max=NOTE_LIMIT)],
    )


class WithdrawForm(ReturnForm):
    reason = StringField(
        "Reason (optional)", filters=[stripped], validators=[Optional(), Length(max=500)]
    )


class DetailsForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[stripped],
        validators=[DataRequired(message="Name: must not be empty"), Length(max=200)],
    )
    email = StringField(
        "Email",
        filters=[stripped],
        validators=[DataRequired(message="Email: must not be empty"), Length(max=254), valid_email],
    )


class NewCandidateForm(DetailsForm):
    position = SelectField(
        "Position", coerce=int, validate_choice=True, validators=[DataRequired()]
    )
    applied_at = DateTimeLocalField(
        "Applied at",
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
    )
    stage = SelectField("Stage", choices=STAGE_CHOICES, default="applied")


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired(message="CSV file: choose a file")])
