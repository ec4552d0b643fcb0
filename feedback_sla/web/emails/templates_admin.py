"""The admins' email templates: each kind's named templates beside the shipped files, which one is
the default, and defaults per position or stage; adding, renaming, editing and deleting them with
the same sandbox, preview and limits as the default's edit page.
"""

from __future__ import annotations

import dataclasses

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from feedback_sla import languages
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.database import db
from feedback_sla.emails import choosing, composing, library, versions
from feedback_sla.emails.composing import TemplateError, TemplateSource
from feedback_sla.emails.models import CANDIDATE_KINDS, EmailKind, EmailTemplate
from feedback_sla.positions.models import Position
from feedback_sla.text import normalize_newlines
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import admin_required, viewer
from feedback_sla.web.emails.forms import NamedTemplateForm, TemplateForm
from feedback_sla.web.emails.views import _kind_or_404, _sample, bp
from feedback_sla.web.transaction import Refused, one_transaction

_PARTS = ("name", "subject", "text", "html")


def _row_or_404(template_id: int) -> EmailTemplate:
    row = db.session.get(EmailTemplate, template_id)
    if row is None:
        abort(404)
    return row


@bp.get("/admin/emails", endpoint="templates")
@admin_required
def template_list():
    listing = choosing.catalogue(db.session, CANDIDATE_KINDS)
    kinds = [
        (kind, listing.of_kind(kind), listing.defaults.get(kind, choosing.SHIPPED))
        for kind in CANDIDATE_KINDS
    ]
    scoped = choosing.defaults_listed(db.session, listing.templates)
    return render_template(
        "emails/templates.html",
        kinds=kinds,
        sources={t.id: composing.source_of_row(t.kind, t) for t in listing.templates.values()},
        scoped=scoped,
        shipped=choosing.SHIPPED,
    )


@bp.route("/admin/emails/<kind>", methods=["GET", "POST"], endpoint="edit_template")
@admin_required
def edit_template(kind: str):
    """The organisation's default of the kind: saving the shipped files' text makes it a named
    template, the new default."""
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    source = composing.source_of(db.session, kind)
    row = db.session.get(EmailTemplate, source.id) if source.id is not None else None
    if request.method == "GET":
        form = TemplateForm(formdata=None, data=_data(source))
        return _page(kind, source, form, _saved_preview(kind, source, form), 200, default_of=row)
    form = TemplateForm()

    def save(edited: TemplateSource) -> None:
        composing.save_template(
            db.session, kind, edited.subject, edited.text, edited.html, viewer(), utcnow()
        )

    return _post(kind, source, form, save, url_for("emails.edit_template", kind=kind.value), default_of=row)


@bp.route("/admin/emails/<kind>/new", methods=["GET", "POST"], endpoint="new_template")
@admin_required
def new_template(kind: str):
    """A new named template, starting from the default's text (or ``?from=`` another's)."""
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    start = composing.source_of(db.session, kind)
    copied = request.args.get("from", "")
    if copied.isdigit() and len(copied) < 10:
        chosen = choosing.choose(db.session, kind, None, int(copied)) if _exists(kind, int(copied)) else None
        start = composing.source_of_row(kind, chosen.row) if chosen else start
    source = TemplateSource(kind=kind, subject=start.subject, text=start.text, html=start.html)
    if request.method == "GET":
        form = NamedTemplateForm(formdata=None, data={**_data(source), "name": ""})
        return _page(kind, source, form, None, 200, new=True)
    form = NamedTemplateForm()
    added: list[EmailTemplate] = []

    def save(edited: TemplateSource) -> None:
        added.append(
            library.add(
                db.session, kind, form.name.data, edited.subject, edited.text, edited.html, viewer(), utcnow()
            )
        )

    return _post(
        kind, source, form, save, lambda: url_for("emails.named_template", template_id=added[0].id), new=True
    )


