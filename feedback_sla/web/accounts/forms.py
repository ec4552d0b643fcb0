from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

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
