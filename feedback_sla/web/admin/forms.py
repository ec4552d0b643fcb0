"""Admin forms: users and organisation settings."""

from __future__ import annotations

import functools

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from feedback_sla import languages
from feedback_sla.accounts.models import Role
from feedback_sla.accounts.service import MAX_PASSWORD, MIN_PASSWORD
from feedback_sla.settings.service import DEFINITIONS, MAX_COMPANY_NAME
from feedback_sla.web.forms import valid_email, valid_time_zone, zone_choices

ROLE_CHOICES = [
    SelectChoice(Role.MANAGER.value, _l("Hiring manager")),
    SelectChoice(Role.ADMIN.value, _l("Admin")),
]


class NewUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), valid_email])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.MANAGER.value)
    time_zone = SelectField(_l("Time zone"), validate_choice=False, validators=[valid_time_zone])
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD)],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices()


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)

    def role_label(self) -> str:
        return next(c.label for c in ROLE_CHOICES if c.value == self.role.data)


#: Setting key -> form label, in the form's order; the help text comes from the setting's definition.
LABELS = {
    "company_name": _l("Company name"),
    "time_zone": _l("Default time zone"),
    "holiday_calendar": _l("Holiday calendar"),
    "end_of_business_day": _l("End of business day (HH:MM)"),
    "warning_business_days": _l("Warning window (business days before the deadline)"),
    "escalate_after_days": _l("Escalate after (calendar days waiting)"),
    "escalate_after_followups": _l("Escalate after (candidate follow-ups)"),
    "policy.application": _l("Business days to answer an application"),
    "policy.decision": _l("Business days to decide after an interview"),
    "policy.follow_up": _l("Business days to reply to a follow-up"),
    "status_page.enabled": _l("Candidate status page"),
    "status_page.days_after_decision": _l("Status links work for (days after the decision)"),
    "autopilot.lead_business_hours": _l("Autopilot writes (business hours before the deadline)"),
    "autopilot.max_per_wait": _l("Autopilot updates per candidate, at most"),
    "retention.days_after_decision": _l("Erase personal data (days after the decision; empty keeps it)"),
    "bulk.confirm_above": _l("Answers to many at once: type the number above"),
    "languages.enabled": _l("Candidates' languages (tags, separated by commas)"),
    "languages.default": _l("Default language"),
    "survey.enabled": _l("Candidate survey after the decision"),
    "survey.days_open": _l("Survey open for (days after the decision)"),
    "survey.report_floor": _l("Fewest answers a group needs to be shown"),
    "my_data.include_internal": _l('"Download my data" includes internal notes and reasons'),
}

#: The settings page's fieldsets: a legend, what changing them does, and their settings in order.
FIELDSETS = (
    (_l("Organisation"), None, ("company_name", "time_zone")),
    (
        _l("Deadlines"),
        _l("A change here moves the deadlines of candidates already waiting."),
        (
            "policy.application",
            "policy.decision",
            "policy.follow_up",
            "holiday_calendar",
            "end_of_business_day",
        ),
    ),
    (
        _l("Warnings and escalation"),
        _l("A change here moves when waiting candidates become due soon or escalate; no deadline moves."),
        ("warning_business_days", "escalate_after_days", "escalate_after_followups"),
    ),
    (_l("Candidate status page"), None, ("status_page.enabled", "status_page.days_after_decision")),
    (_l("Autopilot"), None, ("autopilot.lead_business_hours", "autopilot.max_per_wait")),
    (_l("Retention"), None, ("retention.days_after_decision",)),
    (
        _l("Candidate survey and data requests"),
        None,
        ("survey.enabled", "survey.days_open", "survey.report_floor", "my_data.include_internal"),
    ),
    (_l("Candidates' languages"), None, ("languages.enabled", "languages.default")),
)

SWITCH_CHOICES = [SelectChoice("on", _l("On")), SelectChoice("off", _l("Off"))]


def _whole(low: int, high: int) -> dict:
    """A number box for a whole number; ``settings.service`` still checks what is posted."""
    return {"type": "number", "min": low, "max": high, "step": 1, "inputmode": "numeric"}


@functools.cache
def calendar_choices() -> dict[str, list[SelectChoice]]:
    """Every calendar the ``holidays`` package knows, by country: the country, then its
    subdivisions; first the choice of none."""
    import holidays
    from holidays.registry import COUNTRIES

    supported = holidays.list_supported_countries()
    groups: dict[str, list[SelectChoice]] = {"": [SelectChoice("", _l("No public holidays"))]}
    for module, (_class_name, code, *_rest) in sorted(COUNTRIES.items()):
        name = module.replace("_", " ").title()
        options = [SelectChoice(code, f"{name} ({code}), the whole country")]
        options += [SelectChoice(f"{code}-{sub}", f"{name}: {sub}") for sub in supported.get(code, [])]
        groups[name] = options
    return groups


