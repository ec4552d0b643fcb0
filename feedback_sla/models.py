"""Every model, imported in one place for migrations and the shell."""

from .accounts.models import Role, User
from .candidates.models import (
    CANDIDATE_FACING,
    PIPELINE,
    Candidate,
    ContactChannel,
    Event,
    EventKind,
    Status,
    Wait,
    WaitReason,
)
from .digest.models import DigestDay
from .emails.models import EmailKind, EmailTemplate, OutboxMessage, OutboxStatus
from .positions.models import Position
from .settings.models import Setting

__all__ = [
    "CANDIDATE_FACING",
    "PIPELINE",
    "Candidate",
    "ContactChannel",
    "EmailKind",
    "EmailTemplate",
    "DigestDay",
    "Event",
    "EventKind",
    "OutboxMessage",
    "OutboxStatus",
    "Position",
    "Role",
    "Setting",
    "Status",
    "User",
    "Wait",
    "WaitReason",
]
