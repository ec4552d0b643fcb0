"""A user's own settings: name, time zone, the daily digest and personal API tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from feedback_sla.accounts import service as accounts
from feedback_sla.accounts import tokens
from feedback_sla.accounts.models import ApiToken
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.timeutil import utcnow
from feedback_sla.web.accounts.forms import PersonalSettingsForm, RevokeTokenForm, TokenForm

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    user = current_user._get_current_object()
    form = PersonalSettingsForm(obj=user)
    if form.validate_on_submit():
        accounts.update_preferences(
            user,
            accounts.Preferences(
                name=form.name.data,
                time_zone=form.time_zone.data,
                digest_enabled=form.digest_enabled.data,
                digest_hour=form.digest_hour.data,
                digest_empty=form.digest_empty.data,
            ),
        )
        db.session.commit()
        flash("Your settings are saved.", "success")
        return redirect(url_for("account.settings"))
    return _render(form=form)


def _render(status: int = 200, **forms):
    user = current_user._get_current_object()
    forms.setdefault("form", PersonalSettingsForm(obj=user))
    forms.setdefault("token_form", TokenForm(formdata=None))
    context = dict(forms, api_tokens=tokens.tokens_of(db.session, user), revoke_form=RevokeTokenForm())
    return render_template("account/settings.html", **context), status


@bp.post("/tokens")
@login_required
def create_token():
    """The new token is shown on this one page and never again (not kept in a message either)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(422, token_form=form)
    try:
        new = tokens.create_token(
            db.session, current_user._get_current_object(), form.token_name.data, utcnow()
        )
    except DomainError as exc:
        db.session.rollback()
        form.token_name.errors.append(f"Token name: {exc}")
        return _render(422, token_form=form)
    db.session.commit()
    return _render(201, new_token=new.secret)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    tokens.revoke(db.session, token, utcnow())
    db.session.commit()
    flash(f"Token {token.name!r} is revoked: requests carrying it are refused.", "success")
    return redirect(url_for("account.settings"))
