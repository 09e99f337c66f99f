"""every reader's rhythm and language: frequencies, issues per frequency, locales

Revision ID: f3a1c5e7b9d2
Revises: e2b8d4f6a0c3
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3a1c5e7b9d2'
down_revision = 'e2b8d4f6a0c3'
branch_labels = None
depends_on = None


def upgrade():
    # Existing newsletters offer what they sent until now (weekly), existing issues are
    # weekly issues, and existing readers get the newsletter's first rhythm (None).
    with op.batch_alter_table('newsletter', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('frequencies', sa.String(length=32), server_default='weekly', nullable=False)
        )
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('frequency', sa.String(length=8), server_default='weekly', nullable=False)
        )
        batch_op.drop_constraint('uq_digest_newsletter_id_period_start', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_digest_newsletter_id_frequency_period_start'),
            ['newsletter_id', 'frequency', 'period_start'],
        )
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frequency', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('next_frequency', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('frequency_from', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_column('frequency_from')
        batch_op.drop_column('next_frequency')
        batch_op.drop_column('frequency')
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.drop_constraint('uq_digest_newsletter_id_frequency_period_start', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_digest_newsletter_id_period_start'), ['newsletter_id', 'period_start']
        )
        batch_op.drop_column('frequency')
    with op.batch_alter_table('newsletter', schema=None) as batch_op:
        batch_op.drop_column('frequencies')
