"""A new wait takes its candidate's position and status in one step, and only when it lacks them.

On SQLite, where a trigger cannot set the row it fires for, 0012 and 0015 each wrote every new wait
again after its insert: once for ``candidate_active``, once for ``position_id``. One trigger now
writes both, and only when the insert did not already give the candidate's values (the app gives
the position of the candidate it opens a wait for): one write of the row instead of three, which
a backfill of many waits feels. PostgreSQL sets them before the row is written; nothing changes
there.
"""

from alembic import op

revision = "0024_waits_take_candidate_once"
down_revision = "0023_decision_indexes"
branch_labels = None
depends_on = None

_POSITION = "(SELECT c.position_id FROM candidates c WHERE c.id = NEW.candidate_id)"
_ACTIVE = "coalesce((SELECT c.status = 'active' FROM candidates c WHERE c.id = NEW.candidate_id), 1)"

_ONCE = f"""CREATE TRIGGER waits_take_candidate_inserted AFTER INSERT ON waits
WHEN NEW.position_id IS NOT {_POSITION} OR NEW.candidate_active IS NOT {_ACTIVE}
BEGIN
    UPDATE waits SET position_id = {_POSITION}, candidate_active = {_ACTIVE} WHERE id = NEW.id;
END"""

#: 0012's and 0015's triggers, as they were.
_APART = [
    """CREATE TRIGGER waits_take_candidate_status_inserted AFTER INSERT ON waits
    BEGIN
        UPDATE waits SET candidate_active = coalesce(
            (SELECT c.status = 'active' FROM candidates c WHERE c.id = NEW.candidate_id), 1
        ) WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER waits_take_candidate_position_inserted AFTER INSERT ON waits
        BEGIN
            UPDATE waits SET position_id = (SELECT c.position_id FROM candidates c WHERE c.id = NEW.candidate_id)
            WHERE id = NEW.id;
        END""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS waits_take_candidate_status_inserted")
    op.execute("DROP TRIGGER IF EXISTS waits_take_candidate_position_inserted")
    op.execute(_ONCE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS waits_take_candidate_inserted")
    for statement in _APART:
        op.execute(statement)
