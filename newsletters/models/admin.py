"""The people who run the lists, what they did, and the imports they started."""

import enum
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class AdminRole(enum.StrEnum):
    """What an admin may do. Editors run content; owners run everything."""

    OWNER = "owner"
    EDITOR = "editor"


def new_session_token() -> str:
    """A fresh random value that every session of one admin must carry."""
    return secrets.token_urlsafe(32)


class AdminUser(UserMixin, db.Model):
    """Someone who may sign in to /admin."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Argon2id (older accounts: scrypt until their next sign-in). Never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[AdminRole] = mapped_column(enum_column_type(AdminRole), default=AdminRole.EDITOR)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every session carries this; a new value (sign-out, new password, 2FA reset) ends them all.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    # Two-factor sign-in: the TOTP secret (base32) from enrolment on, in force once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step of the last code accepted: a code is good once, never twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def get_id(self) -> str:
        """Flask-Login's session key: the public UUID (never the row id) and the session token."""
        return f"{self.uuid}:{self.session_token}"

    @property
    def two_factor_enabled(self) -> bool:
        """Signing in asks for a code after the password."""
        return self.totp_confirmed_at is not None

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Flask-Login: a disabled admin is signed out."""
        return self.is_enabled

    @property
    def is_owner(self) -> bool:
        """Owners manage admins and may erase subscribers."""
        return self.role == AdminRole.OWNER

    def __repr__(self) -> str:
        return f"<AdminUser {self.email} {self.role}>"


class AdminRecoveryCode(db.Model):
    """One of an admin's single-use codes for signing in without the authenticator app."""

    __tablename__ = "admin_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(
        ForeignKey("admin_user.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the code: the codes are random and long, so a fast hash is enough.
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<AdminRecoveryCode {self.admin_id} {'used' if self.used_at else 'unused'}>"


class AuditLog(db.Model):
    """Which admin did what to what, and when: one row per state-changing admin action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_user.id", ondelete="SET NULL"), index=True
    )
    # Kept as text too, so the record outlives the admin's account.
    admin_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<AuditLog {self.admin_email} {self.action} {self.target}>"


class ImportStatus(enum.StrEnum):
    """Where an import is: checked first, applied after the admin has seen the preview."""

    CHECKING = "checking"
    CHECKED = "checked"
    APPLYING = "applying"
    DONE = "done"
    FAILED = "failed"


class ImportJob(db.Model):
    """A CSV of addresses and newsletters, checked, previewed, then applied in batches."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[UUID] = mapped_column(Uuid, unique=True, default=uuid4)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    # Files are read from ``path`` on disk; only imports stored before that kept the text here.
    content: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(1024))
    # SHA-256 of the file: a rerun of ``flask subscribers import`` finds its unfinished job.
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # newsletters, mailchimp, listmonk, ghost or substack (``import_formats``).
    format: Mapped[str] = mapped_column(String(16), default="newsletters")
    # {"newsletters": [slug, ...], "tags": {tag: slug}}: where an export's members go.
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The tags (labels, plans) the check found in the file, for the admin to map; a few dozen.
    tags_found: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ImportStatus] = mapped_column(
        enum_column_type(ImportStatus), default=ImportStatus.CHECKING
    )
    # Readers already gave consent elsewhere: active at once, with this note as the record.
    attested: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_note: Mapped[str | None] = mapped_column(Text)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    checked_rows: Mapped[int] = mapped_column(Integer, default=0)
    valid_rows: Mapped[int] = mapped_column(Integer, default=0)
    applied_rows: Mapped[int] = mapped_column(Integer, default=0)
    # The checkpoint: rows of the file the apply phase has finished (committed with them).
    applied_through: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_rows: Mapped[int] = mapped_column(Integer, default=0)
    # "line,email,reason" for every refused row, downloadable as it is.
    errors_csv: Mapped[str] = mapped_column(Text, default="")
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moves with every batch: an import running with no progress for a while has lost its runner.
    updated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ImportJob {self.filename} {self.status}>"
