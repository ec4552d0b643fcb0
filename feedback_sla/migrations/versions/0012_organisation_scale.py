"""organisation scale: the triage's open waits from one index, the search from trigrams

Revision ID: 0012_organisation_scale
Revises: 0011_unconfirmed_bounces

``waits.candidate_active`` says whether the wait's candidate is active, the one condition of the
triage list that lives in another table. The database keeps it, on both dialects, by triggers:
a wait inserted, reopened or moved to another candidate takes its candidate's status, and a
candidate's status change reaches their open wait. The app never writes it. Existing open waits
are filled in here, in one statement.

``ix_waits_listed_due`` holds the waiting candidates' open waits by deadline with what their
state needs (PostgreSQL: as included columns, so counts and pages read the index alone).
``ix_candidates_name`` gives the candidates page its order by name without sorting them all.
On PostgreSQL, ``pg_trgm`` (a trusted extension: the database's owner may create it) gives the
candidates search a trigram index.

A later migration that copies ``waits`` or ``candidates`` on SQLite (batch mode) drops their
triggers and must create them again (``create_triggers``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_organisation_scale"
down_revision = "0011_unconfirmed_bounces"
branch_labels = None
depends_on = None

_POSTGRESQL = [
    """CREATE FUNCTION waits_take_candidate_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.candidate_active := coalesce(
            (SELECT c.status = 'active' FROM candidates c WHERE c.id = NEW.candidate_id), true
        );
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER waits_take_candidate_status
    BEFORE INSERT OR UPDATE OF candidate_id, closed_at ON waits
    FOR EACH ROW EXECUTE FUNCTION waits_take_candidate_status()""",
    """CREATE FUNCTION candidates_status_to_waits() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE waits SET candidate_active = (NEW.status = 'active')
        WHERE candidate_id = NEW.id AND closed_at IS NULL;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER candidates_status_to_waits
    AFTER UPDATE OF status ON candidates
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION candidates_status_to_waits()""",
]

_SQLITE = [
    """CREATE TRIGGER waits_take_candidate_status_inserted AFTER INSERT ON waits
    BEGIN
        UPDATE waits SET candidate_active = coalesce(
            (SELECT c.status = 'active' FROM candidates c WHERE c.id = NEW.candidate_id), 1
        ) WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER waits_take_candidate_status_updated AFTER UPDATE OF candidate_id, closed_at ON waits
    BEGIN
        UPDATE waits SET candidate_active = coalesce(
            (SELECT c.status = 'active' FROM candidates c WHERE c.id = NEW.candidate_id), 1
        ) WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER candidates_status_to_waits AFTER UPDATE OF status ON candidates
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        UPDATE waits SET candidate_active = (NEW.status = 'active')
        WHERE candidate_id = NEW.id AND closed_at IS NULL;
    END""",
]

_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS candidates_status_to_waits ON candidates",
        "DROP FUNCTION IF EXISTS candidates_status_to_waits()",
        "DROP TRIGGER IF EXISTS waits_take_candidate_status ON waits",
        "DROP FUNCTION IF EXISTS waits_take_candidate_status()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS candidates_status_to_waits",
        "DROP TRIGGER IF EXISTS waits_take_candidate_status_updated",
        "DROP TRIGGER IF EXISTS waits_take_candidate_status_inserted",
    ],
}


def create_triggers(dialect: str) -> None:
    for statement in _POSTGRESQL if dialect == "postgresql" else _SQLITE:
        op.execute(statement)


def upgrade():
    dialect = op.get_bind().dialect.name
    op.add_column(
        "waits", sa.Column("candidate_active", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.execute(
        "UPDATE waits SET candidate_active = false WHERE closed_at IS NULL AND candidate_id IN "
        "(SELECT id FROM candidates WHERE status <> 'active')"
    )
    create_triggers(dialect)
    where = sa.text("closed_at IS NULL AND candidate_active")
    op.create_index(
        "ix_waits_listed_due",
        "waits",
        ["due_at", "id"],
        unique=False,
        sqlite_where=where,
        postgresql_where=where,
        postgresql_include=["follow_ups", "warn_at", "escalate_at", "candidate_id"],
    )
    op.create_index("ix_candidates_name", "candidates", [sa.text("lower(name)"), "id"], unique=False)
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_candidates_search_trigrams",
            "candidates",
            ["search_key"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index("ix_candidates_search_trigrams", table_name="candidates")
    op.drop_index("ix_candidates_name", table_name="candidates")
    op.drop_index("ix_waits_listed_due", table_name="waits")
    for statement in _DROP[dialect]:
        op.execute(statement)
    # SQLite copies the table; the tables its keys refer to are not reflected.
    with op.batch_alter_table("waits", reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_column("candidate_active")
