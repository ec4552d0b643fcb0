"""Email templates: the files shipped with the app, admins' edits, and rendering them.

Default templates are files (``templates/mail/<kind>.txt`` and ``.html``) rendered by Flask's Jinja
with autoescaping on for HTML. An admin's edit is stored in the database and rendered in Jinja's
sandbox, where only the documented placeholders exist: no configuration, no objects, no code.
Either way the HTML part comes out with its styles inlined and a viewport (``emails.html``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla import languages
from feedback_sla.accounts.models import User
from feedback_sla.emails import html as mail_html
from feedback_sla.emails import sandbox, shipped, template_checks, versions
from feedback_sla.emails.models import CANDIDATE_KINDS, EmailKind, EmailTemplate
from feedback_sla.emails.template_checks import (  # noqa: F401  (where callers read them)
    MAX_BODY,
    MAX_SUBJECT,
    PLACEHOLDERS,
    SAMPLE,
    WORST_CASE,
    TemplateError,
    validate,
)
from feedback_sla.errors import DomainError
from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE

#: The English subjects shipped (every language's: ``shipped.SUBJECTS``).
DEFAULT_SUBJECTS: dict[EmailKind, str] = shipped.SUBJECTS["en"]

#: The day the sample promises an answer by, written in each preview's language.
SAMPLE_DAY = dt.date(2026, 11, 27)


@dataclass(frozen=True)
class TemplateSource:
    """A template's parts; ``edited`` for a named one an admin wrote (``id``, ``name``), not the
    shipped files."""

    kind: EmailKind
    subject: str
    text: str
    html: str
    edited: bool = False
    updated_by: str | None = None
    updated_at: dt.datetime | None = None
    id: int | None = None
    name: str = ""
    is_default: bool = False
    #: The language it is written in.
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    #: The language it is written in (the template's, which may be the fallback's); None when
    #: not known (a digest).
    language: str | None = field(default=None, compare=False)


def check_kind(kind: str | EmailKind) -> EmailKind:
    try:
        value = EmailKind(kind)
    except ValueError:
        value = None
    if value not in CANDIDATE_KINDS:
        known = ", ".join(k.value for k in CANDIDATE_KINDS)
        raise DomainError(f"unknown email kind {kind!r}; kinds: {known}")
    return value


def default_source(kind: str | EmailKind, language: str = DEFAULT_LANGUAGE) -> TemplateSource:
    """The template shipped with the app in ``language``, as an admin would start editing it."""
    kind = check_kind(kind)
    language = shipped.shipped_language(language)
    env = current_app.jinja_env
    text, _, _ = env.loader.get_source(env, shipped.file_name(kind, language, "txt"))
    html, _, _ = env.loader.get_source(env, shipped.file_name(kind, language, "html"))
    return TemplateSource(
        kind=kind, subject=shipped.subject(kind, language), text=text, html=html, language=language
    )


def default_row(session: Session, kind: EmailKind) -> EmailTemplate | None:
    """The organisation's default named template of ``kind``; None: the shipped files are."""
    query = select(EmailTemplate).where(EmailTemplate.kind == kind, EmailTemplate.is_default.is_(True))
    return session.scalar(query)


def source_of(session: Session, kind: str | EmailKind, language: str | None = None) -> TemplateSource:
    """The organisation's default template of ``kind``: a named one, or the shipped files (in
    ``language``, English by default)."""
    kind = check_kind(kind)
    return source_of_row(kind, default_row(session, kind), language)


def source_of_row(kind: EmailKind, row: EmailTemplate | None, language: str | None = None) -> TemplateSource:
    """A named template's parts in its own language, or in ``language`` when it has a version in
    it; the shipped files' when ``row`` is None."""
    if row is None:
        return default_source(kind, language or DEFAULT_LANGUAGE)
    version = versions.written_in(row, language or row.language)
    if version is None:
        version = versions.written_in(row, row.language)
    return TemplateSource(
        kind=kind,
        subject=version.subject,
        text=version.text,
        html=version.html,
        edited=True,
        updated_by=version.updated_by,
        updated_at=version.updated_at,
        id=row.id,
        name=row.name,
        is_default=row.is_default,
        language=version.language,
    )


def save_template(
    session: Session,
    kind: str | EmailKind,
    subject: str,
    text: str,
    html: str,
    actor: User | None,
    now: dt.datetime,
    language: str = DEFAULT_LANGUAGE,
) -> EmailTemplate:
    """Validate and store an admin's edit of the kind's default template; while the shipped files
    are the default, the edit becomes a named template written in ``language`` (the organisation's
    default), the new default (the caller commits)."""
    kind = check_kind(kind)
    subject = subject.strip()
    validate(subject, text, html)
    row = default_row(session, kind)
    if row is None:
        row = EmailTemplate(kind=kind, name=_free_name(session, kind), is_default=True, language=language)
        session.add(row)
    row.subject, row.text_body, row.html_body = subject, text, html
    row.updated_by, row.updated_at = actor, now
    session.flush()
    return row


