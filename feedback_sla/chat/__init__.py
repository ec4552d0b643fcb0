"""Where managers already are: Slack direct messages and Microsoft Teams cards.

A nudge is one chat message to a manager when one of their candidates' waits becomes due soon,
overdue or escalated, or when a candidate replies, asks for news, withdraws or an email to them
bounces; the digest can go to chat too. Every message is a row of ``chat_messages``, claimed with a
lease and delivered by the chat worker with the outbox's guarantees. Slack's "Send update" and
"Undo" buttons come back to the interactivity endpoint, signed with the app's signing secret, and
answer through the wait's door like the triage page's buttons.
"""
