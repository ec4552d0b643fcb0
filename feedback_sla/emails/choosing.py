"""Which template an email is written from: each kind's named templates, the organisation's
default per kind, the defaults per position or stage, and the choice for one candidate.

A kind's files shipped with the app are its template without a row, chosen as ``SHIPPED``: the
default while no named template is, never deleted. For a candidate, a position's default comes
first, then their stage's, then the organisation's. What admins do to the templates (add, rename,
edit, delete, set defaults) is ``emails.library``'s. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from feedback_sla.candidates.models import Candidate
from feedback_sla.emails import composing
from feedback_sla.emails.errors import EmailError
from feedback_sla.emails.models import EmailKind, EmailTemplate, TemplateDefault
from feedback_sla.languages import DEFAULT as DEFAULT_LANGUAGE

#: The template id that chooses a kind's shipped files (named templates' ids start at 1).
SHIPPED = 0


def shipped_name(kind: EmailKind) -> str:
    """How the shipped files are named wherever templates are listed."""
    return f"{kind.label[:1].upper()}{kind.label[1:]} as shipped"


@dataclass(frozen=True)
class Chosen:
    """The template an email is written from: a named one (``row``), or the shipped files
    (``id`` None)."""

    kind: EmailKind
    id: int | None
    name: str
    row: EmailTemplate | None = None

    @property
    def value(self) -> int:
        """How a picker names it: its id, or ``SHIPPED``."""
        return SHIPPED if self.id is None else self.id

    def renderer(
        self, language: str = DEFAULT_LANGUAGE, fallback: str = DEFAULT_LANGUAGE
    ) -> composing.Renderer:
        """The template in ``language``; a named one without a version in it is written whole in
        ``fallback``, the organisation's default language (``emails.versions``)."""
        return composing.renderer_of(self.kind, self.row, language, fallback)


def _chosen(kind: EmailKind, row: EmailTemplate | None) -> Chosen:
    if row is None:
        return Chosen(kind, None, shipped_name(kind))
    return Chosen(kind, row.id, row.name, row)


@dataclass(frozen=True)
class Catalogue:
    """The named templates of some kinds and every default chosen for them, read once (a batch
    of emails chooses each candidate's template with no further statement)."""

    templates: dict[int, EmailTemplate]
    defaults: dict[EmailKind, int]
    by_position: dict[tuple[EmailKind, int], int]
    by_stage: dict[tuple[EmailKind, str], int]

    def default_for(self, kind: EmailKind, candidate: Candidate | None) -> Chosen:
        """The candidate's position's default, else their stage's, else the organisation's."""
        found = None
        if candidate is not None:
            found = self.by_position.get((kind, candidate.position_id))
            if found is None:
                found = self.by_stage.get((kind, candidate.stage))
        if found is None:
            found = self.defaults.get(kind)
        return _chosen(kind, self.templates.get(found) if found is not None else None)

    def choose(self, kind: EmailKind, candidate: Candidate | None, wanted: int | None) -> Chosen:
        """``wanted`` (a template id, ``SHIPPED``), or the candidate's default when None; EmailError
        naming the field when there is no such template of the kind."""
        if wanted is None:
            return self.default_for(kind, candidate)
        if wanted == SHIPPED:
            return _chosen(kind, None)
        row = self.templates.get(wanted)
        if row is None or row.kind != kind:
            raise EmailError(f"template: there is no {kind.label} template {wanted}")
        return _chosen(kind, row)

    def of_kind(self, kind: EmailKind) -> list[Chosen]:
        """The kind's templates as a picker lists them: the shipped files, then by name."""
        rows = sorted((r for r in self.templates.values() if r.kind == kind), key=lambda r: r.name.lower())
        return [_chosen(kind, None), *(_chosen(kind, row) for row in rows)]


def catalogue(session: Session, kinds: Iterable[EmailKind | str]) -> Catalogue:
    """The kinds' templates and defaults (two statements)."""
    wanted = sorted({EmailKind(kind).value for kind in kinds})
    if not wanted:
        return Catalogue({}, {}, {}, {})
    rows = list(session.scalars(select(EmailTemplate).where(EmailTemplate.kind.in_(wanted))))
    templates = {row.id: row for row in rows}
    defaults = {row.kind: row.id for row in rows if row.is_default}
    by_position: dict[tuple[EmailKind, int], int] = {}
    by_stage: dict[tuple[EmailKind, str], int] = {}
    if templates:
        query = select(TemplateDefault).where(TemplateDefault.template_id.in_(sorted(templates)))
        for chosen in session.scalars(query.order_by(TemplateDefault.id)):
            kind = templates[chosen.template_id].kind
            if chosen.position_id is not None:
                by_position[(kind, chosen.position_id)] = chosen.template_id
            else:
                by_stage[(kind, chosen.stage)] = chosen.template_id
    return Catalogue(templates, defaults, by_position, by_stage)


def choose(
    session: Session, kind: EmailKind | str, candidate: Candidate | None, wanted: int | None = None
) -> Chosen:
    """The template ``wanted``, or the candidate's default (``Catalogue.choose``)."""
    kind = composing.check_kind(kind)
    return catalogue(session, [kind]).choose(kind, candidate, wanted)


def find(session: Session, kind: EmailKind | str, text: str) -> int:
    """A template as a command or the API names it: its id, ``shipped``, or its name (any case);
    EmailError naming the field otherwise."""
    kind = composing.check_kind(kind)
    text = (text or "").strip()
    listed = catalogue(session, [kind]).of_kind(kind)
    if text.lower() in ("shipped", shipped_name(kind).lower()):
        return SHIPPED
    for chosen in listed:
        if (text.isdigit() and int(text) == chosen.value) or chosen.name.lower() == text.lower():
            return chosen.value
    names = "; ".join(f"{c.value} {c.name}" for c in listed)
    raise EmailError(f"template: there is no {kind.label} template {text!r}; templates: {names}")


def defaults_listed(session: Session, template_ids: Collection[int]) -> dict[int, list[TemplateDefault]]:
    """The positions and stages each template is the default for, with their positions."""
    if not template_ids:
        return {}
    query = (
        select(TemplateDefault)
        .options(joinedload(TemplateDefault.position))
        .where(TemplateDefault.template_id.in_(sorted(template_ids)))
        .order_by(TemplateDefault.id)
    )
    listed: dict[int, list[TemplateDefault]] = {}
    for chosen in session.scalars(query):
        listed.setdefault(chosen.template_id, []).append(chosen)
    return listed
