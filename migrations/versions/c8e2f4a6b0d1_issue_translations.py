"""issue translations: an issue's frame rendered once per language the site offers

Revision ID: c8e2f4a6b0d1
Revises: a7c9e1b3d5f7
Create Date: 2026-12-01 05:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c8e2f4a6b0d1"
down_revision = "a7c9e1b3d5f7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "issue_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest_id", "language"),
    )


def downgrade():
    op.drop_table("issue_translation")
