"""The neutral events of a delivery applied through the wait's door (``waits.service`` and
``waits.external``): candidates created, stages moved, interviews held, decisions recorded,
personal data erased or merged.

An event about an application we never saw (created before the source was connected) or a stage
nobody mapped changes nothing and says so in the delivery's notes. One about a person whose
personal data was erased here (a new application under their ATS id, a stage, a decision, a merge
giving them details) changes nothing either: ``erased`` tells the caller to keep no payload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts.models import User
from feedback_sla.ats import events as ev
from feedback_sla.ats.models import Delivery, ExternalId, Source
from feedback_sla.ats.sources import INTERVIEW_STAGES, our_stage
from feedback_sla.candidates import service as candidates
from feedback_sla.candidates.models import PIPELINE, Candidate, Status
from feedback_sla.candidates.service import DuplicateCandidate
from feedback_sla.errors import DomainError
from feedback_sla.positions import service as positions
from feedback_sla.positions.models import Position
from feedback_sla.waits import external
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

APPLICATION = "application"
JOB = "job"


@dataclass
class Applied:
    """What the events did: ``done`` when any changed something, with notes for the admin;
    ``erased`` when one was about a person whose personal data is erased here (before, or by it)."""

    done: bool = False
    candidate_id: int | None = None
    notes: list[str] = field(default_factory=list)
    erased: bool = False


@dataclass(frozen=True)
class Context:
    session: Session
    source: Source
    settings: OrgSettings
    now: dt.datetime
    result: Applied


def apply(
    session: Session, source: Source, events: tuple[ev.AtsEvent, ...], settings: OrgSettings, now: dt.datetime
) -> Applied:
    context = Context(session, source, settings, now, Applied())
    for event in events:
        _HANDLERS[type(event)](context, event)
    return context.result


@dataclass(frozen=True)
class _Found:
    """The source's mappings an event names, read together (``_mappings``)."""

    rows: list[ExternalId]

    def application(self, application_id: str) -> ExternalId | None:
        return self._one(APPLICATION, application_id)

    def job(self, job_id: str) -> ExternalId | None:
        return self._one(JOB, job_id)

    def of_person(self, ats_candidate_id: str) -> list[ExternalId]:
        """The ATS person's applications, oldest mapping first."""
        return [m for m in self.rows if m.kind == APPLICATION and m.ats_candidate_id == ats_candidate_id]

    def _one(self, kind: str, external_id: str) -> ExternalId | None:
        return next((m for m in self.rows if m.kind == kind and m.external_id == external_id), None)


def _wanted(kind: str, column, name: str):
    return and_(
        ExternalId.source_id == bindparam("source"), ExternalId.kind == kind, column.in_(bindparam(name))
    )


#: The mappings of some application ids, of some ATS people's applications and of some jobs, with
#: their candidates and positions (not the positions' managers, which a new application does not
#: need). Built once: SQLAlchemy computes a new statement's cache key on every execution, which
#: cost more than the query itself on every webhook. An empty list matches nothing.
_MAPPINGS = (
    select(ExternalId)
    .options(joinedload(ExternalId.candidate), joinedload(ExternalId.position).lazyload(Position.manager))
    .where(
        or_(
            _wanted(APPLICATION, ExternalId.external_id, "applications"),
            _wanted(APPLICATION, ExternalId.ats_candidate_id, "people"),
            _wanted(JOB, ExternalId.external_id, "jobs"),
        )
    )
    .order_by(ExternalId.id)
)


def _mappings(
    context: Context,
    *,
    applications: Iterable[str] = (),
    people: Iterable[str] = (),
    jobs: Iterable[str] = (),
) -> _Found:
    """In one statement: the mappings of these application ids, the applications of these ATS
    people and the mappings of these jobs."""
    values = {
        "applications": sorted(set(applications)),
        "people": sorted(set(people) - {""}),
        "jobs": sorted(set(jobs)),
    }
    if not any(values.values()):
        return _Found([])
    return _Found(list(context.session.scalars(_MAPPINGS, {"source": context.source.id, **values})))


