"""Login, logout and password change."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from feedback_sla.accounts import login as service
from feedback_sla.accounts.service import end_all_sessions
from feedback_sla.database import db
from feedback_sla.extensions import limiter, login_manager
from feedback_sla.web.access import safe_next, viewer
from feedback_sla.web.auth.forms import ChangePasswordForm, LoginForm
from feedback_sla.web.transaction import Refused, one_transaction

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(token: str):
    return service.load_from_token(db.session, token)


def _account_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


def _failed(response) -> bool:
    """Only refused logins and refused current passwords count against the limits."""
    return request.method == "POST" and response.status_code != 302


def _throttled(account_key, refused: str):
    """The login limits, per account and per address, counting only refused passwords."""

    def decorate(view):
        view = limiter.limit(
            lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
            methods=["POST"],
            deduct_when=_failed,
            error_message=f"Too many {refused} from your address; wait a few minutes.",
        )(view)
        return limiter.limit(
            lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
            key_func=account_key,
            methods=["POST"],
            deduct_when=_failed,
            error_message=f"Too many {refused} for this account; wait a few minutes.",
        )(view)

    return decorate


@bp.route("/login", methods=["GET", "POST"])
@_throttled(_account_key, "failed logins")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("triage.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = service.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session at every login
            login_user(user)
            now = dt.datetime.now(dt.UTC).timestamp()
            session["login_at"] = session["seen_at"] = now
            return redirect(safe_next(form.next.data) or url_for("triage.index"))
        flash(gettext("Wrong email or password."), "danger")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Logging out ends every session of this account, so a copied cookie stops working."""
    end_all_sessions(viewer())
    db.session.commit()
    logout_user()
    session.clear()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _password_page_key() -> str:
    """The account itself, not its session: logging out and in again does not reset the count."""
    return f"password:{current_user.id}"


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@_throttled(_password_page_key, "wrong current passwords")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        changed = one_transaction(
            lambda: service.change_password(viewer(), form.current_password.data, form.new_password.data)
        )
        if isinstance(changed, Refused):
            form.current_password.errors.append(changed.reason)
            return render_template("auth/password.html", form=form), 401
        # Other sessions have ended; this one continues with the new version.
        login_user(viewer())
        flash(gettext("Password changed. Your other sessions have ended."), "success")
        return redirect(url_for("triage.index"))
    return render_template("auth/password.html", form=form)