def _exists(kind: EmailKind, value: int) -> bool:
    return (
        value == choosing.SHIPPED
        or db.session.scalar(
            select(EmailTemplate.id).where(EmailTemplate.id == value, EmailTemplate.kind == kind)
        )
        is not None
    )


@bp.route("/admin/emails/templates/<int:template_id>", methods=["GET", "POST"], endpoint="named_template")
@admin_required
def named_template(template_id: int):
    """A named template in one language (``?lang=``, its own by default): a language it has no
    version in starts from the shipped files in that language, and saving writes that version."""
    row = _row_or_404(template_id)
    language = request.args.get("lang") if request.args.get("lang") in languages.SHIPPED else row.language
    kind, source = row.kind, _version_source(row, language)
    page = {"row": row, "language": language}
    if request.method == "GET":
        form = NamedTemplateForm(formdata=None, data={**_data(source), "name": row.name})
        preview = _saved_preview(kind, source, form) if source.edited else None
        return _page(kind, source, form, preview, 200, **page)
    form = NamedTemplateForm()

    def save(edited: TemplateSource) -> None:
        if language == row.language:
            library.edit(
                db.session, row, form.name.data, edited.subject, edited.text, edited.html, viewer(), utcnow()
            )
        else:
            library.write_version(
                db.session, row, language, edited.subject, edited.text, edited.html, viewer(), utcnow()
            )

    done = url_for("emails.named_template", template_id=row.id, lang=language)
    return _post(kind, source, form, save, done, **page)


def _version_source(row: EmailTemplate, language: str) -> TemplateSource:
    """The template's version in ``language``; without one, the shipped text in that language to
    start from (not ``edited``)."""
    source = composing.source_of_row(row.kind, row, language)
    if source.language == language:
        return source
    start = composing.default_source(row.kind, language)
    return dataclasses.replace(start, id=row.id, name=row.name, is_default=row.is_default)


@bp.post("/admin/emails/templates/<int:template_id>/versions/<lang>/delete", endpoint="delete_version")
@admin_required
def delete_version(template_id: int, lang: str):
    row = _row_or_404(template_id)
    name = row.name
    done = one_transaction(lambda: library.remove_version(db.session, row, lang))
    if isinstance(done, Refused):
        abort(404)
    flash(
        gettext(
            "Deleted the %(language)s version of “%(name)s”: candidates in that language get "
            "the organisation's default language's from now on.",
            language=languages.name_of(lang, "en"),
            name=name,
        ),
        "success",
    )
    return redirect(url_for("emails.named_template", template_id=template_id))


def _data(source: TemplateSource) -> dict:
    return {"subject": source.subject, "text": source.text, "html": source.html}


def _saved_preview(kind: EmailKind, source: TemplateSource, form):
    try:
        return composing.preview(db.session, kind, _sample(), source=source)
    except TemplateError as exc:  # stored before a rule tightened: say so, offer to fix it
        form.form_errors.append(str(exc))
        return None


def _post(kind: EmailKind, source: TemplateSource, form, save, done, **page):
    """Preview the posted parts, or save them (``save``) and go to ``done``."""
    if not form.validate_on_submit():
        return _page(kind, source, form, None, 422, **page)
    edited = TemplateSource(
        kind=kind,
        subject=form.subject.data.strip(),
        text=normalize_newlines(form.text.data),
        html=normalize_newlines(form.html.data),
        language=source.language,
    )
    saving = request.form.get("action") == "save"
    outcome = one_transaction(
        lambda: save(edited) if saving else composing.preview(db.session, kind, _sample(), source=edited)
    )
    if isinstance(outcome, Refused):
        error = outcome.error
        field = getattr(error, "field", None)
        target = getattr(form, field, None) if field in _PARTS else None
        (target.errors if target is not None else form.form_errors).append(str(error))
        return _page(kind, source, form, None, 422, **page)
    if saving:
        flash(
            gettext(
                "Saved the %(label)s template: new emails written from it use it from now on.",
                label=kind.label,
            ),
            "success",
        )
        return redirect(done() if callable(done) else done)
    return _page(kind, source, form, outcome, 200, **page)


