"""Organisation settings: definitions, validation, and a typed snapshot for the clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from feedback_sla import config as app_config
from feedback_sla import languages
from feedback_sla.emails.config import EmailConfig
from feedback_sla.errors import DomainError
from feedback_sla.settings.definitions import (
    CANDIDATE_VOICE,
    Definition,
    _days_or_off,
    _positive_int,
    _switch,
)
from feedback_sla.settings.models import Setting
from feedback_sla.text import clean_line
from feedback_sla.timeutil import validate_time_zone
from feedback_sla.waits import clock, lifecycle
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import WaitReason


class SettingError(ValueError):
    """A setting key or value that cannot be accepted; the message says why."""


def _time_of_day(text: str) -> dt.time:
    if not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise ValueError(f"{text!r} is not a time of day HH:MM (e.g. 18:00)")
    hours, minutes = (int(p) for p in text.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day HH:MM (e.g. 18:00)")
    return dt.time(hours, minutes)


def _calendar(text: str) -> str:
    code = text.strip()
    clock.holiday_calendar(code)  # raises ValueError with the reason
    return code


#: The longest company name: it is the sender's name of every email and sits in every subject.
MAX_COMPANY_NAME = 200


def _company_name(text: str) -> str:
    try:
        return clean_line(text, "company name", MAX_COMPANY_NAME)
    except DomainError as exc:
        raise ValueError(str(exc).removeprefix("company name: ")) from None


_ENABLED = "Languages candidates are written to (emails, status page), of en, de, fr, es, nl."
_DEFAULT_LANGUAGE = "The language of a candidate nobody chose one for (always enabled)."
LANGUAGE_KEYS = ("languages.enabled", "languages.default")


DEFINITIONS: dict[str, Definition] = {
    d.key: d
    for d in (
        Definition(
            "time_zone",
            "UTC",
            validate_time_zone,
            "Organisation time zone (IANA name); the default for new users.",
        ),
        Definition(
            "holiday_calendar",
            "",
            _calendar,
            "Public holidays skipped by deadlines: ISO 3166 country with optional "
            "subdivision (US, US-NY, DE-BY); empty for none.",
        ),
        Definition(
            "end_of_business_day",
            "18:00",
            _time_of_day,
            "Local time at which a business day ends; deadlines fall at this hour.",
        ),
        Definition(
            "warning_business_days",
            "1",
            _positive_int(0, 30),
            "Business days before the deadline a wait becomes due soon.",
        ),
        Definition(
            "escalate_after_days",
            "14",
            _positive_int(1, 365),
            "Calendar days a wait may stay open before it is escalated.",
        ),
        Definition(
            "escalate_after_followups",
            "2",
            _positive_int(1, 100),
            "Candidate follow-ups during one wait that escalate it.",
        ),
        Definition(
            "policy.application",
            "5",
            _positive_int(1, 90),
            "Business days to answer a new application.",
        ),
        Definition(
            "policy.decision",
            "3",
            _positive_int(1, 90),
            "Business days to decide after an interview.",
        ),
        Definition(
            "policy.follow_up",
            "2",
            _positive_int(1, 90),
            "Business days to reply when a candidate asks for news.",
        ),
        Definition(
            "company_name",
            str(app_config.DEFAULTS["ORGANISATION_NAME"]),
            _company_name,
            "The company candidates read in every email: in the subject, the text and the "
            "sender's name. Until it is changed here, the name the app was configured with.",
            config_key="ORGANISATION_NAME",
        ),
        Definition(
            "status_page.enabled",
            "on",
            _switch,
            "on or off: candidate emails carry a private link to a page that shows where their "
            "application stands, where they can ask for news or withdraw.",
        ),
        Definition(
            "status_page.days_after_decision",
            "90",
            _positive_int(1, 3650),
            "Days a candidate's status link keeps working after the final decision.",
        ),
        Definition(
            "autopilot.lead_business_hours",
            "4",
            _positive_int(1, 80),
            "Business hours before a deadline at which autopilot sends a status update, on "
            "positions that have autopilot on.",
        ),
        Definition(
            "autopilot.max_per_wait",
            "2",
            _positive_int(1, 10),
            "Status updates autopilot queues for one wait (they failed or were cancelled) before "
            "it leaves the answer to the manager (and says so in their digest).",
        ),
        Definition(
            "retention.days_after_decision",
            "",
            _days_or_off,
            "Days after the final decision at which a candidate's personal data is erased by "
            "`feedback-sla retention run`; empty (or off) keeps it.",
        ),
        Definition("languages.enabled", ", ".join(languages.SHIPPED), languages.parse_enabled, _ENABLED),
        Definition("languages.default", languages.DEFAULT, languages.parse_default, _DEFAULT_LANGUAGE),
        Definition(
            "bulk.confirm_above",
            "25",
            _positive_int(1, 100_000),
            "Candidates answered at once above which the manager types their number to confirm.",
        ),
        *CANDIDATE_VOICE,
    )
}


def definition_of(key: str) -> Definition:
    """The definition of a setting; SettingError lists the known keys for an unknown one."""
    definition = DEFINITIONS.get(key)
    if definition is None:
        raise SettingError(f"unknown setting {key!r}; known: {', '.join(DEFINITIONS)}")
    return definition


def parse_value(key: str, value: str) -> object:
    definition = definition_of(key)
    try:
        return definition.parse(value)
    except ValueError as exc:
        raise SettingError(f"{key}: {exc}") from None


def default_of(definition: Definition, config: Mapping[str, object] | None = None) -> str:
    """A setting's value while it was never set: the configuration's, if it gives one."""
    configured = config.get(definition.config_key) if config and definition.config_key else None
    return configured.strip() if isinstance(configured, str) else definition.default


# --- reading: once per transaction -------------------------------------------------------------
# A page, and the action it runs, read the settings several times (the clock's, the company name,
# the status page switch): the stored rows are read once, kept in the session until its
# transaction ends, and kept up to date by ``store``.

_STORED = "feedback_sla.settings"
_ALL = select(Setting.key, Setting.value)


def _stored(session: Session) -> dict[str, str]:
    """The stored settings' text by key, as this transaction has read (or written) them."""
    stored = session.info.get(_STORED)
    if stored is None:
        stored = session.info[_STORED] = dict(session.execute(_ALL).all())
    return stored


