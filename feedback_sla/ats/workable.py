"""Workable webhooks: ``{"id", "event_type", "fired_at", "resource_type", "data": {...}}``.

Events read (https://workable.readme.io/reference/webhook-subscriptions-candidates-employees):
``candidate_created``, ``candidate_moved`` (a move to another stage; to "Hired", a hire at
``hired_at``; or a disqualification: a rejection, or a withdrawal when its reason says the
candidate withdrew) and ``candidate_deleted`` (the candidate is erased here).
Workable names no hiring manager in the payload, so positions get the source's default manager.
A delivery is known by its id with its event and the time it was fired.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from feedback_sla.ats import events as ev
from feedback_sla.ats.events import field, first_time, ident, parse_time

#: Our default stage names for Workable's built-in "hired" stage.
HIRED_STAGES = frozenset({"hired"})


def identify(payload: dict, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    event_type = str(payload.get("event_type") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    payload_id = payload.get("id") or data.get("id") or ""
    return f"{event_type}:{payload_id}:{payload.get('fired_at') or ''}", event_type


def read(payload: dict, received_at: dt.datetime, api=None) -> tuple[ev.AtsEvent, ...]:
    reader = _READERS.get(str(payload.get("event_type") or ""))
    return tuple(reader(payload.get("data") or {}, payload, received_at)) if reader else ()


def _name(data: dict) -> str:
    return str(data.get("name") or " ".join(p for p in (data.get("firstname"), data.get("lastname")) if p))


def _created(data: dict, payload: dict, received_at: dt.datetime):
    job = field(data, "job")
    yield ev.NewApplication(
        application_id=ident(data, "id"),
        candidate_id=ident(data, "id"),
        name=_name(data),
        email=str(field(data, "email")),
        job_id=ident(job, "shortcode"),
        job_title=str(job.get("title") or f"Workable job {job['shortcode']}"),
        manager_email=None,
        applied_at=parse_time(data.get("created_at"), "data.created_at"),
        stage_name=data.get("stage"),
    )


def _moved(data: dict, payload: dict, received_at: dt.datetime):
    at = first_time(payload, "data.updated_at", "fired_at", default=received_at)
    application_id = ident(data, "id")
    if data.get("disqualified"):
        reason = str(data.get("disqualification_reason") or "").lower()
        yield (ev.Withdrawn if "withdr" in reason else ev.Rejected)(application_id, at)
        return
    stage = str(field(data, "stage"))
    if stage.lower() in HIRED_STAGES:
        yield ev.Hired(application_id, first_time(data, "hired_at", default=at))
        return
    yield ev.StageChanged(application_id, stage, at)


def _deleted(data: dict, payload: dict, received_at: dt.datetime):
    yield ev.Erased(ident(data, "id"))


_READERS = {"candidate_created": _created, "candidate_moved": _moved, "candidate_deleted": _deleted}
