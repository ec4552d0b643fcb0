"""What the API reads and writes, as marshmallow schemas: the OpenAPI document is built from them."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma

from feedback_sla import languages
from feedback_sla.addresses import MAX_ADDRESS, InvalidAddress, normalize_address
from feedback_sla.candidates.models import PIPELINE, ContactChannel, Status
from feedback_sla.database import db
from feedback_sla.emails.models import EmailKind
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import is_time_zone
from feedback_sla.waits.clock import State
from feedback_sla.web.api.document import LANGUAGES_MARK
from feedback_sla.web.api.paging import MAX_ID, PageArgs, page_schema

_ID = ma.validate.Range(1, MAX_ID)
_NAME = ma.validate.Length(1, 200)
_TEXT = ma.validate.Length(1, 5000)


class Address(ma.fields.String):
    """An email address by the one rule (``addresses.normalize_address``), loaded as the rule keeps
    it; a refusal (422) names the field, as every other door does. The document says
    ``idn-email``: internationalized addresses are taken (RFC 6531)."""

    def __init__(self, **kwargs) -> None:
        metadata = {"format": "idn-email", "maxLength": MAX_ADDRESS, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_address(text, self.data_key or self.name)
        except InvalidAddress as exc:
            raise ma.ValidationError(exc.reason) from None


#: The document's format for a time zone: a name of the IANA database that this server knows.
TIME_ZONE_FORMAT = "iana-time-zone"


class Input(ma.Schema):
    """Request bodies: fields a caller may not set (owner, manager, role) are ignored."""

    class Meta:
        unknown = ma.EXCLUDE


class CandidateSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    position_id = ma.fields.Integer(required=True)
    position = ma.fields.String(required=True)
    manager = ma.fields.String(required=True)
    stage = ma.fields.String(required=True)
    status = ma.fields.Enum(Status, by_value=True, required=True)
    due_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    time_zone = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={
            "format": TIME_ZONE_FORMAT,
            "description": "Where the candidate lives (IANA); null: not known, the position's.",
        },
    )
    language = ma.fields.String(
        required=True,
        metadata={
            LANGUAGES_MARK: True,
            "description": "The language their emails and status page are written in (BCP 47).",
        },
    )


class _CandidateFilters(PageArgs):
    """The candidates page's filters, and the list's paging."""

    position_id = ma.fields.Integer(load_default=None, validate=_ID)
    stage = ma.fields.String(load_default=None, validate=ma.validate.OneOf(PIPELINE))
    status = ma.fields.Enum(Status, by_value=True, load_default=None)


#: Why a search in the query string is refused, and where it goes instead.
SEARCH_MOVED = (
    "is not accepted in the URL (access logs would keep the name or address after an erasure); "
    'POST /api/v1/candidates/search with {"q": ...} and the same filters'
)


class CandidateArgs(_CandidateFilters):
    """The list's filters, in the query string: no search there."""

    @ma.pre_load
    def _no_search_in_the_url(self, data, **_kwargs):
        if "q" in data:
            raise ma.ValidationError(SEARCH_MOVED, field_name="q")
        return data


class CandidateSearchSchema(_CandidateFilters):
    """The candidates page's search and filters, in a JSON body: ``q`` searches name and email."""

    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


def _known_zone(value: str) -> None:
    if not is_time_zone(value):
        raise ma.ValidationError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)")


def _candidate_zone(**kwargs) -> ma.fields.String:
    """Where the candidate lives: an email scheduled for their 09:00 goes out then (null: not known)."""
    return ma.fields.String(
        allow_none=True,
        validate=_known_zone,
        metadata={
            "format": TIME_ZONE_FORMAT,
            "example": "Europe/Berlin",
            "description": "IANA time zone, e.g. Europe/Berlin; null: not known, the position's.",
        },
        **kwargs,
    )


def _enabled_language(value: str) -> None:
    try:
        languages.check(value, settings_service.load(db.session).languages)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None


def _candidate_language(**kwargs) -> ma.fields.String:
    """The language to write to the candidate in: one of the organisation's."""
    return ma.fields.String(
        validate=_enabled_language,
        metadata={
            LANGUAGES_MARK: True,
            "example": "de",
            "description": "One of the organisation's languages (BCP 47); default: its default.",
        },
        **kwargs,
    )


def _representable(value: dt.datetime) -> None:
    """A time that exists in UTC too (0001-01-01 at +14:00 does not)."""
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ma.ValidationError("is out of range") from None


class NewCandidateSchema(Input):
    position_id = ma.fields.Integer(required=True, validate=_ID)
    name = ma.fields.String(required=True, validate=_NAME)
    email = Address(required=True)
    stage = ma.fields.String(load_default="applied", validate=ma.validate.OneOf(PIPELINE))
    applied_at = ma.fields.AwareDateTime(
        load_default=None,
        validate=_representable,
        metadata={"description": "When they applied, with an offset: the wait counts from it (default now)."},
    )
    time_zone = _candidate_zone(load_default=None)
    language = _candidate_language(load_default=None)


class CandidateChangeSchema(Input):
    name = ma.fields.String(validate=_NAME)
    email = Address()
    time_zone = _candidate_zone()
    language = _candidate_language()


class ContactSchema(Input):
    channel = ma.fields.Enum(ContactChannel, by_value=True, required=True)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))
    promised_date = ma.fields.Date(
        load_default=None,
        metadata={"description": "the date the candidate was told: the next wait is due on it"},
    )


class NoteSchema(Input):
    body = ma.fields.String(required=True, validate=_TEXT)


class StageSchema(Input):
    stage = ma.fields.String(required=True, validate=ma.validate.OneOf(PIPELINE))