@event.listens_for(Session, "after_transaction_end")
def _forget_stored(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: read them again next time
        session.info.pop(_STORED, None)


def raw_values(session: Session, config: Mapping[str, object] | None = None) -> dict[str, str]:
    """Every setting as stored text, defaults (from ``config`` where it gives them) filled in."""
    stored = _stored(session)
    return {key: stored.get(key, default_of(d, config)) for key, d in DEFINITIONS.items()}


#: The settings the clock reads, by key; the others (the company name) are read on their own.
CLOCK_KEYS = tuple(
    key
    for key in DEFINITIONS
    if key.replace(".", "_") in {field.name for field in dataclasses.fields(OrgSettings)}
)


def load(session: Session) -> OrgSettings:
    raw = raw_values(session)
    return OrgSettings(**{key.replace(".", "_"): parse_value(key, raw[key]) for key in CLOCK_KEYS})


def value_of(session: Session, key: str) -> object:
    """One setting, parsed: the stored value, else its default."""
    definition = definition_of(key)
    return parse_value(key, _stored(session).get(key, default_of(definition)))


def company_name(session: Session, configured: str) -> str:
    """The company named in candidate emails: the admins' setting, else ``configured``
    (ORGANISATION_NAME)."""
    return _stored(session).get("company_name", configured)


def email_config(session: Session, config: EmailConfig) -> EmailConfig:
    """The email settings with the company name as the admins set it and whether candidate
    emails carry a status page link: what every email, preview and digest is written and sent with."""
    return dataclasses.replace(
        config,
        organisation_name=company_name(session, config.organisation_name),
        status_page=bool(value_of(session, "status_page.enabled")),
        languages=languages.enabled_with_default(*(value_of(session, key) for key in LANGUAGE_KEYS)),
    )


def store(session: Session, key: str, value: str) -> object:
    """Validate and store one setting (the caller commits); returns the parsed value."""
    parsed = parse_value(key, value)
    text = value.strip()
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=text))
    else:
        row.value = text
    _stored(session)[key] = text
    return parsed


