"""A user's own settings: name, time zone and the daily digest."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from feedback_sla.accounts import service as accounts
from feedback_sla.database import db
from feedback_sla.web.accounts.forms import PersonalSettingsForm

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
    return render_template("account/settings.html", form=form)
