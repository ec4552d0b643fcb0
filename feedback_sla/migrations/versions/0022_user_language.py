"""user language: the language a user reads the app's pages and the digest in

Revision ID: 0022_user_language
Revises: 0021_survey

``users.language`` is a BCP 47 tag chosen in My settings; empty (every existing user) means the
browser's language (Accept-Language) among the organisation's, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_user_language"
down_revision = "0021_survey"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("language", sa.String(length=35), nullable=True))


def downgrade():
    op.drop_column("users", "language")
