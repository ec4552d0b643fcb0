"""Every model, imported in one place for migrations and the shell."""

from feedback_sla.accounts.models import ApiToken, Role, User
from feedback_sla.ats.models import Delivery, ExternalId, Source
from feedback_sla.candidates.models import (
    CANDIDATE_FACING,
    PIPELINE,
    Candidate,
    ContactChannel,
    Event,
    EventKind,
    Status,
)
from feedback_sla.chat.models import ChatMessage, ChatPreference, ChatSetting, SlackRequest
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails.models import EmailKind, EmailTemplate, OutboxMessage, OutboxStatus
from feedback_sla.inbound.models import InboundMessage
from feedback_sla.metrics.models import AnsweredByDay, AnsweredByPosition, RollupBasis
from feedback_sla.positions.models import Position
from feedback_sla.settings.models import Setting
from feedback_sla.survey.models import SurveyAnswer, SurveyWording
from feedback_sla.waits.models import Wait, WaitReason

__all__ = [
    "AnsweredByDay",
    "AnsweredByPosition",
    "ApiToken",
    "CANDIDATE_FACING",
    "PIPELINE",
    "Candidate",
    "ChatMessage",
    "ChatPreference",
    "ChatSetting",
    "SlackRequest",
    "Delivery",
    "ExternalId",
    "Source",
    "ContactChannel",
    "EmailKind",
    "EmailTemplate",
    "DigestDay",
    "Event",
    "EventKind",
    "InboundMessage",
    "OutboxMessage",
    "OutboxStatus",
    "Position",
    "Role",
    "RollupBasis",
    "Setting",
    "Status",
    "SurveyAnswer",
    "SurveyWording",
    "User",
    "Wait",
    "WaitReason",
]
