"""Administrators: creating them, letting them in, and ending their sessions."""

import hmac
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import AdminRole, AdminUser, utcnow
from newsletters.models.admin import new_session_token
from newsletters.services.console.passwords import (
    DUMMY_HASH,
    check_password_strength,
    hash_password,
    needs_rehash,
    password_matches,
)
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic

REFUSED = "That email address and password don't match."


@dataclass(frozen=True)
class LoginResult:
    """Who gave the right password, or why nobody did."""

    admin: AdminUser | None
    reason: str = ""


@atomic
def create_admin(email: str, password: str, role: str = "owner") -> AdminUser:
    """A new administrator, with a strong enough password, stored as an Argon2id hash."""
    address = normalize_email(email)
    check_password_strength(password, address)
    if role not in {r.value for r in AdminRole}:
        raise InvalidInput("The role is owner or editor.", field="role")
    if db.session.scalar(select(AdminUser.id).where(AdminUser.email == address)):
        raise InvalidInput(f"{address} is already an administrator.", field="email")
    admin = AdminUser(
        email=address,
        password_hash=hash_password(password),
        role=AdminRole(role),
    )
    db.session.add(admin)
    return admin


@atomic
def authenticate(email: str, password: str) -> LoginResult:
    """Check an address and password; one hash is checked whatever the address.

    A wrong password, an unknown address, a disabled account and a malformed
    address get the same answer and cost the same hash, and nothing is written:
    how often an address may be tried is the rate limiter's business, which
    counts every address alike, so nothing here tells a real account from none.
    """
    refused = LoginResult(None, REFUSED)
    try:
        address = normalize_email(email)
    except InvalidInput:
        password_matches(DUMMY_HASH, password)
        return refused
    admin = db.session.scalar(select(AdminUser).where(AdminUser.email == address))
    if admin is None or not admin.is_enabled:
        password_matches(DUMMY_HASH, password)
        return refused
    if not password_matches(admin.password_hash, password):
        return refused
    if needs_rehash(admin.password_hash):
        admin.password_hash = hash_password(password)  # upgraded on the way in
    return LoginResult(admin)


@atomic
def record_sign_in(admin: AdminUser) -> AdminUser:
    """Note when an admin last signed in (after the second factor, when they have one)."""
    admin.last_login_at = utcnow()
    return admin


@atomic
def change_password(admin: AdminUser, current: str, new: str, repeated: str) -> AdminUser:
    """A new password for an admin who knows the current one; every session of theirs ends."""
    if not password_matches(admin.password_hash, current):
        raise InvalidInput("That is not your current password.", field="current_password")
    if new != repeated:
        raise InvalidInput("The two new passwords are not the same.", field="repeat_password")
    if new == current:
        raise InvalidInput("Choose a password you have not used here.", field="new_password")
    check_password_strength(new, admin.email, field="new_password")
    admin.password_hash = hash_password(new)
    admin.session_token = new_session_token()
    return admin


@atomic
def end_sessions(admin: AdminUser) -> AdminUser:
    """End every session of an admin, wherever it is: each copy of its cookie is refused."""
    admin.session_token = new_session_token()
    return admin


def admin_by_id(session_id: str) -> AdminUser | None:
    """The admin a session names (``UUID:session token``), if that session is still theirs.

    A session made before the admin signed out, changed their password or had their
    two-factor sign-in reset carries an older token, and names nobody.
    """
    public_id, _, token = (session_id or "").partition(":")
    try:
        key = UUID(public_id)
    except (TypeError, ValueError):
        return None
    admin = db.session.scalar(select(AdminUser).where(AdminUser.uuid == key))
    if admin is None or not admin.is_enabled:
        return None
    if not token or not hmac.compare_digest(token.encode(), admin.session_token.encode()):
        return None
    return admin


def admin_by_email(email: str) -> AdminUser | None:
    """The administrator with this address, if there is one."""
    try:
        address = normalize_email(email)
    except InvalidInput:
        return None
    return db.session.scalar(select(AdminUser).where(AdminUser.email == address))


def admin_by_uuid(public_id: UUID) -> AdminUser | None:
    """The administrator with this public id, if there is one."""
    return db.session.scalar(select(AdminUser).where(AdminUser.uuid == public_id))


def all_admins() -> list[AdminUser]:
    """Every administrator, owners first."""
    return list(db.session.scalars(select(AdminUser).order_by(AdminUser.role, AdminUser.email)))
