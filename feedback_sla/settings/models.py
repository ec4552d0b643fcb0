from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback_sla.database import db


class Setting(db.Model):
    """An organisation setting by key; values are text, typed by ``settings.service.DEFINITIONS``."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
