"""open wait counts: the metrics page's open waits counted as they change, and found by position

Revision ID: 0015_open_wait_counts
Revises: 0014_outbox_by_candidate

The metrics page counts the organisation's open waits by state, by week of opening and by whether
they are late. Counted from the waits at every request, that read every open wait (400,000 in an
organisation of a million waits). Now the database keeps ``open_wait_counts``: the open waits
counted by the quarter hour they opened in and the hours of their warning, deadline and
escalation, with their follow-ups (``feedback_sla/metrics/open_counts.py`` says how the page
reads it). Triggers keep it, on both dialects: a wait inserted, closed, reopened, deleted or given
new deadlines moves its count. Existing open waits are counted here, in one statement.

``waits.position_id`` is the wait's candidate's position, kept by triggers as
``candidate_active`` is (a wait inserted or moved to another candidate takes its candidate's
position, and a candidate moved to another position takes their waits along). With
``ix_waits_open_position`` the page's lines find a page of groups' open waits without reading
their candidates. ``ix_waits_open_escalate`` finds the open waits whose escalation falls in a
given hour. Filling ``position_id`` rewrites every wait: on PostgreSQL the tables are analyzed
here, and a ``VACUUM ANALYZE waits`` afterwards (outside the migration's transaction; otherwise
autovacuum's next turn) lets the page read ``ix_waits_open_position`` alone.

A later migration that copies ``waits`` or ``candidates`` on SQLite (batch mode) drops their
triggers and must create them again (``create_triggers`` here and in 0012).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_open_wait_counts"
down_revision = "0014_outbox_by_candidate"
branch_labels = None
depends_on = None

#: The key of a count, and how long each of its periods is, in seconds.
_KEY = (("opened_slot", "opened_at", 900), ("warn_hour", "warn_at", 3600), ("due_hour", "due_at", 3600))
_KEY += (("escalate_hour", "escalate_at", 3600),)
_COLUMNS = ", ".join([name for name, _, _ in _KEY] + ["follow_ups"])


def _period(dialect: str, value: str, seconds: int) -> str:
    """The whole periods of ``seconds`` since 1970 of a timestamp (UTC)."""
    if dialect == "postgresql":
        return f"floor(extract(epoch FROM {value}) / {seconds})::integer"
    return f"CAST(strftime('%s', substr({value}, 1, 19)) AS INTEGER) / {seconds}"  # whole seconds


def _values(dialect: str, row: str) -> str:
    return ", ".join([_period(dialect, f"{row}.{column}", s) for _, column, s in _KEY] + [f"{row}.follow_ups"])


def _matches(dialect: str, row: str) -> str:
    terms = [f"{name} = {_period(dialect, f'{row}.{column}', s)}" for name, column, s in _KEY]
    return " AND ".join([*terms, f"follow_ups = {row}.follow_ups"])


def _add(dialect: str, row: str, condition: str = "") -> str:
    """Count the wait ``row`` (NEW) once more; with ``condition``, only when it holds."""
    select = f"SELECT {_values(dialect, row)}, 1" + (f" WHERE {condition}" if condition else " WHERE true")
    return (
        f"INSERT INTO open_wait_counts ({_COLUMNS}, waits) {select} "
        f"ON CONFLICT ({_COLUMNS}) DO UPDATE SET waits = open_wait_counts.waits + 1"
    )


_CHANGED = (
    "OLD.opened_at IS DISTINCT FROM NEW.opened_at OR OLD.warn_at IS DISTINCT FROM NEW.warn_at "
    "OR OLD.due_at IS DISTINCT FROM NEW.due_at OR OLD.escalate_at IS DISTINCT FROM NEW.escalate_at "
    "OR OLD.follow_ups IS DISTINCT FROM NEW.follow_ups "
    "OR (OLD.closed_at IS NULL) IS DISTINCT FROM (NEW.closed_at IS NULL)"
)
_COUNTED = "opened_at, warn_at, due_at, escalate_at, follow_ups, closed_at"


def _postgresql() -> list[str]:
    return [
        f"""CREATE FUNCTION waits_count_open() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE remaining integer;
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.closed_at IS NULL THEN
                UPDATE open_wait_counts SET waits = waits - 1 WHERE {_matches("postgresql", "OLD")}
                RETURNING waits INTO remaining;
                IF remaining = 0 THEN
                    DELETE FROM open_wait_counts WHERE {_matches("postgresql", "OLD")} AND waits = 0;
                END IF;
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.closed_at IS NULL THEN
                {_add("postgresql", "NEW")};
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER waits_count_open AFTER INSERT OR DELETE ON waits
        FOR EACH ROW EXECUTE FUNCTION waits_count_open()""",
        f"""CREATE TRIGGER waits_count_open_changed AFTER UPDATE OF {_COUNTED} ON waits
        FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION waits_count_open()""",
        """CREATE FUNCTION waits_take_candidate_position() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.position_id := (
                SELECT c.position_id FROM candidates c WHERE c.id = NEW.candidate_id FOR SHARE
            );  -- a move of the candidate meanwhile waits, then reaches this wait too
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER waits_take_candidate_position
        BEFORE INSERT OR UPDATE OF candidate_id ON waits
        FOR EACH ROW EXECUTE FUNCTION waits_take_candidate_position()""",
        """CREATE FUNCTION candidates_position_to_waits() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE waits SET position_id = NEW.position_id WHERE candidate_id = NEW.id;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER candidates_position_to_waits
        AFTER UPDATE OF position_id ON candidates
        FOR EACH ROW WHEN (OLD.position_id IS DISTINCT FROM NEW.position_id)
        EXECUTE FUNCTION candidates_position_to_waits()""",
    ]


def _sqlite() -> list[str]:
    take_one = (
        f"UPDATE open_wait_counts SET waits = waits - 1 WHERE {_matches('sqlite', 'OLD')}; "
        f"DELETE FROM open_wait_counts WHERE {_matches('sqlite', 'OLD')} AND waits = 0;"
    )
    return [
        f"""CREATE TRIGGER waits_count_open_inserted AFTER INSERT ON waits WHEN NEW.closed_at IS NULL
        BEGIN {_add("sqlite", "NEW")}; END""",
        f"""CREATE TRIGGER waits_count_open_deleted AFTER DELETE ON waits WHEN OLD.closed_at IS NULL
        BEGIN {take_one} END""",
        f"""CREATE TRIGGER waits_count_open_uncounted AFTER UPDATE OF {_COUNTED} ON waits
        WHEN OLD.closed_at IS NULL AND ({_CHANGED.replace("IS DISTINCT FROM", "IS NOT")})
        BEGIN {take_one} END""",
        f"""CREATE TRIGGER waits_count_open_counted AFTER UPDATE OF {_COUNTED} ON waits
        WHEN NEW.closed_at IS NULL AND ({_CHANGED.replace("IS DISTINCT FROM", "IS NOT")})
        BEGIN {_add("sqlite", "NEW")}; END""",
        """CREATE TRIGGER waits_take_candidate_position_inserted AFTER INSERT ON waits
        BEGIN
            UPDATE waits SET position_id = (SELECT c.position_id FROM candidates c WHERE c.id = NEW.candidate_id)
            WHERE id = NEW.id;
        END""",
        """CREATE TRIGGER waits_take_candidate_position_updated AFTER UPDATE OF candidate_id ON waits
        BEGIN
            UPDATE waits SET position_id = (SELECT c.position_id FROM candidates c WHERE c.id = NEW.candidate_id)
            WHERE id = NEW.id;
        END""",
        """CREATE TRIGGER candidates_position_to_waits AFTER UPDATE OF position_id ON candidates
        WHEN OLD.position_id IS NOT NEW.position_id
        BEGIN
            UPDATE waits SET position_id = NEW.position_id WHERE candidate_id = NEW.id;
        END""",
    ]


_DROP = {
    "postgresql": [
        "DROP TRIGGER candidates_position_to_waits ON candidates",
        "DROP FUNCTION candidates_position_to_waits()",
        "DROP TRIGGER waits_take_candidate_position ON waits",
        "DROP FUNCTION waits_take_candidate_position()",
        "DROP TRIGGER waits_count_open_changed ON waits",
        "DROP TRIGGER waits_count_open ON waits",
        "DROP FUNCTION waits_count_open()",
    ],
    "sqlite": [
        "DROP TRIGGER candidates_position_to_waits",
        "DROP TRIGGER waits_take_candidate_position_updated",
        "DROP TRIGGER waits_take_candidate_position_inserted",
        "DROP TRIGGER waits_count_open_counted",
        "DROP TRIGGER waits_count_open_uncounted",
        "DROP TRIGGER waits_count_open_deleted",
        "DROP TRIGGER waits_count_open_inserted",
    ],
}


def create_triggers(dialect: str) -> None:
    for statement in _postgresql() if dialect == "postgresql" else _sqlite():
        op.execute(statement)


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "open_wait_counts",
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COLUMNS.split(", ")),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_COLUMNS.split(", ")),
    )
    op.add_column("waits", sa.Column("position_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE waits SET position_id = (SELECT c.position_id FROM candidates c WHERE c.id = waits.candidate_id)"
    )
    op.execute(
        f"INSERT INTO open_wait_counts ({_COLUMNS}, waits) "
        f"SELECT {_values(dialect, 'waits')}, count(*) FROM waits WHERE closed_at IS NULL "
        f"GROUP BY {_values(dialect, 'waits')}"
    )
    create_triggers(dialect)
    where = sa.text("closed_at IS NULL")
    op.create_index(
        "ix_waits_open_position",
        "waits",
        ["position_id", "opened_at"],
        unique=False,
        sqlite_where=where,
        postgresql_where=where,
        postgresql_include=["due_at"],
    )
    op.create_index(
        "ix_waits_open_escalate", "waits", ["escalate_at"], unique=False, sqlite_where=where, postgresql_where=where
    )
    if dialect == "postgresql":  # the planner learns of the filled column now, not at autovacuum's turn
        op.execute("ANALYZE waits, open_wait_counts")


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_waits_open_escalate", table_name="waits")
    op.drop_index("ix_waits_open_position", table_name="waits")
    for statement in _DROP[dialect]:
        op.execute(statement)
    op.execute("ALTER TABLE waits DROP COLUMN position_id")  # SQLite 3.35 and later, in place
    op.drop_table("open_wait_counts")