def _candidate(context: Context, application_id: str) -> Candidate | None:
    mapping = _mappings(context, applications=[application_id]).application(application_id)
    if mapping is None or mapping.candidate is None:
        context.result.notes.append(f"application {application_id}: not known here (created before?)")
        return None
    context.result.candidate_id = mapping.candidate_id
    if mapping.candidate.erased_at is not None:
        _note_erased(context, mapping.candidate)
        return None
    return mapping.candidate


def _note_erased(context: Context, candidate: Candidate) -> None:
    """Record in the result that the event is about a candidate whose personal data was erased
    here: it is ignored, nothing recorded, and no payload kept."""
    context.result.erased = True
    context.result.candidate_id = candidate.id
    note = f"candidate {candidate.id}: their personal data was erased here; ignored, nothing recorded"
    if note not in context.result.notes:
        context.result.notes.append(note)


def _manager(session: Session, source: Source, email: str | None) -> User:
    """The hiring manager when their email is a user's here, else the source's default manager."""
    user = accounts.find_by_email(session, email) if email else None
    return user if user is not None and user.active else source.default_manager


def _position(context: Context, event: ev.NewApplication, mapping: ExternalId | None) -> Position:
    """The position of the ATS job (``mapping``): created on first sight."""
    if mapping is not None and mapping.position is not None:
        return mapping.position
    manager = _manager(context.session, context.source, event.manager_email)
    position = positions.create_position(context.session, event.job_title[:200], manager)
    context.session.add(
        ExternalId(source_id=context.source.id, kind=JOB, external_id=event.job_id, position=position)
    )
    return position


def _new_application(context: Context, event: ev.NewApplication) -> None:
    session = context.session
    found = _mappings(
        context, applications=[event.application_id], people=[event.candidate_id], jobs=[event.job_id]
    )
    known = found.application(event.application_id)
    if _erased_person(context, known, found.of_person(event.candidate_id) if event.candidate_id else []):
        return
    if known is not None:
        context.result.notes.append(f"application {event.application_id}: already here")
        context.result.candidate_id = known.candidate_id
        return
    position = _position(context, event, found.job(event.job_id))
    name = event.name.strip() or event.email.partition("@")[0]
    stage = our_stage(context.source, event.stage_name) or "applied"
    try:
        candidate = waits.add_candidate(
            session,
            position,
            name,
            event.email,
            event.applied_at,
            context.settings,
            stage=stage,
            now=context.now,
        )
    except DuplicateCandidate:  # added here by hand before the ATS told us: the same candidate
        candidate = candidates.by_email(session, position.id, event.email)
        context.result.notes.append(f"{event.email}: already a candidate of {position.title}; linked")
    session.add(
        ExternalId(
            source_id=context.source.id,
            kind=APPLICATION,
            external_id=event.application_id,
            ats_candidate_id=event.candidate_id,
            candidate_id=candidate.id,
        )
    )
    context.result.done = True
    context.result.candidate_id = candidate.id


def _erased_person(context: Context, known: ExternalId | None, persons: list[ExternalId]) -> bool:
    """True when the application, or another of the same ATS person, is a candidate erased here."""
    mappings = ([known] if known is not None else []) + persons
    erased = [m.candidate for m in mappings if m.candidate is not None and m.candidate.erased_at is not None]
    if erased:
        _note_erased(context, erased[0])
    return bool(erased)


def _stage_changed(context: Context, event: ev.StageChanged) -> None:
    candidate = _candidate(context, event.application_id)
    if candidate is None:
        return
    stage = our_stage(context.source, event.stage_name)
    if stage is None:
        context.result.notes.append(f"stage {event.stage_name!r}: not mapped to a stage here")
        return
    if stage == candidate.stage:
        return
    if candidate.status != Status.ACTIVE:
        context.result.notes.append(f"candidate is {candidate.status.value}: stage not moved")
        return
    before = candidate.stage
    if before in INTERVIEW_STAGES and PIPELINE.index(stage) > PIPELINE.index(before):
        # Moved on from an interview stage: the interview took place, a decision is owed.
        waits.interview_held(context.session, candidate, event.at, context.settings)
    waits.move_stage(context.session, candidate, stage, event.at)
    context.result.done = True


