"""What admins do to the named templates: add, rename, edit and delete them, choose the
organisation's default per kind, and the defaults per position or stage.

Every template is checked as an edit is (``composing.validate``: the sandbox, its limits, the
worst-case values); a refusal is a TemplateError naming the field. The shipped files are never
deleted nor renamed: deleting the default named template makes them the default again. The
caller commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.emails import choosing, composing
from feedback_sla.emails.composing import TemplateError
from feedback_sla.emails.models import EmailKind, EmailTemplate, TemplateDefault, TemplateVersion
from feedback_sla.errors import DomainError
from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE
from feedback_sla.languages import SHIPPED
from feedback_sla.positions.models import Position
from feedback_sla.text import check_characters

MAX_NAME = 100


def get(session: Session, template_id: int) -> EmailTemplate:
    row = session.get(EmailTemplate, template_id) if template_id else None
    if row is None:
        raise TemplateError("template", f"there is no template {template_id}")
    return row


def check_name(session: Session, kind: EmailKind, name: str, template_id: int | None = None) -> str:
    """A template's name: one line, at most ``MAX_NAME`` characters, unique in its kind (any case)."""
    name = " ".join((name or "").split())
    if not name:
        raise TemplateError("name", "must not be empty")
    try:
        check_characters(name, "name")
    except DomainError as exc:
        raise TemplateError("name", str(exc).removeprefix("name: ")) from None
    if len(name) > MAX_NAME:
        raise TemplateError("name", f"is longer than {MAX_NAME} characters")
    if name.lower() in ("shipped", choosing.shipped_name(kind).lower()):
        raise TemplateError("name", "is the shipped template's; choose another")
    query = select(EmailTemplate.id).where(
        EmailTemplate.kind == kind, func.lower(EmailTemplate.name) == name.lower()
    )
    taken = [found for found in session.scalars(query) if found != template_id]
    if taken:
        raise TemplateError("name", f"another {kind.label} template is named {name!r}")
    return name


def add(
    session: Session,
    kind: EmailKind | str,
    name: str,
    subject: str,
    text: str,
    html: str,
    actor: User | None,
    now: dt.datetime,
    language: str = DEFAULT_LANGUAGE,
) -> EmailTemplate:
    """A new named template of ``kind``, written in ``language``; not the default until an admin
    makes it so."""
    kind = composing.check_kind(kind)
    name = check_name(session, kind, name)
    composing.validate(subject.strip(), text, html)
    row = EmailTemplate(kind=kind, name=name, is_default=False, language=language)
    _write(row, subject, text, html, actor, now)
    session.add(row)
    session.flush()
    return row


def edit(
    session: Session,
    row: EmailTemplate,
    name: str,
    subject: str,
    text: str,
    html: str,
    actor: User | None,
    now: dt.datetime,
) -> EmailTemplate:
    """Rename and rewrite a named template; emails already queued keep the text they were written
    with."""
    name = check_name(session, row.kind, name, row.id)
    composing.validate(subject.strip(), text, html)
    row.name = name
    _write(row, subject, text, html, actor, now)
    session.flush()
    return row


def write_version(
    session: Session,
    row: EmailTemplate,
    language: str,
    subject: str,
    text: str,
    html: str,
    actor: User | None,
    now: dt.datetime,
) -> TemplateVersion | EmailTemplate:
    """Write the template in ``language`` (one of ``languages.SHIPPED``), checked as every edit is:
    its own text when that is its language, else the version in it, added or rewritten."""
    if language not in SHIPPED:
        raise TemplateError("language", f"one of {', '.join(SHIPPED)}")
    if language == row.language:
        return edit(session, row, row.name, subject, text, html, actor, now)
    composing.validate(subject.strip(), text, html)
    version = next((v for v in row.versions if v.language == language), None)
    if version is None:
        version = TemplateVersion(template=row, language=language)
        session.add(version)
    version.subject, version.text_body, version.html_body = subject.strip(), text, html
    version.updated_by, version.updated_at = actor, now
    session.flush()
    return version


def remove_version(session: Session, row: EmailTemplate, language: str) -> None:
    """Delete the template's version in ``language``: candidates in it get the organisation's
    default language's from now on. Its own text cannot be deleted this way."""
    version = next((v for v in row.versions if v.language == language), None)
    if version is None:
        raise TemplateError("language", f"the template has no version in {language!r} to delete")
    row.versions.remove(version)
    session.flush()


def _write(
    row: EmailTemplate, subject: str, text: str, html: str, actor: User | None, now: dt.datetime
) -> None:
    row.subject, row.text_body, row.html_body = subject.strip(), text, html
    row.updated_by, row.updated_at = actor, now


def remove(session: Session, row: EmailTemplate) -> bool:
    """Delete a named template and the position and stage defaults it was; True when it was the
    organisation's default, so the shipped files are again."""
    was_default = row.is_default
    session.execute(delete(TemplateDefault).where(TemplateDefault.template_id == row.id))
    session.delete(row)
    session.flush()
    return was_default


def make_default(session: Session, kind: EmailKind | str, value: int) -> choosing.Chosen:
    """The organisation's default of ``kind`` from now on: a named template, or ``SHIPPED``."""
    kind = composing.check_kind(kind)
    chosen = choosing.choose(session, kind, None, value)
    table = EmailTemplate.__table__
    # The old default first: one default per kind is a unique index.
    session.execute(
        update(table).where(table.c.kind == kind.value, table.c.is_default).values(is_default=False)
    )
    if chosen.row is not None:
        session.execute(update(table).where(table.c.id == chosen.row.id).values(is_default=True))
    session.expire_all()
    return chosen


def set_scope_default(
    session: Session, row: EmailTemplate, *, position_id: int | None = None, stage: str | None = None
) -> TemplateDefault:
    """Make ``row`` the default for one position's, or one stage's, emails of its kind, in place
    of the template that was."""
    if (position_id is None) == (stage is None):
        raise TemplateError("scope", "choose a position or a stage")
    if position_id is not None and session.get(Position, position_id) is None:
        raise TemplateError("position", f"there is no position {position_id}")
    if stage is not None and stage not in PIPELINE:
        raise TemplateError("stage", f"one of {', '.join(PIPELINE)}")
    same_kind = select(EmailTemplate.id).where(EmailTemplate.kind == row.kind)
    scope = (
        TemplateDefault.position_id == position_id
        if position_id is not None
        else TemplateDefault.stage == stage
    )
    session.execute(delete(TemplateDefault).where(scope, TemplateDefault.template_id.in_(same_kind)))
    chosen = TemplateDefault(template_id=row.id, position_id=position_id, stage=stage)
    session.add(chosen)
    session.flush()
    return chosen


def remove_scope_default(session: Session, default_id: int) -> TemplateDefault:
    chosen = session.get(TemplateDefault, default_id)
    if chosen is None:
        raise TemplateError("default", f"there is no such default {default_id}")
    session.delete(chosen)
    session.flush()
    return chosen
