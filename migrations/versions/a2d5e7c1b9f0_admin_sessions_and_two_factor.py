"""admin sessions and two-factor sign-in

Revision ID: a2d5e7c1b9f0
Revises: 92bd6de314bf
Create Date: 2026-12-01 09:00:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a2d5e7c1b9f0'
down_revision = '92bd6de314bf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        # Sign-in failures are counted by the rate limiter now, for every address alike.
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')

    # Each admin gets a token of their own; sessions made before it name none and end.
    admin_user = sa.table('admin_user', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    connection = op.get_bind()
    for (admin_id,) in connection.execute(sa.select(admin_user.c.id)).all():
        connection.execute(
            admin_user.update()
            .where(admin_user.c.id == admin_id)
            .values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)

    op.create_table('admin_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admin_user.id'], name=op.f('fk_admin_recovery_code_admin_id_admin_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_recovery_code'))
    )
    with op.batch_alter_table('admin_recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_recovery_code_admin_id'), ['admin_id'], unique=False)


def downgrade():
    with op.batch_alter_table('admin_recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_admin_recovery_code_admin_id'))

    op.drop_table('admin_recovery_code')
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_confirmed_at')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('session_token')
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.alter_column('failed_logins', existing_type=sa.Integer(), server_default=None)