def _free_name(session: Session, kind: EmailKind) -> str:
    """The kind's title, numbered when a template already has it."""
    taken = {
        name.lower() for name in session.scalars(select(EmailTemplate.name).where(EmailTemplate.kind == kind))
    }
    title = kind.label[:1].upper() + kind.label[1:]
    number = 1
    name = title
    while name.lower() in taken:
        number += 1
        name = f"{title} {number}"
    return name


def reset_template(session: Session, kind: str | EmailKind) -> bool:
    """Go back to the shipped files as the default: the default named template is deleted; False
    if the shipped files already were the default."""
    row = default_row(session, check_kind(kind))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def render(
    session: Session, kind: str | EmailKind, context: Mapping[str, object], language: str = DEFAULT_LANGUAGE
) -> RenderedEmail:
    """Render the template in use for ``kind`` with placeholder values, in ``language``."""
    return renderer(session, kind, language)(context)


#: A template in use, read and compiled: placeholder values in, the message out. A date among
#: the values (``promised_date``) is written out in the template's language.
Renderer = Callable[[Mapping[str, object]], RenderedEmail]


def renderer(session: Session, kind: str | EmailKind, language: str = DEFAULT_LANGUAGE) -> Renderer:
    """The organisation's default template of ``kind`` in ``language``, read once (``renderer_of``)."""
    kind = check_kind(kind)
    return renderer_of(kind, default_row(session, kind), language, language)


def renderer_of(
    kind: EmailKind,
    row: EmailTemplate | None,
    language: str = DEFAULT_LANGUAGE,
    fallback: str = DEFAULT_LANGUAGE,
) -> Renderer:
    """A named template (``row``) in ``language``, else whole in ``fallback`` (the organisation's
    default), else in its own; or the shipped files in ``language`` when None. Compiled once: a
    batch of messages renders each with no further statement."""
    if row is None:
        language = shipped.shipped_language(language)
        env = current_app.jinja_env
        subject = template_checks.compiled("subject", shipped.subject(kind, language))
        text = env.get_template(shipped.file_name(kind, language, "txt"))
        html = env.get_template(shipped.file_name(kind, language, "html"))

        def default(context: Mapping[str, object]) -> RenderedEmail:
            values = _values(context, language)
            return RenderedEmail(
                subject=_subject(subject.render(values)),
                text=text.render(values),
                html=mail_html.finish(html.render(values)),
                language=language,
            )

        return default
    version = versions.chosen(row, language, fallback)
    source = (version.subject, version.text, version.html)
    return lambda context: _render_source(*source, _values(context, version.language), version.language)


def _render_source(
    subject: str, text: str, html: str, values: Mapping[str, str], language: str = DEFAULT_LANGUAGE
) -> RenderedEmail:
    """An edited template rendered; any error (a template stored before a rule tightened, or written
    to the database by hand) is a TemplateError with its reason."""
    try:
        return RenderedEmail(
            subject=_subject(sandbox.render(template_checks.compiled("subject", subject), values)),
            text=sandbox.render(template_checks.compiled("text", text), values),
            html=mail_html.finish_edited(sandbox.render(template_checks.compiled("html", html), values)),
            language=language,
        )
    except Exception as exc:
        raise TemplateError(
            "template", f"cannot be rendered ({template_checks.reason(exc)}); fix or reset it"
        ) from None


def preview(
    session: Session,
    kind: str | EmailKind,
    sample: Mapping[str, object] | None = None,
    source: TemplateSource | None = None,
    language: str | None = None,
) -> RenderedEmail:
    """The message for a sample candidate: with the template in use, or an unsaved ``source``, in
    ``language`` (the source's by default); the sample's promised date is written in it."""
    language = language or (source.language if source is not None else DEFAULT_LANGUAGE)
    values: dict[str, object] = {**SAMPLE, **(sample or {})}
    if values.get("promised_date") == SAMPLE["promised_date"]:  # the sample's day, in the language
        values["promised_date"] = SAMPLE_DAY
    if source is None:
        return render(session, kind, values, language)
    validate(source.subject.strip(), source.text, source.html)
    return _render_source(source.subject, source.text, source.html, _values(values, language), language)


def _values(context: Mapping[str, object], language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every placeholder as text, a date written out in ``language``; anything else is dropped."""
    values = {}
    for key in PLACEHOLDERS:
        value = context.get(key)
        if isinstance(value, dt.date):
            value = languages.long_date(value, language)
        values[key] = "" if value is None else str(value)
    return values


def _subject(rendered: str) -> str:
    return rendered.strip()


def format_date(day: dt.date | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A date as a candidate reads it in ``language`` (``languages.long_date``); empty for none."""
    return languages.long_date(day, language) if day is not None else ""


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


def text_to_html(text: str) -> Markup:
    """A manager's plain-text message as HTML: escaped, paragraphs and line breaks kept, in the
    shipped templates' frame with its styles inlined."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.split("\n")))
        for p in paragraphs
    )
    # Every text in the body was escaped above; the frame is the module's own.
    return Markup(mail_html.finish(mail_html.framed(body)))  # noqa: S704
