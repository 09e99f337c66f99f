"""Administrators: creating them, and letting them in (or, after too many tries, not)."""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from werkzeug.security import check_password_hash

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import AdminRole, AdminUser, utcnow
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic

MIN_PASSWORD_LENGTH = 12
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# Argon2id at OWASP's recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An Argon2id hash of a password."""
    return HASHER.hash(password)


def password_matches(stored: str, password: str) -> bool:
    """Check a password against its hash in constant time (Argon2id, or an older scrypt)."""
    if stored.startswith("$argon2"):
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored, password)


@dataclass(frozen=True)
class LoginResult:
    """Who signed in, or why nobody did."""

    admin: AdminUser | None
    reason: str = ""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )


@atomic
def create_admin(email: str, password: str, role: str = "owner") -> AdminUser:
    """A new administrator; the password is stored as a scrypt hash."""
    address = normalize_email(email)
    _check_password(password)
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
    """Check a login, counting failures; five in a row lock the account for 15 minutes."""
    refused = LoginResult(None, "That email address and password don't match.")
    try:
        address = normalize_email(email)
    except InvalidInput:
        password_matches(_DUMMY_HASH, password)
        return refused
    admin = db.session.scalar(select(AdminUser).where(AdminUser.email == address))
    if admin is None or not admin.is_enabled:
        password_matches(_DUMMY_HASH, password)
        return refused
    now = utcnow()
    if admin.locked_until is not None and admin.locked_until > now:
        minutes = max(1, int((admin.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(None, f"Too many failed attempts. Try again in {minutes} minutes.")
    if not password_matches(admin.password_hash, password):
        admin.failed_logins += 1
        if admin.failed_logins >= MAX_FAILED_LOGINS:
            admin.failed_logins = 0
            admin.locked_until = now + LOCKOUT
        return refused
    admin.failed_logins = 0
    admin.locked_until = None
    admin.last_login_at = now
    if not admin.password_hash.startswith("$argon2") or HASHER.check_needs_rehash(
        admin.password_hash
    ):
        admin.password_hash = hash_password(password)  # upgraded on the way in
    return LoginResult(admin)


def admin_by_id(public_id: str) -> AdminUser | None:
    """The admin a session names (by UUID), if they still exist and may sign in."""
    try:
        key = UUID(public_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(select(AdminUser).where(AdminUser.uuid == key))


def all_admins() -> list[AdminUser]:
    """Every administrator, owners first."""
    return list(db.session.scalars(select(AdminUser).order_by(AdminUser.role, AdminUser.email)))
