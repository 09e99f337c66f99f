"""issue delivery counts: what the pruned deliveries of a finished issue add up to

Revision ID: f1a3c5e7b9d2
Revises: d9f1a3c5e7b2
Create Date: 2026-12-01 14:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "f1a3c5e7b9d2"
down_revision = "d9f1a3c5e7b2"
branch_labels = None
depends_on = None

DELIVERY_STATUS = sa.Enum(
    "pending", "sending", "sent", "failed", "bounced", "suppressed", "skipped", "cancelled",
    name="deliverystatus", native_enum=False, length=32,
)  # fmt: skip


def upgrade():
    op.create_table(
        "issue_delivery_count",
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("status", DELIVERY_STATUS, nullable=False),
        sa.Column("deliveries", sa.BigInteger(), nullable=False),
        sa.Column("handed_over", sa.BigInteger(), nullable=False),
        sa.Column("complained", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digest.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest_id", "status"),
    )


def downgrade():
    op.drop_table("issue_delivery_count")