def _page(kind, source, form, preview, status, *, row=None, new=False, default_of=None, language=None):
    return render_template(
        "emails/edit_template.html",
        kind=kind,
        source=source,
        form=form,
        preview=preview,
        row=row,
        new=new,
        default_of=default_of,
        scoped=choosing.defaults_listed(db.session, [row.id]).get(row.id, []) if row else [],
        positions=_positions() if row else [],
        stages=PIPELINE,
        placeholders=composing.PLACEHOLDERS,
        language=language,
        versions=versions.all_of(row) if row else {},
        shipped_languages=languages.SHIPPED,
        sample=_sample(),
    ), status


def _positions() -> list[Position]:
    return list(db.session.scalars(select(Position).order_by(Position.title, Position.id)))


@bp.post("/admin/emails/<kind>/reset", endpoint="reset_template")
@admin_required
def reset_template(kind: str):
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    if composing.reset_template(db.session, kind):
        db.session.commit()
        flash(
            gettext("The %(label)s template is back to the default shipped with the app.", label=kind.label),
            "success",
        )
    else:
        flash(
            gettext("The %(label)s template was not edited: it already is the default.", label=kind.label),
            "info",
        )
    return redirect(url_for("emails.edit_template", kind=kind.value))


@bp.post("/admin/emails/templates/<int:template_id>/delete", endpoint="delete_template")
@admin_required
def delete_template(template_id: int):
    row = _row_or_404(template_id)
    name, kind = row.name, row.kind
    was_default = one_transaction(lambda: library.remove(db.session, row))
    text = f"Deleted the {kind.label} template “{name}”."
    if was_default is True:
        text += f" {choosing.shipped_name(kind)} is the default again."
    flash(text, "success")
    return redirect(url_for("emails.templates"))


@bp.post("/admin/emails/<kind>/default", endpoint="default_template")
@admin_required
def default_template(kind: str):
    """The organisation's default of the kind from now on."""
    kind = _kind_or_404(kind, CANDIDATE_KINDS)
    value = request.form.get("template", "")
    if not (value.isdigit() and len(value) < 10):
        abort(404)
    chosen = one_transaction(lambda: library.make_default(db.session, kind, int(value)))
    if isinstance(chosen, Refused):
        abort(404)
    flash(
        gettext(
            "“%(name)s” is the organisation's %(label)s template from now on.",
            name=chosen.name,
            label=kind.label,
        ),
        "success",
    )
    return redirect(url_for("emails.templates"))


@bp.post("/admin/emails/templates/<int:template_id>/defaults", endpoint="scope_default")
@admin_required
def scope_default(template_id: int):
    """Make the template the default for a position or a stage."""
    row = _row_or_404(template_id)
    position, stage = request.form.get("position_id", ""), request.form.get("stage", "")
    position_id = int(position) if position.isdigit() and len(position) < 10 else None
    name = row.name
    done = one_transaction(
        lambda: library.set_scope_default(db.session, row, position_id=position_id, stage=stage or None)
    )
    if isinstance(done, Refused):
        flash(gettext("Not changed: %(reason)s.", reason=done.reason), "danger")
    else:
        where = f"stage {stage}" if stage else "the position"
        flash(
            gettext("“%(name)s” is the template for %(where)s from now on.", name=name, where=where),
            "success",
        )
    return redirect(url_for("emails.named_template", template_id=template_id))


@bp.post("/admin/emails/defaults/<int:default_id>/delete", endpoint="remove_scope_default")
@admin_required
def remove_scope_default(default_id: int):
    done = one_transaction(lambda: library.remove_scope_default(db.session, default_id).template_id)
    if isinstance(done, Refused):
        abort(404)
    flash(gettext("That default is removed: the organisation's default applies there again."), "success")
    return redirect(url_for("emails.named_template", template_id=done))
