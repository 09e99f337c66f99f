"""private counting: per-issue open totals and per-link click totals, never per reader

Revision ID: e4a6c8b0d2f3
Revises: c8e2f4a6b0d1
Create Date: 2026-12-01 11:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e4a6c8b0d2f3"
down_revision = "c8e2f4a6b0d1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("track_clicks", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("track_opens", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("opens", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("machine_opens", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "issue_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("machine_clicks", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest_id", "position"),
    )


def downgrade():
    op.drop_table("issue_link")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_column("machine_opens")
        batch_op.drop_column("opens")
        batch_op.drop_column("track_opens")
        batch_op.drop_column("track_clicks")