_POLICY = "policy."
#: Keys whose change can move the deadlines of open waits: their due date, the time they become
#: due soon (``warning_business_days`` moves only that) or escalate (``escalate_after_days``).
DEADLINE_KEYS = frozenset(
    {
        "holiday_calendar",
        "end_of_business_day",
        "warning_business_days",
        "escalate_after_days",
        "policy.application",
        "policy.decision",
        "policy.follow_up",
    }
)


class SettingsInvalid(SettingError):
    """Several values refused at once; ``errors`` maps each key to its reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in errors.items()))
        self.errors = errors


def store_all(
    session: Session, values: dict[str, str], config: Mapping[str, object] | None = None
) -> frozenset[str]:
    """Validate every value first, then store those that changed; returns the changed keys.

    A value equal to the default ``config`` gives is no change: the setting keeps following the
    configuration. Nothing is stored when any value is refused (the caller commits).
    """
    errors: dict[str, str] = {}
    for key, value in values.items():
        try:
            parse_value(key, value)
        except SettingError as exc:
            errors[key] = str(exc).removeprefix(f"{key}: ")
    if errors:
        raise SettingsInvalid(errors)
    current = raw_values(session, config)
    changed = frozenset(key for key, value in values.items() if value.strip() != current[key])
    for key in changed:
        store(session, key, values[key])
    return changed


@dataclass(frozen=True)
class SettingsUpdate:
    """What a change of settings did: the keys that changed, and what the recompute of the open
    waits moved (None when no changed key can move a wait's deadlines)."""

    changed: frozenset[str]
    recomputed: lifecycle.Recomputed | None

    @property
    def moved(self) -> int | None:
        """How many open waits were rewritten; None when none was recomputed."""
        return None if self.recomputed is None else self.recomputed.changed


def update(
    session: Session,
    values: dict[str, str],
    *,
    recompute: bool = False,
    config: Mapping[str, object] | None = None,
) -> SettingsUpdate:
    """Store the changed settings and recompute the open waits they move (the caller commits).

    ``recompute`` recomputes every open wait even when no deadline setting changed (after an
    upgrade brings a new holiday calendar); ``config`` is the app's configuration, which gives
    the company name's default. Nothing is stored when any value is refused: an unknown key
    raises SettingError, SettingsInvalid names each bad value.

    The settings and the waits they move are written in the caller's one transaction; the waits
    are recomputed a batch at a time (``lifecycle.recompute_waits``), so memory stays flat.
    """
    for key in values:
        definition_of(key)
    changed = store_all(session, values, config)
    moving = changed & DEADLINE_KEYS
    if not (recompute or moving):
        return SettingsUpdate(changed, None)
    reasons = None if recompute else _reasons_moved(moving)
    return SettingsUpdate(changed, lifecycle.recompute_waits(session, load(session), reasons=reasons))


def _reasons_moved(keys: frozenset[str]) -> frozenset[WaitReason] | None:
    """The reasons of the waits a change of ``keys`` can move; None for every reason.

    A reason's business days (``policy.<reason>``) move only the waits of that reason; the
    others (calendar, hours, warning, escalation) move any wait.
    """
    if not all(key.startswith(_POLICY) for key in keys):
        return None
    return frozenset(WaitReason(key.removeprefix(_POLICY)) for key in keys)
