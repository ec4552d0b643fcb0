"""The chat digest in its manager's language, as the email digest (tests/test_languages_app.py)."""

from __future__ import annotations

import datetime as dt

from feedback_sla.chat.models import About, Channel

from .chat_support import OVERDUE_AT, choose, messages, nudge, waiting
from .factories import PositionFactory, UserFactory
from .test_chat_nudges import app_config, chat_server, manager, position  # noqa: F401  (fixtures)


def test_the_chat_digest_is_in_its_managers_language(session, chat_server, position):  # noqa: F811
    german = position.manager
    german.language = "de"
    english = UserFactory(name="Ada Lovelace", email="ada@example.com", time_zone="Europe/Berlin")
    other = PositionFactory(manager=english, title="Data Engineer", time_zone="Europe/Berlin")
    waiting(session, position, "Jonas Becker", "jonas@example.org")
    waiting(session, other, "Olga Smith", "olga@example.org")
    choose(session, german, nudges_by=(), digest_by=(Channel.SLACK,))
    choose(session, english, nudges_by=(), digest_by=(Channel.SLACK,), member="U0ADB")
    nudge(session, OVERDUE_AT + dt.timedelta(minutes=1))
    digests = {m.user_id: m for m in messages(session) if m.about == About.DIGEST}
    mine = digests[german.id]
    assert mine.text.startswith("Bewerber/innen warten auf Sie:") and "überfällig" in mine.text
    assert "Triage öffnen" in str(mine.body) and "Open triage" not in str(mine.body)
    assert "überfällig" in str(mine.body)  # the deadline in words
    theirs = digests[english.id]
    assert theirs.text.startswith("Candidates waiting on you:") and "Open triage" in str(theirs.body)
