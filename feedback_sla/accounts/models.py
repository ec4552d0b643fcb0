from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, false, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from feedback_sla.database import db
from feedback_sla.timeutil import utcnow
from feedback_sla.types import UTCDateTime


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="user_role",
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: The language the app's pages and the digest are in (BCP 47); None: the browser's language.
    language: Mapped[str | None] = mapped_column(String(35))
    digest_hour: Mapped[int] = mapped_column(Integer, default=8)
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Send a digest even on days when nothing is owed ("nothing waiting on you today").
    digest_empty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout, password change and disabling: sessions carrying an older value end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    #: SHA-256 of the token in the user's private calendar feed URL; None when they have none.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # Flask-Login: the id kept in the session carries the session version, so bumping the
    # version (logout, password change, disabling) ends every session issued before.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.email}>"


# Emails are unique whatever their case; the database enforces it.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class ApiToken(db.Model):
    """A personal API token: only its SHA-256 is kept; the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name}>"
