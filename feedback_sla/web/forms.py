"""What the pages share about forms: field checks, the return address, the promised date."""

from __future__ import annotations

import datetime as dt
import functools

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField
from wtforms.fields import SelectChoice
from wtforms.validators import Optional, ValidationError

from feedback_sla.addresses import InvalidAddress, normalize_address
from feedback_sla.timeutil import validate_time_zone, zone_names


def errors_text(form: FlaskForm) -> str:
    """Every error of the form on one line, each after its field's label unless it names it."""
    parts = []
    for field in form:
        for error in map(str, field.errors):
            label = str(field.label.text)
            parts.append(error if not label or error.startswith(label) else f"{label}: {error}")
    return "; ".join(parts + [str(error) for error in form.form_errors]) or gettext("the form was not valid")


def valid_email(_form, field) -> None:
    """An address by the one rule (``addresses.normalize_address``); the field keeps it as the rule
    does (lower case), and an error says why without the field's name, which the label gives."""
    try:
        field.data = normalize_address(field.data or "", field.name)
    except InvalidAddress as exc:
        raise ValidationError(exc.reason) from None


def stripped(value):
    """A field filter: text without surrounding whitespace."""
    return value.strip() if isinstance(value, str) else value


@functools.cache
def zone_choices() -> list[SelectChoice]:
    names = sorted(zone_names())
    return [SelectChoice(name, name.replace("_", " ")) for name in names]


def valid_time_zone(_form, field) -> None:
    try:
        validate_time_zone(field.data or "")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


#: A ``next`` ending so means "back to the row of the candidate acted on": the triage page's
#: buttons share one form, and each view knows its candidate.
ROW_OF_CANDIDATE = "#row"


class ReturnForm(FlaskForm):
    """A form posted from a list or a candidate page; ``next`` is where to go afterwards, and ``row``
    the list row a button was on, when ``next`` does not say to come back to the candidate's row."""

    next = HiddenField()
    row = HiddenField()

    def back_to(self, candidate_id: int) -> str | None:
        """``next``, at the row of ``candidate_id`` when it ends in ``#row``, or at ``row``."""
        back = self.next.data or None
        if not back:
            return None
        row = self.row.data or ""
        if back.endswith(ROW_OF_CANDIDATE):
            back, row = back.removesuffix(ROW_OF_CANDIDATE), str(candidate_id)
        if row.isdigit() and len(row) < 12 and "#" not in back:
            back = f"{back}#row-{row}"
        return back


class PromiseForm(ReturnForm):
    promised_date = DateField(_l("Promised an answer by"), validators=[Optional()])

    def __init__(self, *args, today: dt.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_promised_date(self, field) -> None:
        if field.data is not None and self.today is not None and field.data < self.today:
            raise ValidationError(
                gettext(
                    "Promised an answer by: %(date)s is in the past "
                    "(today is %(today)s in the position's time zone)",
                    date=field.data.isoformat(),
                    today=self.today.isoformat(),
                )
            )


def moved_message(moved: int) -> str:
    """What a saved change of policy did to the deadlines of open waits."""
    if moved == 0:
        return gettext("Saved. No open wait's deadline changed.")
    return ngettext(
        "Saved. %(num)d open wait got a new deadline.", "Saved. %(num)d open waits got new deadlines.", moved
    )
