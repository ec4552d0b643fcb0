"""The candidate page's forms: each validates its own fields and carries the page to return to."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from feedback_sla import languages
from feedback_sla.candidates.models import PIPELINE, ContactChannel
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.web.forms import (
    PromiseForm,
    ReturnForm,
    stripped,
    valid_email,
    valid_time_zone,
    zone_choices,
)

NOTE_LIMIT = 5000
REASON_LIMIT = 500
IMPORT_LIMIT_BYTES = 2 * 1024 * 1024

STAGE_CHOICES = [SelectChoice(stage, stage.capitalize()) for stage in PIPELINE]
CHANNEL_LABELS = {
    ContactChannel.PHONE.value: "Phone call",
    ContactChannel.MEETING.value: "Meeting",
    ContactChannel.EMAIL.value: "Email sent outside this app",
    ContactChannel.OTHER.value: "Other",
}
CHANNEL_CHOICES = [SelectChoice(value, label) for value, label in CHANNEL_LABELS.items()]


class StageForm(ReturnForm):
    stage = SelectField(_l("Move to stage"), choices=STAGE_CHOICES, validators=[DataRequired()])


class ContactForm(PromiseForm):
    """A logged contact; with a promised date (what the manager told them), the next wait is due on it."""

    channel = SelectField(_l("How they heard from you"), choices=CHANNEL_CHOICES, validators=[DataRequired()])
    note = TextAreaField(
        _l("What you told them (optional)"),
        filters=[stripped],
        validators=[Optional(), Length(max=NOTE_LIMIT)],
    )


class NoteForm(ReturnForm):
    body = TextAreaField(
        _l("Internal note"),
        filters=[stripped],
        validators=[DataRequired(message=_l("Internal note: write some text")), Length(max=NOTE_LIMIT)],
    )


class WithdrawForm(ReturnForm):
    reason = StringField(
        _l("Reason (optional)"), filters=[stripped], validators=[Optional(), Length(max=REASON_LIMIT)]
    )


class DetailsForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[stripped],
        validators=[DataRequired(message=_l("Name: must not be empty")), Length(max=200)],
    )
    email = StringField(
        _l("Email"),
        filters=[stripped],
        validators=[DataRequired(message=_l("Email: must not be empty")), valid_email],
    )
    #: Where the candidate lives, when known: an email sent later goes out at their hour.
    time_zone = SelectField(
        _l("Candidate's time zone (optional)"), validators=[Optional(), valid_time_zone], default=""
    )
    #: The language their emails and status page are written in: one of the organisation's.
    language = SelectField(_l("Language"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = [SelectChoice("", _l("Not known: the position's"))] + zone_choices()
        settings = settings_service.load(db.session)
        offered = list(settings.languages)
        current = getattr(kwargs.get("obj"), "language", None)
        if current and current not in offered:  # theirs, no longer enabled: offered to keep
            offered.append(current)
        self.language.choices = [SelectChoice(tag, languages.label(tag)) for tag in offered]
        if not self.language.data:
            self.language.data = settings.languages_default


class NewCandidateForm(DetailsForm):
    position = SelectField(_l("Position"), coerce=int, validate_choice=True, validators=[DataRequired()])
    applied_at = DateTimeLocalField(
        _l("Applied at"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[Optional()],
    )
    stage = SelectField(_l("Stage"), choices=STAGE_CHOICES, default="applied")


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(message=_l("CSV file: choose a file"))])
