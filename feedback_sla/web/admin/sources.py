"""Admin page: the ATS sources, their latest deliveries, the failed ones with a Retry button, and a
form to connect a new source (its webhook URL and secret are shown once, on the page that answers)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts.models import User
from feedback_sla.ats import service, sources
from feedback_sla.ats.models import Delivery, Kind
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.web.admin.views import bp
from feedback_sla.web.transaction import Refused, one_transaction

#: Latest deliveries shown per source, and failed ones in all.
SHOWN = 5
FAILED_SHOWN = 50


class SourceForm(FlaskForm):
    kind = SelectField("ATS", choices=[SelectChoice(k.value, k.value.capitalize()) for k in Kind])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    manager = SelectField("Default hiring manager", coerce=int, validate_choice=False)
    secret = PasswordField("Secret", validators=[Optional(), Length(max=sources.MAX_SECRET)])
    api_key = PasswordField("Lever API key", validators=[Optional(), Length(max=sources.MAX_SECRET)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manager.choices = [
            SelectChoice(u.id, f"{u.name} ({u.email})") for u in accounts.active_users(db.session)
        ]


def _page(form: SourceForm, created=None, status: int = 200):
    listed = [(s, sources.recent_deliveries(db.session, s, SHOWN)) for s in sources.all_sources(db.session)]
    failed = sources.failed_deliveries(db.session, FAILED_SHOWN)
    return render_template(
        "admin/sources.html",
        form=form,
        listed=listed,
        failed=failed,
        created=created,
        webhook_url=_webhook_url,
    ), status


def _webhook_url(source) -> str:
    return request.host_url.rstrip("/") + sources.webhook_path(source)


@bp.get("/sources", endpoint="sources")
def sources_page():
    return _page(SourceForm())


@bp.post("/sources")
def create_source():
    form = SourceForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    manager = db.session.get(User, form.manager.data)
    if manager is None:
        form.manager.errors.append(gettext("choose a manager from the list"))
        return _page(form, status=422)
    new = sources.NewSource(form.kind.data, form.name.data, manager, form.secret.data, form.api_key.data)
    source = one_transaction(lambda: sources.create_source(db.session, new, utcnow()))
    if isinstance(source, Refused):
        form.form_errors.append(source.reason)
        return _page(form, status=422)
    # The secret is on this answer only: it is never shown again.
    return _page(SourceForm(formdata=None), created=source)


@bp.post("/sources/deliveries/<int:delivery_id>/retry")
def retry_delivery(delivery_id: int):
    delivery = db.get_or_404(Delivery, delivery_id)
    result = service.retry(
        db.session,
        utcnow(),
        settings_service.load(db.session),
        service.LeverConfig.from_config(current_app.config),
        delivery_id=delivery.id,
    )
    db.session.commit()
    if result.failed:
        flash(
            gettext("Delivery %(id)s failed again: %(error)s", id=delivery.id, error=delivery.error), "danger"
        )
    else:
        flash(gettext("Delivery %(id)s was processed.", id=delivery.id), "success")
    return redirect(url_for("admin.sources"))
