"""Ashby webhooks: ``{"webhookActionId": ..., "action": ..., "data": {...}}``, read as Ashby's
webhook payload reference documents them (https://developers.ashbyhq.com/reference).

One ``webhookActionId`` names one thing that happened in Ashby: it stays the same across Ashby's
retries, and several actions carry it (a hire also sends ``applicationUpdate`` and
``candidateStageChange`` with the hire's id, in any order), so a delivery is known by the action
id together with its action.

Actions read: ``ping``, ``applicationSubmit``, ``candidateStageChange``, ``applicationUpdate`` (an
application archived: rejected by us, or by the candidate: a withdrawal; or hired),
``candidateHire``, ``candidateDelete`` and ``candidateMerge`` (``deletedCandidate`` merged into
``mergedCandidate``). The hiring manager is the application's hiring team member whose role is
"Hiring Manager".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, first_time, ident, parse_time

#: Ashby's archive reason types that mean the candidate withdrew.
WITHDRAWN_REASONS = frozenset({"RejectedByCandidate"})

HIRED = "Hired"
ARCHIVED = "Archived"


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """``<action>:<webhookActionId>`` (the body's hash without an action id) and the action."""
    action = str(payload.get("action") or "")
    action_id = payload.get("webhookActionId")
    if not action_id:
        return hashlib.sha256(body).hexdigest(), action
    return f"{action}:{action_id}", action


def read(payload: dict, received_at: dt.datetime, api=None) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("action") or ""))
    return tuple(reader(payload.get("data") or {})) if reader else ()


def _hiring_manager(application: dict) -> str | None:
    """The application's hiring manager (its hiring team, else the job's)."""
    teams = (application.get("hiringTeam"), field(application, "job", "hiringTeam", required=False))
    for team in teams:
        for member in team if isinstance(team, list) else []:
            if isinstance(member, dict) and member.get("role") == "Hiring Manager" and member.get("email"):
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
        manager_email=_hiring_manager(application),
        applied_at=parse_time(application.get("createdAt"), "application.createdAt"),
        stage_name=field(application, "currentInterviewStage", "title", required=False),
    )


def _at(application: dict):
    return first_time(application, "updatedAt", "createdAt")


def _stage_change(data: dict):
    application = field(data, "application")
    if application.get("status") == HIRED:  # the stage change a hire sends: the hire says it
        yield ev.Hired(ident(application, "id"), _at(application))
        return
    yield ev.StageChanged(
        ident(application, "id"), str(field(application, "currentInterviewStage", "title")), _at(application)
    )


def _updated(data: dict):
    application = field(data, "application")
    status = application.get("status")
    if status == HIRED:
        yield ev.Hired(ident(application, "id"), _at(application))
    elif status == ARCHIVED:
        reason = field(application, "archiveReason", "reasonType", required=False)
        event = ev.Withdrawn if reason in WITHDRAWN_REASONS else ev.Rejected
        yield event(ident(application, "id"), first_time(application, "archivedAt", "updatedAt", "createdAt"))


def _hired(data: dict):
    application = field(data, "application")
    yield ev.Hired(ident(application, "id"), _at(application))


def _deleted(data: dict):
    yield ev.Erased(ident(data, "candidate", "id"))


def _merged(data: dict):
    yield ev.Merged(ident(data, "mergedCandidate", "id"), ident(data, "deletedCandidate", "id"))


_READERS = {
    "applicationSubmit": _submitted,
    "candidateStageChange": _stage_change,
    "applicationUpdate": _updated,
    "candidateHire": _hired,
    "candidateDelete": _deleted,
    "candidateMerge": _merged,
}
