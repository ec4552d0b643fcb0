"""Greenhouse Harvest webhooks: ``{"action": ..., "payload": {...}}``, one event id per delivery in
the ``Greenhouse-Event-ID`` header. Read as Greenhouse documents them
(https://developers.greenhouse.io/webhooks.html).

Actions read: ``ping`` (sent when the webhook is created), ``new_candidate_application``,
``candidate_stage_change``, ``reject_candidate`` (a rejection whose reason type is "They rejected
us" is a withdrawal), ``hire_candidate`` (no dates of the application: the hire is when the offer
was accepted, ``offer.resolved_at``, else when the delivery arrived), ``delete_candidate`` (the
person, ``person.id``, and the applications deleted with them), ``merge_candidate`` (``person.id``
merged into ``person.new_candidate_id``) and ``candidate_anonymized`` (when the name or the email
addresses were anonymized: the person is erased here).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, first_time, ident, idents, parse_time

#: Anonymized fields that are personal data kept here: anonymizing one erases the person here.
ANONYMIZED_HERE = frozenset({"full_name", "email_addresses"})


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """The event id (the header; a hash of the body when it is missing) and the action."""
    event_id = headers.get("Greenhouse-Event-ID") or hashlib.sha256(body).hexdigest()
    return event_id, str(payload.get("action") or "")


def read(payload: dict, received_at: dt.datetime, api=None) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("action") or ""))
    return tuple(reader(payload.get("payload") or {}, received_at)) if reader else ()


def _candidate_name(candidate: dict) -> str:
    return " ".join(str(part) for part in (candidate.get("first_name"), candidate.get("last_name")) if part)


def _email(candidate: dict) -> str:
    addresses = candidate.get("email_addresses") or []
    for address in sorted(addresses, key=lambda a: a.get("type") != "personal"):
        if address.get("value"):
            return str(address["value"])
    raise ev.PayloadError("application.candidate.email_addresses: none")


def _hiring_manager(job: dict) -> str | None:
    """The first hiring manager's email; Greenhouse may name them by user id only (no email)."""
    managers = field(job, "hiring_team", "hiring_managers", required=False) or []
    emails = [m.get("email") for m in managers if isinstance(m, dict) and m.get("email")]
    return str(emails[0]) if emails else None


def _new_application(data: dict, received_at: dt.datetime):
    application = field(data, "application")
    candidate = field(application, "candidate")
    jobs = application.get("jobs") or []
    if not jobs:
        raise ev.PayloadError("application.jobs: none")
    job = jobs[0]
    yield ev.NewApplication(
        application_id=ident(application, "id"),
        candidate_id=ident(candidate, "id"),
        name=_candidate_name(candidate),
        email=_email(candidate),
        job_id=ident(job, "id"),
        job_title=str(job.get("name") or f"Greenhouse job {job['id']}"),
        manager_email=_hiring_manager(job),
        applied_at=parse_time(application.get("applied_at"), "application.applied_at"),
        stage_name=field(application, "current_stage", "name", required=False),
    )


def _stage_change(data: dict, received_at: dt.datetime):
    application = field(data, "application")
    at = first_time(application, "last_activity_at", default=received_at)
    yield ev.StageChanged(ident(application, "id"), str(field(application, "current_stage", "name")), at)


def _rejected(data: dict, received_at: dt.datetime):
    application = field(data, "application")
    at = first_time(application, "rejected_at", "last_activity_at", default=received_at)
    reason_type = field(application, "rejection_reason", "type", "name", required=False)
    if reason_type == "They rejected us":
        yield ev.Withdrawn(ident(application, "id"), at)
    else:
        yield ev.Rejected(ident(application, "id"), at)


def _hired(data: dict, received_at: dt.datetime):
    """Greenhouse's hire carries the offer, not the application's dates: the offer was accepted
    (``offer.resolved_at``) when the candidate was hired."""
    application = field(data, "application")
    at = first_time(application, "offer.resolved_at", "last_activity_at", default=received_at)
    yield ev.Hired(ident(application, "id"), at)


def _deleted(data: dict, received_at: dt.datetime):
    person = field(data, "person")
    deleted = idents(person.get("deleted_application_ids"), "person.deleted_application_ids")
    yield ev.Erased(ident(person, "id"), deleted)


def _merged(data: dict, received_at: dt.datetime):
    yield ev.Merged(ident(data, "person", "new_candidate_id"), ident(data, "person", "id"))


def _anonymized(data: dict, received_at: dt.datetime):
    fields = idents(data.get("anonymized_fields"), "anonymized_fields")
    if ANONYMIZED_HERE.intersection(fields):
        yield ev.Erased(ident(data, "candidate_id"))


_READERS = {
    "new_candidate_application": _new_application,
    "candidate_stage_change": _stage_change,
    "reject_candidate": _rejected,
    "hire_candidate": _hired,
    "delete_candidate": _deleted,
    "merge_candidate": _merged,
    "candidate_anonymized": _anonymized,
}
