"""Email templates: the files shipped with the app, admins' edits, and rendering them.

Default templates are files (``templates/mail/<kind>.txt`` and ``.html``) rendered by Flask's Jinja
with autoescaping on for HTML. An admin's edit is stored in the database and rendered in Jinja's
sandbox, where only the documented placeholders exist: no configuration, no objects, no code.
Either way the HTML part comes out with its styles inlined and a viewport (``emails.html``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jinja2
from flask import current_app
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.emails import html as mail_html
from feedback_sla.emails import sandbox
from feedback_sla.emails.models import CANDIDATE_KINDS, EmailKind, EmailTemplate
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import long_date

#: The placeholders a template may use, with what each holds (shown to admins on the edit page).
PLACEHOLDERS: dict[str, str] = {
    "candidate_first_name": "the candidate's first name",
    "candidate_name": "the candidate's full name",
    "position": "the position's title",
    "manager": "the hiring manager's name",
    "company": "the company name (an organisation setting)",
    "promised_date": "the date the candidate will hear by, written out (empty if none)",
    "feedback": "feedback the manager wrote for this candidate (empty if none)",
    "status_url": "the candidate's private status page link (empty when the status page is off)",
}

DEFAULT_SUBJECTS: dict[EmailKind, str] = {
    EmailKind.REJECTION: "Your application for {{ position }} at {{ company }}",
    EmailKind.OFFER: "{{ position }} at {{ company }}: let's talk about an offer",
    EmailKind.UPDATE: "{{ position }} at {{ company }}: an update on your application",
    EmailKind.NEXT_STEP: "{{ position }} at {{ company }}: the next step",
    EmailKind.ACKNOWLEDGEMENT: "We received your application for {{ position }}",
}

#: The sample candidate a preview is rendered for.
SAMPLE: dict[str, str] = {
    "candidate_first_name": "Alex",
    "candidate_name": "Alex Example",
    "position": "Backend Engineer",
    "manager": "Maria Lopez",
    "company": "Example Company",
    "promised_date": "Friday, 27 November 2026",
    "feedback": "Your system design answers were strong; we chose someone with more on-call experience.",
    "status_url": "https://feedback.example.com/status/an-example-link-that-opens-nothing",
}

#: The longest values a real candidate email can carry: an edited template is rendered with these
#: on save, so one that is cheap on the short sample but explodes on real feedback is refused.
WORST_CASE: dict[str, str] = {
    "candidate_first_name": "Maximilianë" * 9,
    "candidate_name": ("Maximilianë Alexandra-Josefine " * 7)[:200],
    "position": ("Principal Site Reliability Engineer, Platform " * 5)[:200],
    "manager": ("Anna-Katharina von Hohenberg-Lindqvist " * 6)[:200],
    "company": ("Northwind Trading & Logistics Worldwide GmbH " * 5)[:200],
    "promised_date": "Wednesday, 30 September 2026",
    "feedback": ("Thank you for the time you gave us; your answers were thoughtful and clear. " * 70)[:5_000],
    "status_url": ("https://careers.northwind-logistics.example" * 5)[:200] + "/status/" + "x" * 43,
}

MAX_SUBJECT = 300
MAX_BODY = 50_000


class TemplateError(DomainError):
    """A template refused on save; ``field`` names the part (subject, text or html)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_TEXT_ENV = sandbox.environment(autoescape=False)
_HTML_ENV = sandbox.environment(autoescape=True)


def _env(field: str) -> SandboxedEnvironment:
    return _HTML_ENV if field == "html" else _TEXT_ENV


def check_kind(kind: str | EmailKind) -> EmailKind:
    try:
        value = EmailKind(kind)
    except ValueError:
        value = None
    if value not in CANDIDATE_KINDS:
        known = ", ".join(k.value for k in CANDIDATE_KINDS)
        raise DomainError(f"unknown email kind {kind!r}; kinds: {known}")
    return value


def default_source(kind: str | EmailKind) -> TemplateSource:
    """The template shipped with the app, as an admin would start editing it."""
    kind = check_kind(kind)
    env = current_app.jinja_env
    text, _, _ = env.loader.get_source(env, f"mail/{kind.value}.txt")
    html, _, _ = env.loader.get_source(env, f"mail/{kind.value}.html")
    return TemplateSource(kind=kind, subject=DEFAULT_SUBJECTS[kind], text=text, html=html)


def default_row(session: Session, kind: EmailKind) -> EmailTemplate | None:
    """The organisation's default named template of ``kind``; None: the shipped files are."""
    query = select(EmailTemplate).where(EmailTemplate.kind == kind, EmailTemplate.is_default.is_(True))
    return session.scalar(query)


def source_of(session: Session, kind: str | EmailKind) -> TemplateSource:
    """The organisation's default template of ``kind``: a named one, or the shipped files."""
    kind = check_kind(kind)
    return source_of_row(kind, default_row(session, kind))


def source_of_row(kind: EmailKind, row: EmailTemplate | None) -> TemplateSource:
    """A named template's parts, or the shipped files' when ``row`` is None."""
    if row is None:
        return default_source(kind)
    return TemplateSource(
        kind=kind,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        edited=True,
        updated_by=row.updated_by.name if row.updated_by else None,
        updated_at=row.updated_at,
        id=row.id,
        name=row.name,
        is_default=row.is_default,
    )


def validate(subject: str, text: str, html: str) -> None:
    """Refuse a template that does not parse, uses an unknown placeholder or fails on a sample."""
    if not subject.strip():
        raise TemplateError("subject", "must not be empty")
    if "\r" in subject or "\n" in subject:
        raise TemplateError("subject", "must be a single line")
    if len(subject) > MAX_SUBJECT:
        raise TemplateError("subject", f"is longer than {MAX_SUBJECT} characters")
    for field, source in (("text", text), ("html", html)):
        if not source.strip():
            raise TemplateError(field, "must not be empty")
        if len(source) > MAX_BODY:
            raise TemplateError(field, f"is longer than {MAX_BODY} characters")
    for field, source in (("subject", subject), ("text", text), ("html", html)):
        _check_source(field, source)