def field_name(key: str) -> str:
    return key.replace(".", "_")


class SettingsForm(FlaskForm):
    """Every organisation setting as text; values are checked by ``settings.service``."""

    company_name = StringField(
        LABELS["company_name"], render_kw={"maxlength": MAX_COMPANY_NAME, "autocomplete": "organization"}
    )
    holiday_calendar = SelectField(LABELS["holiday_calendar"], validate_choice=False)
    time_zone = SelectField(LABELS["time_zone"], validate_choice=False)
    end_of_business_day = StringField(LABELS["end_of_business_day"], render_kw={"type": "time"})
    warning_business_days = StringField(LABELS["warning_business_days"], render_kw=_whole(0, 30))
    escalate_after_days = StringField(LABELS["escalate_after_days"], render_kw=_whole(1, 365))
    escalate_after_followups = StringField(LABELS["escalate_after_followups"], render_kw=_whole(1, 100))
    policy_application = StringField(LABELS["policy.application"], render_kw=_whole(1, 90))
    policy_decision = StringField(LABELS["policy.decision"], render_kw=_whole(1, 90))
    policy_follow_up = StringField(LABELS["policy.follow_up"], render_kw=_whole(1, 90))
    status_page_enabled = SelectField(LABELS["status_page.enabled"], choices=SWITCH_CHOICES)
    status_page_days_after_decision = StringField(
        LABELS["status_page.days_after_decision"], render_kw=_whole(1, 3650)
    )
    autopilot_lead_business_hours = StringField(
        LABELS["autopilot.lead_business_hours"], render_kw=_whole(1, 80)
    )
    autopilot_max_per_wait = StringField(LABELS["autopilot.max_per_wait"], render_kw=_whole(1, 10))
    retention_days_after_decision = StringField(
        LABELS["retention.days_after_decision"], render_kw=_whole(1, 3650)
    )
    bulk_confirm_above = StringField(LABELS["bulk.confirm_above"], render_kw=_whole(1, 100_000))
    languages_enabled = StringField(LABELS["languages.enabled"])
    survey_enabled = SelectField(LABELS["survey.enabled"], choices=SWITCH_CHOICES)
    survey_days_open = StringField(LABELS["survey.days_open"], render_kw=_whole(1, 365))
    survey_report_floor = StringField(LABELS["survey.report_floor"], render_kw=_whole(3, 10_000))
    my_data_include_internal = SelectField(LABELS["my_data.include_internal"], choices=SWITCH_CHOICES)
    languages_default = SelectField(
        LABELS["languages.default"],
        choices=[SelectChoice(tag, f"{languages.name_of(tag, 'en')} ({tag})") for tag in languages.SHIPPED],
        validate_choice=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices()
        self.holiday_calendar.choices = calendar_choices()

    def offer_current_calendar(self) -> None:
        """A stored or posted calendar the list does not know stays visible, as what it is."""
        code = self.holiday_calendar.data or ""
        known = {choice.value for group in self.holiday_calendar.choices.values() for choice in group}
        if code not in known:
            choices = dict(self.holiday_calendar.choices)
            choices[""] = [SelectChoice(code, f"{code} (not a calendar this app knows)"), *choices[""]]
            self.holiday_calendar.choices = choices

    def fields_by_key(self):
        """(setting key, field, help text) for every setting, in the order of ``LABELS``."""
        return [(key, self[field_name(key)], DEFINITIONS[key].help) for key in LABELS]

    def fieldsets(self):
        """(legend, note, [(key, field, help text)]) for each fieldset of ``FIELDSETS``; a setting
        no fieldset names comes last, under "Other settings", so none is ever left off the page."""
        grouped = [*FIELDSETS]
        named = {key for _legend, _note, keys in FIELDSETS for key in keys}
        rest = tuple(key for key in LABELS if key not in named)
        if rest:
            grouped.append(("Other settings", None, rest))
        return [
            (legend, note, [(key, self[field_name(key)], DEFINITIONS[key].help) for key in keys])
            for legend, note, keys in grouped
        ]

    def fill(self, values: dict[str, str]) -> None:
        for key, field, _help in self.fields_by_key():
            field.data = values[key]

    def values(self) -> dict[str, str]:
        return {key: field.data or "" for key, field, _help in self.fields_by_key()}

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, reason in errors.items():
            self[field_name(key)].errors = [*self[field_name(key)].errors, reason]
