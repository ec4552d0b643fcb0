"""``feedback-sla emails``: queue, undo and inspect candidate emails; edit their templates."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from feedback_sla.candidates.models import Candidate
from feedback_sla.cli import bulk_emails
from feedback_sla.cli.common import committed, refusing, user_named_by
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.emails import checks, choosing, composing, queries, scheduling
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import CANDIDATE_KINDS, EmailKind, OutboxStatus
from feedback_sla.output import WRITERS
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import iso, parse_date, utcnow
from feedback_sla.waits import answers
from feedback_sla.waits.clock import State

KIND_CHOICE = click.Choice([k.value for k in CANDIDATE_KINDS])


emails = AppGroup("emails", help="Queue, undo and inspect candidate emails; edit their templates.")


def _config() -> EmailConfig:
    """The email settings, with the company name the admins set."""
    try:
        return settings_service.email_config(db.session, EmailConfig.from_app(current_app))
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _actor(email: str | None):
    if not email:
        return None
    return user_named_by(email, "--as")


@emails.command("queue")
@click.argument("args", nargs=-1, metavar="[CANDIDATE_ID] KIND")
@click.option(
    "--candidate",
    "candidate_ids",
    type=int,
    multiple=True,
    help="Answer this candidate too (repeatable): several candidates get the same answer as one batch.",
)
@click.option("--position", "position_id", type=int, help="Answer every waiting candidate of this position.")
@click.option(
    "--state",
    "states",
    type=click.Choice([s.value for s in State]),
    multiple=True,
    help="Answer the waiting candidates in this state (repeatable), e.g. overdue or escalated.",
)
@click.option("--manager", "manager_email", help="Answer the waiting candidates of this hiring manager.")
@click.option(
    "--confirm",
    "typed",
    type=int,
    help="The number of candidates answered, when it is above the setting bulk.confirm_above "
    "(otherwise it is asked for).",
)
@click.option(
    "--promised-by",
    help="Date the candidate will hear by (YYYY-MM-DD); an update without it promises the "
    "deadline a fresh wait would have, as the browser offers.",
)
@click.option("--feedback", help="Feedback for the candidate, written into the message.")
@click.option(
    "--reason", "reasons", multiple=True, help="Internal rejection reason (repeatable; never sent)."
)
@click.option("--subject", help="Replace the template's subject for this message.")
@click.option(
    "--text-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replace the message text (the HTML part is made from it).",
)
@click.option(
    "--template",
    help="Write it from this template: its id, its name, or 'shipped'; by default each candidate's "
    "own (their position's, their stage's, or the organisation's).",
)
@click.option(
    "--send-at",
    help="Send later, at this time on each candidate's clock (their time zone when known, else their "
    'position\'s), e.g. "2026-12-08 09:00"; with an offset it is that instant. At most 30 days ahead.',
)
@click.option("--as", "actor_email", help="Queue as this user (timeline actor).")
@click.option("--key", help="Idempotency key: the same key twice queues one email (or one batch).")
def queue_command(args, candidate_ids, position_id, states, manager_email, typed, **single):
    """Queue an email to a candidate, sent after the undo window; or the same answer to several
    candidates (--candidate, or --position, --state, --manager), each skipped one named with why."""
    chosen = bulk_emails.Selection(candidate_ids, position_id, states, manager_email)
    if len(args) == 2 and not chosen.given:
        return _queue_one(_candidate_id(args[0]), _kind(args[1]), **single)
    if len(args) == 2:
        raise click.UsageError("give CANDIDATE_ID, or --candidate and the filters, not both")
    if len(args) != 1:
        raise click.UsageError("give the KIND of the answer (and CANDIDATE_ID, --candidate or a filter)")
    bulk_emails.queue_many(args[0], chosen, typed, _config(), _actor(single.pop("actor_email")), **single)


def _kind(text: str) -> str:
    if text not in KIND_CHOICE.choices:
        raise click.BadParameter(
            f"{text!r} is not one of {', '.join(KIND_CHOICE.choices)}", param_hint="'KIND'"
        )
    return text


def _candidate_id(text: str) -> int:
    if not text.isdigit():
        raise click.BadParameter(f"{text!r} is not a candidate id", param_hint="'CANDIDATE_ID'")
    return int(text)


def _queue_one(
    candidate_id,
    kind,
    promised_by,
    feedback,
    reasons,
    subject,
    text_file,
    template,
    send_at,
    actor_email,
    key,
):
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None:
        raise click.BadParameter(f"no candidate with id {candidate_id}", param_hint="'CANDIDATE_ID'")
    later = bulk_emails.send_at_option(send_at)
    if later is not None:
        bulk_emails.checked_send_at(lambda: scheduling.schedule(later, candidate, utcnow()))
    try:
        promised = parse_date(promised_by) if promised_by else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--promised-by'") from None
    wanted = EmailRequest(
        candidate,
        kind,
        key or checks.new_idempotency_key(),
        utcnow(),
        _actor(actor_email),
        promised_date=promised,
        feedback=feedback,
        reasons=tuple(reasons),
        subject=subject,
        text=text_file.read_text(encoding="utf-8") if text_file else None,
        default_promise=True,
        template=bulk_emails.template_named(kind, template),
        send_at=later,
    )
    config = _config()
    message = committed(
        lambda: answers.queue_email(db.session, wanted, config, settings_service.load(db.session))
    )
    zone = message.send_at_zone or "UTC"
    click.echo(
        f"email {message.id} ({message.kind.value}) to {message.to_address} queued; "
        f"sent after {iso(message.send_after, zone)} unless undone: feedback-sla emails undo {message.id}"
    )


@emails.command("undo")
@click.argument("message_id", type=int, required=False)
@click.option("--batch", "batch_id", help="Undo every email of this batch (an answer to many at once).")
def undo_command(message_id, batch_id):
    """Cancel a queued email before its send time; the candidate's status goes back. With --batch,
    every email of the batch still in its undo window; the others are listed with why."""
    if (message_id is None) == (batch_id is None):
        raise click.UsageError("give MESSAGE_ID or --batch, one of them")
    if batch_id is not None:
        return bulk_emails.undo_batch(batch_id)
    _on_message(_undo, message_id, "cancelled")


def _undo(session, message, now):
    return answers.undo_email(session, message, now)


@emails.command("retry")
@click.argument("message_id", type=int)
def retry_command(message_id):
    """Send a failed email again."""
    _on_message(answers.retry_email, message_id, "queued again")


def _on_message(action, message_id: int, done: str) -> None:
    """Apply ``action`` (undo, retry) to one message and commit, or exit 1 with the reason."""
    message = committed(lambda: action(db.session, queries.get_message(db.session, message_id), utcnow()))
    click.echo(f"email {message.id} {done}")


LIST_COLUMNS = (
    "id",
    "candidate_id",
    "kind",
    "to",
    "subject",
    "status",
    "queued_at",
    "sent_at",
    "attempts",
    "last_error",
    "bounce_reason",
)


@emails.command("list")
@click.option("--candidate", "candidate_id", type=int, help="Only this candidate's emails.")
@click.option(
    "--status", type=click.Choice([s.value for s in OutboxStatus]), help="Only emails in this state."
)
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
def list_command(candidate_id, status, fmt, limit):
    """List emails, newest first."""
    rows = [
        (
            m.id,
            m.candidate_id,
            m.kind.value,
            m.to_address,
            m.subject,
            m.status.value,
            iso(m.queued_at),
            iso(m.sent_at),
            m.attempts,
            m.last_error or "",
            m.bounce_reason or "",
        )
        for m in queries.newest(db.session, limit, candidate_id=candidate_id, status=status)
    ]
    WRITERS[fmt](sys.stdout, LIST_COLUMNS, rows)


@emails.command("show")
@click.argument("message_id", type=int)
def show_command(message_id):
    """Show one email as it was (or will be) sent, with its delivery state."""
    m = refusing(lambda: queries.get_message(db.session, message_id))
    lines = [
        f"Message-ID: {m.message_id}",
        f"To: {m.to_name} <{m.to_address}>",
        f"Reply-To: {m.reply_to_name} <{m.reply_to_address}>" if m.reply_to_address else None,
        f"Subject: {m.subject}",
        f"Kind: {m.kind.value}",
        f"Status: {m.status.value}",
        f"Queued: {iso(m.queued_at)} (send after {iso(m.send_after)})",
        f"Sent: {iso(m.sent_at)}" if m.sent_at else None,
        f"Failed: {iso(m.failed_at)}" if m.failed_at else None,
        f"Cancelled: {iso(m.cancelled_at)} ({m.cancel_reason})" if m.cancelled_at else None,
        f"Bounced: {iso(m.bounced_at)} ({m.bounce_reason})" if m.bounced_at else None,
        f"Attempts: {m.attempts}",
        f"Last error: {m.last_error}" if m.last_error else None,
        f"Internal reasons: {', '.join(m.reasons)}" if m.reasons else None,
        "",
        m.text_body,
    ]
    click.echo("\n".join(line for line in lines if line is not None))


template = AppGroup(
    "template", help="List the templates; show, edit, preview or reset the default of a kind."
)
emails.add_command(template)


@template.command("list")
@click.argument("kind", type=KIND_CHOICE, required=False)
def template_list(kind):
    """Each kind's templates, tab-separated: the id --template takes, the kind, the name, and where
    it is the default (the organisation, positions by id, stages)."""
    kinds = [kind] if kind else [k.value for k in CANDIDATE_KINDS]
    listing = choosing.catalogue(db.session, kinds)
    scoped = choosing.defaults_listed(db.session, listing.templates)
    for name in kinds:
        kind_value = EmailKind(name)
        default = listing.defaults.get(kind_value, choosing.SHIPPED)
        for chosen in listing.of_kind(kind_value):
            used = ["organisation"] if chosen.value == default else []
            used += [
                f"position {d.position_id}" if d.position_id else f"stage {d.stage}"
                for d in scoped.get(chosen.value, [])
            ]
            click.echo(f"{chosen.value}\t{name}\t{chosen.name}\t{', '.join(used) or '-'}")


@template.command("show")
@click.argument("kind", type=KIND_CHOICE)
@click.option("--part", type=click.Choice(["subject", "text", "html"]), default="text", show_default=True)
def template_show(kind, part):
    """Print the kind's default template (a named one, or the shipped files)."""
    source = composing.source_of(db.session, kind)
    click.echo({"subject": source.subject, "text": source.text, "html": source.html}[part])


