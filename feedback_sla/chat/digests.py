"""The daily digest in chat: for a manager who chose Slack or Teams for it, at their digest hour,
once per local day and channel, in the manager's language (the email digest is ``feedback-sla
digest send``'s, by the "by email" choice). The same candidates as the email: escalated, overdue
and due today, most urgent first (``digest.service.owed_to``)."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import select

from feedback_sla import languages
from feedback_sla.accounts.models import User
from feedback_sla.chat import cards, preferences, queue
from feedback_sla.chat.models import About, Channel, ChatMessage, ChatPreference
from feedback_sla.digest import service as digest_service
from feedback_sla.timeutil import as_utc, zone

#: Candidates a chat digest names; the rest are counted.
LINES = 10


def _key(user: User, day, channel: Channel) -> str:
    return f"digest:{user.id}:{day.isoformat()}:{channel.value}"


def queue_digests(run) -> int:
    """Queue the chat digests due now; the number queued."""
    session, now = run.session, run.now
    rows = session.execute(
        select(User, ChatPreference)
        .join(ChatPreference, ChatPreference.user_id == User.id)
        .where(User.active.is_(True), ChatPreference.digest_channels != "")
        .order_by(User.id)
    ).all()
    wanted = []
    for user, pref in rows:
        local = as_utc(now).astimezone(zone(user.time_zone))
        if local.hour < user.digest_hour:
            continue
        channels = [c for c in pref.channels("digest") if preferences.reachable(pref, c, run.config)]
        wanted += [(user, pref, local.date(), c) for c in channels]
    if not wanted:
        return 0
    keys = [_key(user, day, channel) for user, _, day, channel in wanted]
    done = set(session.scalars(select(ChatMessage.dedupe_key).where(ChatMessage.dedupe_key.in_(keys))))
    queued = 0
    digests: dict[int, cards.ChatDigest | None] = {}  # each manager's read once, for all their channels
    for user, pref, day, channel in wanted:
        if _key(user, day, channel) in done:
            continue
        with force_locale(languages.for_pages(user.language, run.settings.languages_default)):
            if user.id not in digests:
                digests[user.id] = _digest_of(run, user, day)
            digest = digests[user.id]
            if digest is None:
                continue
            body = cards.slack_digest(digest) if channel == Channel.SLACK else cards.teams_digest(digest)
        new = queue.NewMessage(user.id, channel, About.DIGEST, digest.text, body, _key(user, day, channel))
        queued += run.queue(user, pref, new, capped=False)
    return queued


def _digest_of(run, user: User, day) -> cards.ChatDigest | None:
    """What the manager is owed today; None when nothing is and they did not ask for empty digests."""
    base = run.config.base_url
    owed = digest_service.owed_to(run.session, run.now, run.settings, user.id, base)
    if not owed and not user.digest_empty:
        return None
    subject = digest_service.subject_of(owed.escalated, owed.overdue, owed.due_today)
    lines = tuple(
        cards.DigestLine(item.row.candidate, item.row.position, item.due_text, item.url)
        for item in owed.shown[:LINES]
    )
    return cards.ChatDigest(subject, lines, len(owed) - len(lines), base + "/", day)
