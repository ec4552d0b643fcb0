"""What an email to a candidate must be before it is queued: its request, its limits, its text.

Every check raises EmailError naming the field; nothing here writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.emails import choosing, composing, queries, scheduling
from feedback_sla.emails.composing import RenderedEmail
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.headers import check_address, check_headers
from feedback_sla.emails.models import STATUS_SET, EmailKind, OutboxMessage
from feedback_sla.text import a_or_an, check_characters, normalize_newlines
from feedback_sla.timeutil import check_promised_day, local_date

#: The statuses a candidate may have for each kind to be queued.
ALLOWED_FROM: dict[EmailKind, frozenset[Status]] = {
    EmailKind.REJECTION: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.OFFER: frozenset({Status.ACTIVE}),
    EmailKind.UPDATE: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.NEXT_STEP: frozenset({Status.ACTIVE, Status.OFFERED}),
    EmailKind.ACKNOWLEDGEMENT: frozenset({Status.ACTIVE, Status.OFFERED}),
}

#: Pairs of kinds that contradict each other: queueing one cancels a pending other.
CONFLICTS: frozenset[frozenset[EmailKind]] = frozenset(
    {
        frozenset({EmailKind.REJECTION, EmailKind.OFFER}),
        frozenset({EmailKind.REJECTION, EmailKind.NEXT_STEP}),
        frozenset({EmailKind.REJECTION, EmailKind.UPDATE}),
        frozenset({EmailKind.OFFER, EmailKind.UPDATE}),
    }
)


def can_send(candidate: Candidate, kind: EmailKind, *, waiting: bool) -> bool:
    """Whether the candidate's status allows this kind now; an update also needs an open wait."""
    return candidate.status in ALLOWED_FROM[kind] and (kind != EmailKind.UPDATE or waiting)


#: Where a draft (the Customize page) shows the status page link: a message the manager rewrote
#: gets the real link there when it is queued.
STATUS_LINK_MARK = "[your status page link]"

MAX_KEY = 128
MAX_FEEDBACK = 5_000
MAX_REASON = 100
MAX_REASONS = 10


def new_idempotency_key() -> str:
    """A fresh key for one button or form: posting it twice queues one email."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class EmailRequest:
    """One email to queue to a candidate, as a page, a command or the API asks for it.

    ``subject`` and ``text`` replace the rendered message when the manager customised it. With
    ``default_promise`` (a one-click update, the command line) an update without a date promises
    the date the pages offer.
    ``waiting`` says whether the candidate is waiting for an answer now (``waits.answers`` fills it
    in).
    """

    candidate: Candidate
    kind: EmailKind | str
    idempotency_key: str
    now: dt.datetime
    actor: User | None = None
    promised_date: dt.date | None = None
    feedback: str | None = None
    reasons: tuple[str, ...] = ()
    subject: str | None = None
    text: str | None = None
    default_promise: bool = False
    #: Queued by autopilot, not by a person (``actor`` is None then).
    autopilot: bool = False
    waiting: bool = False
    #: The batch of a bulk answer the email belongs to (``waits.bulk``): one Undo takes back all.
    batch_id: str | None = None
    #: The template to write it from: a template id, ``choosing.SHIPPED``, or None for the
    #: candidate's default (their position's, their stage's, or the organisation's).
    template: int | None = None
    #: Send later: the time chosen (``emails.scheduling``); None sends it after the undo window.
    send_at: scheduling.SendAt | None = None


def check_feedback_kept(feedback: str | None, text: str | None) -> None:
    """A message the manager rewrote must still hold the feedback written for the candidate."""
    if text is None or not feedback or normalize_newlines(feedback) in normalize_newlines(text):
        return
    raise EmailError(
        "feedback: you edited the message, so the feedback is not added to it; write it into the "
        "message or start again from the template"
    )


def check_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise EmailError("idempotency key: missing")
    if len(key) > MAX_KEY:
        raise EmailError(f"idempotency key: longer than {MAX_KEY} characters")
    return key


def check_feedback(feedback: str | None) -> str | None:
    feedback = (feedback or "").strip() or None
    if feedback is not None:
        check_characters(feedback, "feedback")
    if feedback is not None and len(feedback) > MAX_FEEDBACK:
        raise EmailError(f"feedback: longer than {MAX_FEEDBACK} characters")
    return feedback


def check_reasons(kind: EmailKind, reasons: Iterable[str]) -> list[str]:
    cleaned = [r.strip() for r in reasons if r and r.strip()]
    if cleaned and kind != EmailKind.REJECTION:
        raise EmailError("reasons: only a rejection records rejection reasons")
    if len(cleaned) > MAX_REASONS:
        raise EmailError(f"reasons: at most {MAX_REASONS}")
    for reason in cleaned:
        if len(reason) > MAX_REASON:
            raise EmailError(f"reasons: {reason[:20]!r}… is longer than {MAX_REASON} characters")
    return list(dict.fromkeys(cleaned))


def check_promise(request: EmailRequest, kind: EmailKind) -> None:
    promised_date, candidate = request.promised_date, request.candidate
    if kind == EmailKind.UPDATE and promised_date is None:
        raise EmailError("promised date: an update tells the candidate when they will hear from us")
    if promised_date is None:
        return
    if kind in STATUS_SET:
        raise EmailError(f"promised date: {a_or_an(kind.label)} carries no promised date")
    try:
        check_promised_day(promised_date, local_date(request.now, candidate.position.time_zone))
    except ValueError as exc:
        raise EmailError(f"promised date: {exc}") from None
    if not request.waiting:
        raise EmailError(
            f"promised date: {candidate.name} is not waiting for an answer, so there is nothing to promise"
        )


def render_for(
    render: composing.Renderer,
    candidate: Candidate,
    config: EmailConfig,
    promised_date: dt.date | None,
    feedback: str | None,
    status_url: str = "",
) -> RenderedEmail:
    """The template (``render``, read once per batch) with this candidate's values."""
    position = candidate.position
    return render(
        {
            "candidate_first_name": composing.first_name(candidate.name),
            "candidate_name": candidate.name,
            "position": position.title,
            "manager": position.manager.name,
            "company": config.organisation_name,
            "promised_date": promised_date,  # written out in the template's language
            "feedback": feedback or "",
            "status_url": status_url,
        },
    )