@template.command("set")
@click.argument("kind", type=KIND_CHOICE)
@click.option("--subject", help="New subject (keeps the current one if omitted).")
@click.option("--text", "text_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--html", "html_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor_email", help="Record this user as the editor.")
def template_set(kind, subject, text_file, html_file, actor_email):
    """Edit the kind's default template (while the shipped files are the default, the edit becomes a
    named template, the new default); it is checked first and refused with the reason."""
    current = composing.source_of(db.session, kind)
    committed(
        lambda: composing.save_template(
            db.session,
            kind,
            subject if subject is not None else current.subject,
            text_file.read_text(encoding="utf-8") if text_file else current.text,
            html_file.read_text(encoding="utf-8") if html_file else current.html,
            _actor(actor_email),
            utcnow(),
        )
    )
    click.echo(f"{kind} template saved")


@template.command("reset")
@click.argument("kind", type=KIND_CHOICE)
def template_reset(kind):
    """Make the shipped files the default again: the default named template is deleted."""
    changed = composing.reset_template(db.session, kind)
    db.session.commit()
    click.echo(f"{kind} template reset to the default" if changed else f"{kind} template was not edited")


@template.command("preview")
@click.argument("kind", type=KIND_CHOICE)
@click.option("--part", type=click.Choice(["text", "html"]), default="text", show_default=True)
def template_preview(kind, part):
    """Render the template in use for a sample candidate."""
    rendered = composing.preview(db.session, kind, {"company": _config().organisation_name})
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text if part == "text" else rendered.html)
