from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from feedback_sla.web.forms import stripped, valid_time_zone, zone_choices


class PersonalSettingsForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    #: A list of the IANA zones; what is posted is checked against them all the same.
    time_zone = SelectField(
        "Time zone",
        filters=[stripped],
        validate_choice=False,
        validators=[DataRequired(), Length(max=64), valid_time_zone],
    )
    digest_enabled = BooleanField("Send me the daily digest")
    digest_hour = SelectField(
        "Digest hour (your local time)",
        coerce=int,
        choices=[SelectChoice(h, f"{h:02d}:00") for h in range(24)],
    )
    digest_empty = BooleanField("Send it also on days when nobody is waiting on me")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = zone_choices()


class TokenForm(FlaskForm):
    token_name = StringField(
        "Token name", filters=[stripped], validators=[DataRequired(), Length(max=100)], default="API token"
    )


class RevokeTokenForm(FlaskForm):
    """Only its CSRF token: revoking a token is a POST like every other change."""


class CalendarForm(FlaskForm):
    """Only its CSRF token: creating or revoking the calendar link is a POST."""


_HOURS = [SelectChoice("", "none")] + [SelectChoice(str(h), f"{h:02d}:00") for h in range(24)]


class ChatForm(FlaskForm):
    """Where the digest and the nudges reach the user besides email, and when not."""

    digest_slack = BooleanField("Digest in Slack")
    digest_teams = BooleanField("Digest in Teams")
    nudge_slack = BooleanField("Nudges in Slack")
    nudge_teams = BooleanField("Nudges in Teams")
    quiet_from = SelectField("Quiet hours from", choices=_HOURS, default="")
    quiet_until = SelectField("Quiet hours until", choices=_HOURS, default="")
    daily_cap = IntegerField(
        "Nudges a day, at most", default=20, validators=[InputRequired(), NumberRange(1, 200)]
    )
    teams_webhook = PasswordField("My Teams workflow URL", filters=[stripped], validators=[Length(max=2000)])
    forget_teams_webhook = BooleanField("Remove my Teams workflow URL")