def message_text(
    render: composing.Renderer,
    candidate: Candidate,
    config: EmailConfig,
    promised_date: dt.date | None,
    feedback: str | None,
    subject: str | None,
    text: str | None,
    status_url: str = "",
) -> RenderedEmail:
    """The rendered template, or the manager's customised subject and text (its status link mark
    replaced by ``status_url``)."""
    rendered = render_for(render, candidate, config, promised_date, feedback, status_url)
    if subject is not None:
        subject = subject.strip()
        check_characters(subject, "subject")
        if not subject:
            raise EmailError("subject: must not be empty")
        if len(subject) > composing.MAX_SUBJECT:
            raise EmailError(f"subject: longer than {composing.MAX_SUBJECT} characters")
        rendered = dataclasses.replace(rendered, subject=subject)
    if text is not None:
        check_characters(text, "text")
        if not text.strip():
            raise EmailError("text: must not be empty")
        if len(text) > composing.MAX_BODY:
            raise EmailError(f"text: longer than {composing.MAX_BODY} characters")
        text = text.replace(STATUS_LINK_MARK, status_url)
        rendered = dataclasses.replace(rendered, text=text, html=str(composing.text_to_html(text)))
    return rendered


def check_recipients(candidate: Candidate, manager: User, subject: str) -> None:
    check_headers(
        {
            "the candidate's name": candidate.name,
            "the hiring manager's name": manager.name,
            "the subject": subject,
        }
    )
    check_address("the candidate's email address", candidate.email)
    check_address("the hiring manager's email address", manager.email)


def conflict(a: EmailKind, b: EmailKind) -> bool:
    return frozenset({a, b}) in CONFLICTS


def status_once_cancelled(candidate: Candidate, conflicting: Sequence[OutboxMessage]) -> Status:
    """The candidate's status once the contradicted pending emails are cancelled."""
    status = candidate.status
    for message in reversed(conflicting):
        if message.kind in STATUS_SET and message.previous_status and status == STATUS_SET[message.kind]:
            status = Status(message.previous_status)
    return status


