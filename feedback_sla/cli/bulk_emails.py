"""``feedback-sla emails queue KIND --candidate … | --position/--state/--manager``: one answer to
many candidates as one batch, each queued or skipped row printed with why; and its batch Undo."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click

from feedback_sla.accounts.models import User
from feedback_sla.cli.common import committed, refusing, user_named_by
from feedback_sla.database import db
from feedback_sla.emails import checks, choosing, scheduling
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind
from feedback_sla.errors import DomainError
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import iso, parse_date, utcnow
from feedback_sla.waits import bulk
from feedback_sla.waits.clock import State
from feedback_sla.waits.queries import Filters, waiting

SETTING = "bulk.confirm_above"
T = TypeVar("T")


@dataclass(frozen=True)
class Selection:
    """The candidates a command names: by id, or the waiting ones a filter finds."""

    candidate_ids: tuple[int, ...] = ()
    position_id: int | None = None
    states: tuple[str, ...] = ()
    manager_email: str | None = None

    @property
    def filtered(self) -> bool:
        return self.position_id is not None or bool(self.states) or self.manager_email is not None

    @property
    def given(self) -> bool:
        return bool(self.candidate_ids) or self.filtered

    def ids(self, settings) -> list[int]:
        """The ids named, then the waiting candidates the filters find, most urgent first."""
        found: list[int] = []
        if self.filtered:
            manager = user_named_by(self.manager_email, "--manager") if self.manager_email else None
            filters = Filters(
                manager_id=manager.id if manager else None,
                position_id=self.position_id,
                states=frozenset(State(s) for s in self.states) or None,
            )
            found = [row.candidate_id for row in waiting(db.session, utcnow(), settings, filters)]
            if not found:
                raise click.ClickException("no waiting candidate matches --position, --state and --manager")
        return list(dict.fromkeys([*self.candidate_ids, *found]))


def template_named(kind: str, text: str | None) -> int | None:
    """The template ``--template`` names, or None for each candidate's default (exit 2 naming it)."""
    if text is None:
        return None
    try:
        return choosing.find(db.session, kind, text)
    except DomainError as exc:
        raise click.BadParameter(str(exc).removeprefix("template: "), param_hint="'--template'") from None


def send_at_option(text: str | None) -> scheduling.SendAt | None:
    """``--send-at`` read (exit 2 naming it when it is no date and time)."""
    if text is None:
        return None
    try:
        return scheduling.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--send-at'") from None


def checked_send_at(call: Callable[[], T]) -> T:
    """``call``'s result; a send time that has passed or lies too far ahead is refused naming
    ``--send-at`` (exit 2)."""
    try:
        return call()
    except DomainError as exc:
        if not str(exc).startswith("send at: "):
            raise
        raise click.BadParameter(str(exc).removeprefix("send at: "), param_hint="'--send-at'") from None


def queue_many(
    kind: str,
    chosen: Selection,
    typed: int | None,
    config: EmailConfig,
    actor: User | None,
    *,
    promised_by: str | None,
    feedback: str | None,
    reasons: tuple[str, ...],
    subject: str | None,
    text_file: Path | None,
    template: str | None,
    send_at: str | None,
    key: str | None,
) -> None:
    """Queue the answer to every eligible candidate as one batch; exit 1 when none could get it."""
    kind, promised = _checked(kind, chosen, subject, text_file, promised_by)
    settings = settings_service.load(db.session)
    ids = chosen.ids(settings)
    chosen, later = template_named(kind, template), send_at_option(send_at)
    answer = bulk.Answer(kind, feedback, tuple(reasons), promised, template=chosen, send_at=later)
    now = utcnow()
    planned = refusing(
        lambda: checked_send_at(lambda: bulk.plan(db.session, ids, answer, now, settings, manager_id=None))
    )
    threshold = int(settings_service.value_of(db.session, SETTING))
    count = len(planned.eligible)
    if count > threshold and typed is None:
        typed = click.prompt(f"{count} candidates would get {kind.label}s; type {count} to confirm", type=int)
    done = refusing(
        lambda: bulk.answer_many(
            db.session,
            ids,
            answer,
            config,
            settings,
            now,
            key=key or checks.new_idempotency_key(),
            actor=actor,
            manager_id=None,
            confirm_above=threshold,
            typed=typed,
        )
    )
    _report(done)
    if not done.queued:
        db.session.rollback()
        raise click.ClickException(f"nothing was queued: no candidate named can get {kind.label}s now")
    batch_id, until = done.batch_id, bulk.undo_until(done)
    db.session.commit()
    click.echo(
        f"{len(done.queued)} queued, {len(done.skipped)} skipped; batch {batch_id}"
        + (
            f", sent after {iso(until)} unless undone: feedback-sla emails undo --batch {batch_id}"
            if until
            else ""
        )
    )


def _checked(
    kind: str, chosen: Selection, subject: str | None, text_file: Path | None, promised_by: str | None
) -> tuple[EmailKind, dt.date | None]:
    """The kind and the promised date, or the option that is wrong named (exit 2)."""
    try:
        kind = bulk.check_kind(kind)
    except DomainError as exc:
        raise click.BadParameter(str(exc).removeprefix("kind: "), param_hint="'KIND'") from None
    if not chosen.given:
        raise click.BadParameter(
            "name candidates with --candidate, or find them with --position, --state or --manager",
            param_hint="'--candidate'",
        )
    for value, option in ((subject, "--subject"), (text_file, "--text-file")):
        if value is not None:
            raise click.BadParameter("is for one candidate; many get the template", param_hint=f"'{option}'")
    try:
        promised = parse_date(promised_by) if promised_by else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--promised-by'") from None
    return kind, promised


def _report(done: bulk.Answered) -> None:
    """Each queued and each skipped candidate on a line, tab-separated, the skipped with why."""
    for candidate, message in done.queued:
        click.echo(f"queued  {candidate.id}\t{candidate.name}\temail {message.id} to {message.to_address}")
    for skipped, name in zip(done.skipped, bulk.names(done.skipped), strict=True):
        click.echo(f"skipped {skipped.candidate_id}\t{name}\t{bulk.skip_text(skipped, done.kind)}")


def undo_batch(batch_id: str) -> None:
    """Undo the batch's emails still in their window; list those that could not be; exit 1 if none was."""
    done = committed(lambda: _undone(bulk.undo_batch(db.session, batch_id, utcnow(), None, manager_id=None)))
    undone, left = done
    for line in undone:
        click.echo(f"cancelled {line}")
    for line in left:
        click.echo(f"not undone {line}")
    if not undone:
        raise click.ClickException(f"no email of batch {batch_id} could be undone")


def _undone(result: bulk.Undone) -> tuple[list[str], list[str]]:
    """Read before the commit expires the rows."""
    undone = [f"email {m.id} to {m.candidate.name}" for m in result.undone]
    left = [f"email {m.id} to {m.candidate.name}: {reason}" for m, reason in result.not_undone]
    return undone, left