def _check_source(field: str, source: str) -> None:
    env = _env(field)
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(field, f"line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # such as a RecursionError on thousands of nested brackets
        raise TemplateError(field, f"cannot be read: {_reason(exc)}") from None
    try:
        unknown = sorted(meta.find_undeclared_variables(tree) - PLACEHOLDERS.keys())
    except jinja2.TemplateError:  # a filter that does not exist here: refused below
        unknown = []
    if unknown:
        raise TemplateError(
            field,
            f"unknown placeholder {', '.join(unknown)}; placeholders: {', '.join(PLACEHOLDERS)}",
        )
    why = sandbox.refusal(tree)  # before compiling: Jinja evaluates constant expressions then
    if why is not None:
        raise TemplateError(field, why)
    _check_renders(field, source)


def _check_renders(field: str, source: str) -> None:
    """Render on the sample, on empty values and on the longest real ones: any error is a refusal."""
    for sample in (SAMPLE, dict.fromkeys(PLACEHOLDERS, ""), WORST_CASE):
        try:
            template = _compiled(field, source)  # compiling also refuses an unknown filter or test
            rendered = sandbox.render(template, sample)
            if field == "html":
                mail_html.finish_edited(rendered)  # inlining its styles must stay bounded too
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(field, f"line {exc.lineno}: {exc.message}") from None
        except sandbox.Refused as exc:
            raise TemplateError(field, str(exc)) from None
        except Exception as exc:  # any error of a render is a refusal with its reason
            raise TemplateError(field, f"cannot be rendered: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """An error in words, bounded (a message may quote what the template built)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def save_template(
    session: Session,
    kind: str | EmailKind,
    subject: str,
    text: str,
    html: str,
    actor: User | None,
    now: dt.datetime,
) -> EmailTemplate:
    """Validate and store an admin's edit of the kind's default template; while the shipped files
    are the default, the edit becomes a named template, the new default (the caller commits)."""
    kind = check_kind(kind)
    subject = subject.strip()
    validate(subject, text, html)
    row = default_row(session, kind)
    if row is None:
        row = EmailTemplate(kind=kind, name=_free_name(session, kind), is_default=True)
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


def render(session: Session, kind: str | EmailKind, context: Mapping[str, str]) -> RenderedEmail:
    """Render the template in use for ``kind`` with placeholder values."""
    return renderer(session, kind)(context)


#: A template in use, read and compiled: placeholder values in, the message out.
Renderer = Callable[[Mapping[str, str]], RenderedEmail]


def renderer(session: Session, kind: str | EmailKind) -> Renderer:
    """The organisation's default template of ``kind``, read once (``renderer_of``)."""
    kind = check_kind(kind)
    return renderer_of(kind, default_row(session, kind))


def renderer_of(kind: EmailKind, row: EmailTemplate | None) -> Renderer:
    """A named template (``row``), or the shipped files when None, compiled once: a batch of
    messages renders each with no further statement."""
    if row is None:
        env = current_app.jinja_env
        subject = _compiled("subject", DEFAULT_SUBJECTS[kind])
        text = env.get_template(f"mail/{kind.value}.txt")
        html = env.get_template(f"mail/{kind.value}.html")

        def default(context: Mapping[str, str]) -> RenderedEmail:
            values = _values(context)
            return RenderedEmail(
                subject=_subject(subject.render(values)),
                text=text.render(values),
                html=mail_html.finish(html.render(values)),
            )

        return default
    source = (row.subject, row.text_body, row.html_body)
    return lambda context: _render_source(*source, _values(context))


def _render_source(subject: str, text: str, html: str, values: Mapping[str, str]) -> RenderedEmail:
    """An edited template rendered; any error (a template stored before a rule tightened, or written
    to the database by hand) is a TemplateError with its reason."""
    try:
        return RenderedEmail(
            subject=_subject(sandbox.render(_compiled("subject", subject), values)),
            text=sandbox.render(_compiled("text", text), values),
            html=mail_html.finish_edited(sandbox.render(_compiled("html", html), values)),
        )
    except Exception as exc:
        raise TemplateError("template", f"cannot be rendered ({_reason(exc)}); fix or reset it") from None


@functools.lru_cache(maxsize=64)
def _compiled(field: str, source: str) -> jinja2.Template:
    """The template compiled, once its constructs are checked (compiling evaluates constants)."""
    env = _env(field)
    why = sandbox.refusal(env.parse(source))
    if why is not None:
        raise sandbox.Refused(f"{field}: {why}")
    return env.from_string(source)


def preview(
    session: Session,
    kind: str | EmailKind,
    sample: Mapping[str, str] | None = None,
    source: TemplateSource | None = None,
) -> RenderedEmail:
    """The message for a sample candidate: with the template in use, or an unsaved ``source``."""
    values = _values({**SAMPLE, **(sample or {})})
    if source is None:
        return render(session, kind, values)
    validate(source.subject.strip(), source.text, source.html)
    return _render_source(source.subject, source.text, source.html, values)


def _values(context: Mapping[str, object]) -> dict[str, str]:
    """Every placeholder as text; anything else is dropped."""
    return {key: "" if context.get(key) is None else str(context[key]) for key in PLACEHOLDERS}


def _subject(rendered: str) -> str:
    return rendered.strip()


def format_date(day: dt.date | None) -> str:
    """A date as a candidate reads it (``long_date``); empty for none."""
    return long_date(day) if day is not None else ""


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
