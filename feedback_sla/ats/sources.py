"""ATS sources: created by an admin (a page or ``feedback-sla sources create``), each with its
webhook URL ``/hooks/<kind>/<public_id>`` and its secret, shown once."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind, Source
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.errors import DomainError
from feedback_sla.text import clean_line

#: ATS stage names (lower case) and our stages, for the names each vendor ships by default.
DEFAULT_STAGE_MAP: dict[str, str] = {
    "application review": "applied",
    "applied": "applied",
    "new applicant": "applied",
    "new lead": "applied",
    "sourced": "applied",
    "lead": "applied",
    "screen": "screen",
    "phone screen": "screen",
    "recruiter screen": "screen",
    "preliminary phone screen": "screen",
    "phone interview": "screen",
    "interview": "interview",
    "face to face": "interview",
    "on-site interview": "interview",
    "onsite interview": "interview",
    "technical interview": "interview",
    "assessment": "interview",
    "take home test": "interview",
    "final interview": "final",
    "final": "final",
    "reference check": "final",
    "offer": "offer",
}

#: Our stages in which the candidate meets us: a move on from one of them means the interview was held.
INTERVIEW_STAGES = frozenset({"interview", "final"})

MAX_SECRET = 255


@dataclass(frozen=True)
class NewSource:
    kind: str
    name: str
    manager: User
    secret: str | None = None
    api_key: str | None = None
    stage_map: dict[str, str] = field(default_factory=dict)


def webhook_path(source: Source) -> str:
    return f"/hooks/{source.kind}/{source.public_id}"


def check_stage_map(stage_map: dict[str, str]) -> dict[str, str]:
    """ATS stage names folded to lower case; DomainError for a stage of ours that does not exist."""
    checked = {}
    for name, stage in stage_map.items():
        if stage not in PIPELINE:
            raise DomainError(f"stage map: {stage!r} is not a stage; stages: {', '.join(PIPELINE)}")
        checked[clean_line(name, "stage map", 200).lower()] = stage
    return checked


def create_source(session: Session, new: NewSource, now: dt.datetime) -> Source:
    """A source with a random URL id; its secret is the one given (the vendor's, when the vendor
    generates it) or a new random one."""
    if new.kind not in set(Kind):
        raise DomainError(f"kind: {new.kind!r}; kinds: {', '.join(Kind)}")
    if not new.manager.active:
        raise DomainError(f"manager: {new.manager.email} is disabled")
    secret = clean_line(new.secret, "secret", MAX_SECRET) if new.secret else secrets.token_urlsafe(32)
    api_key = clean_line(new.api_key, "API key", MAX_SECRET) if new.api_key else None
    if new.kind == Kind.LEVER and api_key is None:
        raise DomainError("API key: Lever webhooks carry ids only; the details need a Lever API key")
    source = Source(
        public_id=secrets.token_urlsafe(24),
        kind=new.kind,
        name=clean_line(new.name, "name", 200),
        secret=secret,
        api_key=api_key,
        stage_map=check_stage_map(new.stage_map),
        default_manager=new.manager,
        created_at=now,
    )
    session.add(source)
    session.flush()
    return source


#: Built once: every webhook request looks its source up (a statement built anew costs SQLAlchemy
#: its cache key again, twice the time of this query).
_BY_URL = select(Source).where(Source.kind == bindparam("kind"), Source.public_id == bindparam("public_id"))


def find_source(session: Session, kind: str, public_id: str) -> Source | None:
    return session.scalar(_BY_URL, {"kind": kind, "public_id": public_id})


def all_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name, Source.id)))


def our_stage(source: Source, ats_stage: str | None) -> str | None:
    """Our stage for an ATS stage name: the source's own mapping first, then the default names."""
    if not ats_stage:
        return None
    key = ats_stage.strip().lower()
    return (source.stage_map or {}).get(key) or DEFAULT_STAGE_MAP.get(key)


def recent_deliveries(session: Session, source: Source, limit: int = 10) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.source_id == source.id)
            .order_by(Delivery.received_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
    )


def failed_deliveries(
    session: Session, limit: int | None = None, *, delivery_id: int | None = None
) -> list[Delivery]:
    """Deliveries not processed yet (or only the one given, if it is such), oldest first: what
    ``sources retry`` tries again."""
    query = (
        select(Delivery)
        .where(Delivery.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.RECEIVED.value]))
        .order_by(Delivery.received_at, Delivery.id)
    )
    if delivery_id is not None:
        query = query.where(Delivery.id == delivery_id)
    return list(session.scalars(query.limit(limit) if limit else query))