class PromiseSchema(Input):
    promised_date = ma.fields.Date(
        required=True, allow_none=True, metadata={"description": "from today to a year ahead; null clears it"}
    )


class WithdrawSchema(Input):
    reason = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))


class EventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    channel = ma.fields.String(allow_none=True, required=True)
    body = ma.fields.String(allow_none=True, required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)


class WaitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    candidate_id = ma.fields.Integer(required=True)
    candidate = ma.fields.String(required=True)
    position = ma.fields.String(required=True)
    manager = ma.fields.String(required=True)
    stage = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    opened_at = ma.fields.AwareDateTime(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    promised_date = ma.fields.Date(allow_none=True, required=True)
    follow_ups = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True)


class WaitArgs(PageArgs):
    state = ma.fields.Enum(State, by_value=True, load_default=None)
    position_id = ma.fields.Integer(load_default=None, validate=_ID)


class PositionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    time_zone = ma.fields.String(required=True)
    is_open = ma.fields.Boolean(required=True)
    manager = ma.fields.String(required=True, attribute="manager.email")
    autopilot = ma.fields.Boolean(
        required=True, metadata={"description": "status updates before deadlines pass (autopilot)"}
    )


_TEMPLATE = {
    "description": "the template to write it from: its id, its name, or 'shipped' for the files shipped "
    "with the app; null: the candidate's default (their position's, their stage's, or the organisation's)"
}


_SEND_AT = {
    "description": "send later: an ISO 8601 date-time; without an offset it is read on the candidate's clock "
    "(their time zone when known, else the position's); at most 30 days ahead; null: after the undo window"
}


class NewEmailSchema(Input):
    kind = ma.fields.Enum(EmailKind, by_value=True, required=True)
    promised_date = ma.fields.Date(load_default=None, metadata={"description": "update: the date promised"})
    feedback = ma.fields.String(load_default=None, validate=_TEXT, metadata={"description": "rejection"})
    template = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(1, 100), metadata=_TEMPLATE
    )
    send_at = ma.fields.DateTime(load_default=None, allow_none=True, metadata=_SEND_AT)


class IdempotencyHeader(ma.Schema):
    idempotency_key = ma.fields.String(
        required=True, data_key="Idempotency-Key", validate=ma.validate.Length(1, 80)
    )


class EmailSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    candidate_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    subject = ma.fields.String(required=True)
    send_after = ma.fields.AwareDateTime(allow_none=True, required=True)
    attempts = ma.fields.Integer(required=True)
    last_error = ma.fields.String(allow_none=True, required=True)
    template = ma.fields.String(
        allow_none=True,
        required=True,
        attribute="template_name",
        metadata={"description": "the template it was written from; null on emails from before templates"},
    )
    scheduled_in = ma.fields.String(
        allow_none=True,
        required=True,
        attribute="send_at_zone",
        metadata={
            "description": "sent later: the time zone its send time was chosen in; null: after the undo"
            " window"
        },
    )


class ExportArgs(Input):
    since = ma.fields.Date(load_default=None)
    until = ma.fields.Date(load_default=None)
    status = ma.fields.String(load_default="all", validate=ma.validate.OneOf(["open", "closed", "all"]))


CandidatePageSchema = page_schema(CandidateSchema, "CandidatePage")
EventPageSchema = page_schema(EventSchema, "EventPage")
WaitPageSchema = page_schema(WaitSchema, "WaitPage")
PositionPageSchema = page_schema(PositionSchema, "PositionPage")


#: The answers the API sends to many candidates at once (``waits.bulk.BULK_KINDS``).
_BULK_KINDS = ("update", "rejection", "next_step")


class NewBatchSchema(Input):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(_BULK_KINDS))
    candidate_ids = ma.fields.List(
        ma.fields.Integer(validate=_ID),
        required=True,
        validate=ma.validate.Length(1, 1000),
        metadata={"description": "the candidates to answer, each checked first; at most 1000"},
    )
    promised_date = ma.fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "update: the date promised to all; null promises each their own date"},
    )
    feedback = ma.fields.String(
        load_default=None, allow_none=True, validate=_TEXT, metadata={"description": "rejection"}
    )
    reasons = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 100)),
        load_default=list,
        validate=ma.validate.Length(max=10),
        metadata={"description": "rejection: internal reasons, never sent"},
    )
    template = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(1, 100), metadata=_TEMPLATE
    )
    send_at = ma.fields.DateTime(load_default=None, allow_none=True, metadata=_SEND_AT)


class QueuedSchema(ma.Schema):
    candidate_id = ma.fields.Integer(required=True)
    email = ma.fields.Nested(EmailSchema, required=True)


class SkippedSchema(ma.Schema):
    candidate_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, required=True, metadata={"description": "null: not yours"})
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            [
                "not_found",
                "erased",
                "status",
                "not_waiting",
                "undeliverable",
                "on_its_way",
                "refused",
                "repeated",
            ]
        ),
    )
    message = ma.fields.String(required=True)


class BatchSchema(ma.Schema):
    batch_id = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "null when nothing was queued"}
    )
    queued = ma.fields.List(ma.fields.Nested(QueuedSchema), required=True)
    skipped = ma.fields.List(ma.fields.Nested(SkippedSchema), required=True)


class NotUndoneSchema(ma.Schema):
    email = ma.fields.Nested(EmailSchema, required=True)
    reason = ma.fields.String(required=True)


class BatchUndoSchema(ma.Schema):
    undone = ma.fields.List(ma.fields.Nested(EmailSchema), required=True)
    not_undone = ma.fields.List(ma.fields.Nested(NotUndoneSchema), required=True)