def draft(
    session: Session,
    candidate: Candidate,
    kind: str | EmailKind,
    config: EmailConfig,
    *,
    promised_date: dt.date | None = None,
    feedback: str | None = None,
    template: int | None = None,
) -> RenderedEmail:
    """The message a one-click send would queue (from ``template``, else the candidate's default),
    for "Customize" to show and edit."""
    kind = composing.check_kind(kind)
    mark = STATUS_LINK_MARK if config.status_links else ""
    language = config.language_of(candidate.language)
    render = choosing.choose(session, kind, candidate, template).renderer(language, config.default_language)
    return render_for(render, candidate, config, promised_date, check_feedback(feedback), mark)


@dataclass(frozen=True)
class Checked:
    """A new email that passed every check: what the outbox inserts and what it changes."""

    kind: EmailKind
    key: str
    feedback: str | None
    reasons: list[str]
    conflicting: list[OutboxMessage]
    status_before: Status
    rendered: RenderedEmail
    #: The token of the status page link the message carries; None when it carries none.
    status_token: str | None = None
    #: The template it is written from.
    template: choosing.Chosen | None = None
    #: When it goes, when the manager chose a time; None: after the undo window.
    scheduled: scheduling.Scheduled | None = None


@dataclass
class Reads:
    """What the checks of a batch read, once for all its requests: each candidate's pending emails
    (those a new one may contradict), and the kinds' templates and defaults, each template compiled
    once."""

    pending: dict[int, list[OutboxMessage]]
    templates: choosing.Catalogue
    renderers: dict[tuple[EmailKind, int, str], composing.Renderer] = field(default_factory=dict)

    def template(
        self, request: EmailRequest, kind: EmailKind, config: EmailConfig
    ) -> tuple[choosing.Chosen, composing.Renderer]:
        """The request's template in the candidate's language (``EmailConfig.language_of``)."""
        chosen = self.templates.choose(kind, request.candidate, request.template)
        language = config.language_of(request.candidate.language)
        key = (kind, chosen.value, language)
        if key not in self.renderers:
            self.renderers[key] = chosen.renderer(language, config.default_language)
        return chosen, self.renderers[key]


def read_for(session: Session, requests: Sequence[tuple[EmailRequest, EmailKind]]) -> Reads:
    """The reads of ``validate`` for a batch, in a few statements whatever its size."""
    pending = queries.pending_by_candidate(session, {request.candidate.id for request, _ in requests})
    return Reads(pending, choosing.catalogue(session, {kind for _, kind in requests}))


def validate(request: EmailRequest, kind: EmailKind, key: str, config: EmailConfig, reads: Reads) -> Checked:
    """Every check of a new email, before anything is written; EmailError names the field.

    With status links on, the message gets a fresh link (stored by the outbox with the message)."""
    candidate = request.candidate
    feedback = check_feedback(request.feedback)
    check_feedback_kept(feedback, request.text)
    reasons = check_reasons(kind, request.reasons)
    check_promise(request, kind)
    scheduled = _scheduled(request)
    conflicting = [m for m in reads.pending.get(candidate.id, ()) if conflict(m.kind, kind)]
    status_before = status_once_cancelled(candidate, conflicting)
    token = status_links.new_token() if config.status_links else None
    status_url = config.status_url(token)
    if status_before not in ALLOWED_FROM[kind]:
        raise EmailError(
            f"cannot send {candidate.name} {a_or_an(kind.label)}: they are {status_before.value}"
        )
    chosen, render = reads.template(request, kind, config)
    rendered = message_text(
        render,
        candidate,
        config,
        request.promised_date,
        feedback,
        request.subject,
        request.text,
        status_url,
    )
    check_recipients(candidate, candidate.position.manager, rendered.subject)
    carried = bool(status_url) and status_url in rendered.text + rendered.html
    return Checked(
        kind,
        key,
        feedback,
        reasons,
        conflicting,
        status_before,
        rendered,
        token if carried else None,
        chosen,
        scheduled,
    )


def _scheduled(request: EmailRequest) -> scheduling.Scheduled | None:
    """The checked send time; an update may not arrive after the date it promises."""
    if request.send_at is None:
        return None
    scheduled = scheduling.schedule(request.send_at, request.candidate, request.now)
    promised = request.promised_date
    if promised is not None and local_date(scheduled.send_after, scheduled.time_zone) > promised:
        raise EmailError(f"send at: after {promised:%a %d %b %Y}, the date this update promises")
    return scheduled
