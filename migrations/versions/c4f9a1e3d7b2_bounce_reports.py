"""bounce reports, and the suppression reasons the contract names

Revision ID: c4f9a1e3d7b2
Revises: b3e6f8d2c0a1
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f9a1e3d7b2'
down_revision = 'b3e6f8d2c0a1'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'bounce_report',
        sa.Column('id', BigId, nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('event_key', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.Enum('hard', 'soft', 'complaint', 'warning', 'autoreply', 'unknown', name='bouncekind', native_enum=False, length=32), nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('email_hash', sa.String(length=64), nullable=True),
        sa.Column('domain', sa.String(length=255), nullable=True),
        sa.Column('subscriber_id', sa.Integer(), nullable=True),
        sa.Column('newsletter_id', sa.Integer(), nullable=True),
        sa.Column('issue_id', sa.Integer(), nullable=True),
        sa.Column('delivery_id', BigId, nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('raw', sa.Text(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['digest.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['newsletter_id'], ['newsletter.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'event_key'),
    )
    with op.batch_alter_table('bounce_report', schema=None) as batch_op:
        batch_op.create_index('ix_bounce_report_email_hash_kind', ['email_hash', 'kind', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounce_report_issue_id'), ['issue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounce_report_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bounce_report_subscriber_id'), ['subscriber_id'], unique=False)
    # The contract names the reasons "bounce" and "complaint".
    op.execute("UPDATE suppression SET reason = 'bounce' WHERE reason = 'bounced'")
    op.execute("UPDATE suppression SET reason = 'complaint' WHERE reason = 'complained'")


def downgrade():
    op.execute("UPDATE suppression SET reason = 'bounced' WHERE reason = 'bounce'")
    op.execute("UPDATE suppression SET reason = 'complained' WHERE reason = 'complaint'")
    with op.batch_alter_table('bounce_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounce_report_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_bounce_report_received_at'))
        batch_op.drop_index(batch_op.f('ix_bounce_report_issue_id'))
        batch_op.drop_index('ix_bounce_report_email_hash_kind')
    op.drop_table('bounce_report')
