"""imports from other systems: files on disk, formats, mappings and a durable checkpoint

Revision ID: a7c9e1b3d5f7
Revises: f3a1c5e7b9d2
Create Date: 2026-12-01 03:10:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a7c9e1b3d5f7"
down_revision = "f3a1c5e7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    # Existing imports keep their text in `content` and read as our own format.
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column("path", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("format", sa.String(length=16), server_default="newsletters", nullable=False)
        )
        batch_op.add_column(
            sa.Column("mapping", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("tags_found", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("applied_through", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("suppressed_rows", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_import_job_fingerprint"), ["fingerprint"], unique=False
        )


def downgrade():
    op.execute("UPDATE import_job SET content = '' WHERE content IS NULL")
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_fingerprint"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("suppressed_rows")
        batch_op.drop_column("applied_through")
        batch_op.drop_column("tags_found")
        batch_op.drop_column("mapping")
        batch_op.drop_column("format")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("path")
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=False)
