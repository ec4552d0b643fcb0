"""What the pages share about forms."""

from __future__ import annotations

from flask_wtf import FlaskForm


def errors_text(form: FlaskForm) -> str:
    """Every error of the form on one line, each after its field's label unless it names it."""
    parts = []
    for field in form:
        for error in field.errors:
            label = field.label.text
            parts.append(error if not label or str(error).startswith(label) else f"{label}: {error}")
    return "; ".join(parts + list(form.form_errors)) or "the form was not valid"
