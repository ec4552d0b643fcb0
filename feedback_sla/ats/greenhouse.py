"""Greenhouse Harvest webhooks: ``{"action": ..., "payload": {...}}``, one event id per delivery in
the ``Greenhouse-Event-ID`` header.

Actions read: ``ping`` (sent when the webhook is created), ``new_candidate_application``,
``candidate_stage_change``, ``reject_candidate`` (a rejection whose reason type is "They rejected
us" is a withdrawal), ``hire_candidate``, ``delete_candidate`` and ``merge_candidate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, ident, parse_time


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """The event id (the header; a hash of the body when it is missing) and the action."""
    event_id = headers.get("Greenhouse-Event-ID") or hashlib.sha256(body).hexdigest()
    return event_id, str(payload.get("action") or "")


def read(payload: dict, source) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("action") or ""))
    return tuple(reader(payload.get("payload") or {})) if reader else ()


def _candidate_name(candidate: dict) -> str:
    return " ".join(str(part) for part in (candidate.get("first_name"), candidate.get("last_name")) if part)


def _email(candidate: dict) -> str:
    addresses = candidate.get("email_addresses") or []
    for address in sorted(addresses, key=lambda a: a.get("type") != "personal"):
        if address.get("value"):
            return str(address["value"])
    raise ev.PayloadError("application.candidate.email_addresses: none")


def _hiring_manager(job: dict) -> str | None:
    managers = field(job, "hiring_team", "hiring_managers", required=False) or []
    emails = [m.get("email") for m in managers if m.get("email")]
    return emails[0] if emails else None


def _new_application(data: dict):
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


def _changed_at(application: dict):
    return parse_time(
        application.get("last_activity_at")
        or application.get("rejected_at")
        or application.get("applied_at"),
        "application.last_activity_at",
    )


def _stage_change(data: dict):
    application = field(data, "application")
    yield ev.StageChanged(
        ident(application, "id"), str(field(application, "current_stage", "name")), _changed_at(application)
    )


def _rejected(data: dict):
    application = field(data, "application")
    at = parse_time(application.get("rejected_at") or application.get("last_activity_at"), "rejected_at")
    reason_type = field(application, "rejection_reason", "type", "name", required=False)
    if reason_type == "They rejected us":
        yield ev.Withdrawn(ident(application, "id"), at)
    else:
        yield ev.Rejected(ident(application, "id"), at)


def _hired(data: dict):
    application = field(data, "application")
    yield ev.Hired(ident(application, "id"), _changed_at(application))


def _deleted(data: dict):
    yield ev.Erased(ident(data, "person_id"))


def _merged(data: dict):
    yield ev.Merged(ident(data, "primary_candidate_id"), ident(data, "duplicate_candidate_id"))


_READERS = {
    "new_candidate_application": _new_application,
    "candidate_stage_change": _stage_change,
    "reject_candidate": _rejected,
    "hire_candidate": _hired,
    "delete_candidate": _deleted,
    "merge_candidate": _merged,
}
