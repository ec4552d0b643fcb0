from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from feedback_sla import languages
from feedback_sla.web import i18n
from feedback_sla.web.forms import stripped, valid_time_zone, zone_choices


class PersonalSettingsForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    #: A list of the IANA zones; what is posted is checked against them all the same.
    time_zone = SelectField(
        _l("Time zone"),
        filters=[stripped],
        validate_choice=False,
        validators=[DataRequired(), Length(max=64), valid_time_zone],
    )
    digest_enabled = BooleanField(_l("Send me the daily digest"))
    digest_hour = SelectField(
        _l("Digest hour (your local time)"),
        coerce=int,
        choices=[SelectChoice(h, f"{h:02d}:00") for h in range(24)],
    )
    digest_empty = BooleanField(_l("Send it also on days when nobody is waiting on me"))
    #: The organisation's languages the app's pages ship in; empty: the browser's (Accept-Language).
    language = SelectField(_l("Language"), filters=[lambda value: value or ""])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices()
        pages = [tag for tag in i18n.organisation_languages() if tag in languages.APP]
        self.language.choices = [SelectChoice("", gettext("Browser's language"))] + [
            SelectChoice(tag, languages.label(tag)) for tag in pages
        ]


class TokenForm(FlaskForm):
    token_name = StringField(
        _l("Token name"),
        filters=[stripped],
        validators=[DataRequired(), Length(max=100)],
        default=_l("API token"),
    )


class RevokeTokenForm(FlaskForm):
    """Only its CSRF token: revoking a token is a POST like every other change."""


class CalendarForm(FlaskForm):
    """Only its CSRF token: creating or revoking the calendar link is a POST."""


_HOURS = [SelectChoice("", _l("none"))] + [SelectChoice(str(h), f"{h:02d}:00") for h in range(24)]


class ChatForm(FlaskForm):
    """Where the digest and the nudges reach the user besides email, and when not."""

    digest_slack = BooleanField(_l("Digest in Slack"))
    digest_teams = BooleanField(_l("Digest in Teams"))
    nudge_email = BooleanField(_l("Nudges by email"))
    nudge_slack = BooleanField(_l("Nudges in Slack"))
    nudge_teams = BooleanField(_l("Nudges in Teams"))
    quiet_from = SelectField(_l("Quiet hours from"), choices=_HOURS, default="")
    quiet_until = SelectField(_l("Quiet hours until"), choices=_HOURS, default="")
    daily_cap = IntegerField(
        _l("Nudges a day, at most"), default=20, validators=[InputRequired(), NumberRange(1, 200)]
    )
    teams_webhook = PasswordField(
        _l("My Teams workflow URL"), filters=[stripped], validators=[Length(max=2000)]
    )
    forget_teams_webhook = BooleanField(_l("Remove my Teams workflow URL"))
