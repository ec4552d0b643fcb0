"""The position form: title, time zone, hiring manager and per-reason business days."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from feedback_sla.positions.service import REASONS, check_days
from feedback_sla.web.forms import valid_time_zone, zone_choices
from feedback_sla.web.transaction import Refused, attempt

DAYS = {"inputmode": "numeric", "autocomplete": "off"}


#: The time zone choice that means "the hiring manager's", offered when creating a position.
MANAGERS_ZONE = ""


def _position_zone(form, field) -> None:
    if not (form.managers_zone_allowed and field.data == MANAGERS_ZONE):
        valid_time_zone(form, field)


def _business_days(form, field) -> None:
    """Blank keeps the organisation default; anything else is 1 to 90 business days."""
    if (field.data or "").strip():
        checked = attempt(lambda: check_days(field.name, field.data))
        if isinstance(checked, Refused):
            raise ValidationError(checked.reason.removeprefix(f"{field.name}: "))


class PositionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    # Checked against the zone database with a readable reason, not "Not a valid choice".
    time_zone = SelectField(_l("Time zone"), validate_choice=False, validators=[_position_zone])
    manager_id = SelectField(_l("Hiring manager"), coerce=int)
    application = StringField(
        _l("Business days to answer an application"), validators=[_business_days], render_kw=DAYS
    )
    decision = StringField(
        _l("Business days to decide after an interview"), validators=[_business_days], render_kw=DAYS
    )
    follow_up = StringField(
        _l("Business days to reply to a follow-up"), validators=[_business_days], render_kw=DAYS
    )
    autopilot = BooleanField(_l("Autopilot: send candidates a status update before their deadline passes"))

    def __init__(self, *args, managers=None, managers_zone_allowed=False, **kwargs):
        """``managers``: the users an admin may choose from; None drops the field entirely.

        ``managers_zone_allowed`` offers "the hiring manager's zone" as the first choice.
        """
        super().__init__(*args, **kwargs)
        self.managers_zone_allowed = managers_zone_allowed
        self.time_zone.choices = zone_choices()
        if managers_zone_allowed:
            self.time_zone.choices = [
                SelectChoice(MANAGERS_ZONE, _l("The hiring manager's time zone")),
                *self.time_zone.choices,
            ]
        if managers is None:
            del self.manager_id
        else:
            self.manager_id.choices = [SelectChoice(m.id, f"{m.name} ({m.email})") for m in managers]

    def overrides(self) -> dict[str, int]:
        """The non-blank business days by reason."""
        return {
            reason: check_days(reason, getattr(self, reason).data)
            for reason in REASONS
            if (getattr(self, reason).data or "").strip()
        }

    def show_defaults(self, settings) -> None:
        """The organisation's business days as placeholders of the blank override fields."""
        for reason in REASONS:
            field = getattr(self, reason)
            field.render_kw = {**DAYS, "placeholder": f"{settings.policy_days(reason)} (default)"}

    def fill_overrides(self, overrides: dict) -> None:
        for reason in REASONS:
            value = overrides.get(reason)
            getattr(self, reason).data = "" if value is None else str(value)
