"""Ashby webhooks: ``{"action": ..., "data": {...}, "webhookActionId": ...}``; the action id is
stable across Ashby's retries.

Actions read: ``ping``, ``applicationSubmit``, ``candidateStageChange``, ``applicationUpdate``
(an application archived: rejected by us, or by the candidate: a withdrawal), ``candidateHire``,
``candidateDelete`` and ``candidateMerge``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, ident, parse_time

#: Ashby's archive reason types that mean the candidate withdrew.
WITHDRAWN_REASONS = frozenset({"RejectedByCandidate"})


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    event_id = str(payload.get("webhookActionId") or hashlib.sha256(body).hexdigest())
    return event_id, str(payload.get("action") or "")


def read(payload: dict, source) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("action") or ""))
    return tuple(reader(payload.get("data") or {})) if reader else ()


def _hiring_manager(job: dict) -> str | None:
    for member in job.get("hiringTeam") or []:
        if member.get("role") == "Hiring Manager" and member.get("email"):
            return str(member["email"])
    return None


def _submitted(data: dict):
    application = field(data, "application")
    candidate = field(application, "candidate")
    job = field(application, "job")
    yield ev.NewApplication(
        application_id=ident(application, "id"),
        candidate_id=ident(candidate, "id"),
        name=str(candidate.get("name") or ""),
        email=str(field(candidate, "primaryEmailAddress", "value")),
        job_id=ident(job, "id"),
        job_title=str(job.get("title") or f"Ashby job {job['id']}"),
        manager_email=_hiring_manager(job),
        applied_at=parse_time(application.get("createdAt"), "application.createdAt"),
        stage_name=field(application, "currentInterviewStage", "title", required=False),
    )


def _at(application: dict):
    return parse_time(application.get("updatedAt") or application.get("createdAt"), "application.updatedAt")


def _stage_change(data: dict):
    application = field(data, "application")
    yield ev.StageChanged(
        ident(application, "id"), str(field(application, "currentInterviewStage", "title")), _at(application)
    )


def _updated(data: dict):
    application = field(data, "application")
    if application.get("status") != "Archived":
        return
    reason = field(application, "archiveReason", "reasonType", required=False)
    event = ev.Withdrawn if reason in WITHDRAWN_REASONS else ev.Rejected
    yield event(ident(application, "id"), _at(application))


def _hired(data: dict):
    application = field(data, "application")
    yield ev.Hired(ident(application, "id"), _at(application))


def _deleted(data: dict):
    yield ev.Erased(ident(data, "candidate", "id"))


def _merged(data: dict):
    yield ev.Merged(ident(data, "candidate", "id"), ident(data, "mergedCandidate", "id"))


_READERS = {
    "applicationSubmit": _submitted,
    "candidateStageChange": _stage_change,
    "applicationUpdate": _updated,
    "candidateHire": _hired,
    "candidateDelete": _deleted,
    "candidateMerge": _merged,
}
