"""Forms for sending candidate emails and for editing their templates."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from feedback_sla.emails import checks, composing, scheduling
from feedback_sla.web.email_parts import SendForm
from feedback_sla.web.forms import ReturnForm, stripped

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


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SendLaterForm(SendForm):
    """When the email goes: after the undo window, tomorrow morning, or at a chosen time, each on
    the candidate's clock (the page names the zone)."""

    send_when = RadioField(
        _l("Send"),
        choices=[
            SelectChoice("now", _l("After the undo window")),
            SelectChoice("tomorrow", _l("Tomorrow at 09:00")),
            SelectChoice("at", _l("At a date and time I choose")),
        ],
        default="now",
    )
    send_at = DateTimeLocalField(_l("Date and time"), format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def chosen_send_at(self) -> scheduling.SendAt | None:
        """The send time asked for; None: after the undo window."""
        if self.send_when.data == "tomorrow":
            return scheduling.SendAt(tomorrow=scheduling.MORNING)
        if self.send_when.data == "at":
            return scheduling.SendAt(at=self.send_at.data)
        return None


class CustomizeForm(SendLaterForm):
    """One more click: the message with this candidate's details, to edit before queueing it."""

    subject = StringField(
        _l("Subject"),
        filters=[stripped],
        validators=[
            DataRequired(message=_l("Subject: must not be empty")),
            Length(max=composing.MAX_SUBJECT),
        ],
    )
    text = TextAreaField(
        _l("Message"),
        validators=[DataRequired(message=_l("Message: must not be empty")), Length(max=composing.MAX_BODY)],
        render_kw={"rows": 16},
    )
    feedback = TextAreaField(
        _l("Feedback for the candidate (optional)"),
        filters=[stripped],
        validators=[Optional(), Length(max=checks.MAX_FEEDBACK)],
        render_kw={"rows": 4},
    )
    reasons = MultiCheckboxField(
        _l("Internal rejection reasons (never sent)"),
        choices=[SelectChoice(r, r) for r in REJECTION_REASONS],
        validate_choice=True,
    )
    other_reason = StringField(
        _l("Other internal reason"),
        filters=[stripped],
        validators=[Optional(), Length(max=checks.MAX_REASON)],
    )
    # Fingerprints of the subject and message as last shown: equal means "not edited".
    shown_subject = HiddenField()
    shown_text = HiddenField()
    #: The template picked ("" the candidate's default, "0" the shipped one, else its id), and the
    #: one the message shown was written from: another one picked rewrites the message.
    template = SelectField(_l("Template"), choices=[], validate_choice=False)
    shown_template = HiddenField()

    def picked_template(self) -> int | None:
        return picked(self.template.data)

    def picked_reasons(self) -> list[str]:
        return list(self.reasons.data or []) + ([self.other_reason.data] if self.other_reason.data else [])


def picked(value: str | None) -> int | None:
    """A template picker's value: None for the default, else the template (``choosing.SHIPPED``: 0)."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


class MessageForm(ReturnForm):
    """Undo or retry one message."""


class TemplateForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[DataRequired(message=_l("Subject: must not be empty"))])
    text = TextAreaField(
        _l("Text part"),
        validators=[DataRequired(message=_l("Text part: must not be empty"))],
        render_kw={"rows": 16},
    )
    html = TextAreaField(
        _l("HTML part"),
        validators=[DataRequired(message=_l("HTML part: must not be empty"))],
        render_kw={"rows": 16},
    )


class NamedTemplateForm(TemplateForm):
    """A named template: its name first, what managers pick it by."""

    name = StringField(
        _l("Name"),
        filters=[stripped],
        validators=[DataRequired(message=_l("Name: must not be empty")), Length(max=100)],
        description="What managers pick it by, such as “Rejection after final interview”.",
    )


class BulkForm(SendLaterForm):
    """One answer to the selected candidates; above the organisation's threshold their number typed."""

    feedback = CustomizeForm.feedback
    template = SelectField(_l("Template"), choices=[], validate_choice=False)
    reasons = CustomizeForm.reasons
    other_reason = CustomizeForm.other_reason
    confirm = StringField(
        _l("Type the number of candidates to confirm"),
        filters=[stripped],
        validators=[Optional(), Length(max=9)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    def picked_reasons(self) -> list[str]:
        return list(self.reasons.data or []) + ([self.other_reason.data] if self.other_reason.data else [])

    def picked_template(self) -> int | None:
        return picked(self.template.data)

    def typed(self) -> int | None:
        """The number typed to confirm; None when nothing (or no number) was typed."""
        value = self.confirm.data or ""
        return int(value) if value.isdigit() else None