def _active_candidate(context: Context, application_id: str) -> Candidate | None:
    """The application's candidate when a decision or a withdrawal can still close their wait."""
    candidate = _candidate(context, application_id)
    if candidate is not None and candidate.status != Status.ACTIVE:
        context.result.notes.append(f"candidate is {candidate.status.value} already")
        return None
    return candidate


def _decided(context: Context, event: ev.Rejected | ev.Hired) -> None:
    candidate = _active_candidate(context, event.application_id)
    if candidate is None:
        return
    status = Status.REJECTED if isinstance(event, ev.Rejected) else Status.HIRED
    external.decided_elsewhere(context.session, candidate, status, event.at, source=context.source.kind)
    context.result.done = True


def _withdrawn(context: Context, event: ev.Withdrawn) -> None:
    candidate = _active_candidate(context, event.application_id)
    if candidate is None:
        return
    waits.withdraw(context.session, candidate, event.at, reason="withdrew (recorded in the ATS)")
    context.result.done = True


def _erase(context: Context, candidate: Candidate) -> None:
    external.erase(context.session, candidate, context.now)
    forget_deliveries(context.session, candidate.id)


def forget_deliveries(session: Session, candidate_id: int) -> int:
    """The deliveries about an erased candidate keep their record (event, type, times, status) and
    no copy of what they said: the payload becomes ``{}`` and the error text goes."""
    statement = update(Delivery).where(Delivery.candidate_id == candidate_id).values(body="{}", error=None)
    return session.execute(statement).rowcount


def _erased(context: Context, event: ev.Erased) -> None:
    """The person's applications, and the applications named, are erased here; the delivery that
    said so keeps no payload (``erased``)."""
    people = [event.candidate_id] if event.candidate_id else []
    found = _mappings(context, applications=event.application_ids, people=people)
    mappings = found.of_person(event.candidate_id) if event.candidate_id else []
    for application_id in event.application_ids:
        mapping = found.application(application_id)
        if mapping is not None and mapping not in mappings:
            mappings.append(mapping)
    if not mappings:
        named = (
            f"person {event.candidate_id}" if event.candidate_id else f"application {event.application_ids}"
        )
        context.result.notes.append(f"{named}: not known here")
    for mapping in mappings:
        if mapping.candidate is None:
            continue
        if mapping.candidate.erased_at is not None:  # erased here before: cleared again, nothing new
            _note_erased(context, mapping.candidate)
        else:
            context.result.done = True
        context.result.candidate_id = mapping.candidate_id
        context.result.erased = True
        _erase(context, mapping.candidate)


def _merged(context: Context, event: ev.Merged) -> None:
    """The merged person's applications are the kept person's, with the kept person's details.
    A candidate erased here keeps their ids and gets no details; an erased kept person gives none."""
    both = _mappings(context, people=[event.kept_id, event.merged_id])
    found = [m.candidate for m in both.of_person(event.kept_id) if m.candidate is not None]
    kept = [candidate for candidate in found if candidate.erased_at is None]
    if found and not kept:
        _note_erased(context, found[0])
    for mapping in both.of_person(event.merged_id):
        if mapping.candidate is not None and mapping.candidate.erased_at is not None:
            _note_erased(context, mapping.candidate)
            continue
        mapping.ats_candidate_id = event.kept_id
        context.result.done = True
        if not kept or mapping.candidate is None:
            continue
        try:
            with context.session.begin_nested():
                waits.update_details(context.session, mapping.candidate, kept[0].name, kept[0].email)
        except DomainError:  # the kept person is a candidate of that position already: a duplicate
            _erase(context, mapping.candidate)


_HANDLERS = {
    ev.NewApplication: _new_application,
    ev.StageChanged: _stage_changed,
    ev.Rejected: _decided,
    ev.Hired: _decided,
    ev.Withdrawn: _withdrawn,
    ev.Erased: _erased,
    ev.Merged: _merged,
}
