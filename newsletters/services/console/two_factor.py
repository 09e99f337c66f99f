"""Two-factor sign-in for admins: codes from an authenticator app (TOTP), and recovery codes."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import AdminUser, utcnow
from newsletters.models.admin import AdminRecoveryCode, new_session_token
from newsletters.services.console.passwords import password_matches
from newsletters.services.core.transactions import atomic

RECOVERY_CODE_COUNT = 10
# 10 characters from 31 that cannot be mistaken for one another: about 50 bits each.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
# A code from the step before or after the current one still counts: clocks drift.
STEP_TOLERANCE = 1
CODE_DIGITS = 6
APP = "authenticator app"
RECOVERY = "recovery code"


@dataclass(frozen=True)
class Enrolment:
    """What an admin types or scans into their authenticator app."""

    secret: str
    uri: str


def pending_enrolment(admin: AdminUser) -> Enrolment | None:
    """The secret an admin is setting up, until they confirm it with a code."""
    if admin.totp_secret is None or admin.two_factor_enabled:
        return None
    issuer = f"{current_app.config['SITE_NAME']} newsletters"
    uri = pyotp.TOTP(admin.totp_secret).provisioning_uri(name=admin.email, issuer_name=issuer)
    return Enrolment(admin.totp_secret, uri)


@atomic
def begin_enrolment(admin: AdminUser) -> Enrolment:
    """A new secret for an admin turning two-factor sign-in on; it counts once confirmed."""
    if admin.two_factor_enabled:
        raise InvalidInput("Two-factor sign-in is already on.")
    admin.totp_secret = pyotp.random_base32()
    admin.totp_last_step = None
    enrolment = pending_enrolment(admin)
    assert enrolment is not None
    return enrolment


@atomic
def confirm_enrolment(admin: AdminUser, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first good code; returns the recovery codes, once.

    Sessions signed in with the password alone end; the caller starts this one anew.
    """
    if admin.totp_secret is None or admin.two_factor_enabled:
        raise InvalidInput("Start setting up two-factor sign-in first.")
    if not _accept_app_code(admin, _clean(code)):
        raise InvalidInput(
            "That code didn't work. Check the time on your phone, and type the code the "
            "app shows now.",
            field="code",
        )
    admin.totp_confirmed_at = utcnow()
    admin.session_token = new_session_token()
    return _new_recovery_codes(admin)


@atomic
def verify_second_factor(admin: AdminUser, code: str) -> str | None:
    """Accept a fresh code from the app or an unused recovery code; says which, or None.

    Each is good once: an app code whose step was already used, or a used recovery
    code, is refused, even by two requests racing with the same code.
    """
    typed = _clean(code)
    if not admin.two_factor_enabled:
        return None
    if len(typed) == CODE_DIGITS and typed.isdigit():
        return APP if _accept_app_code(admin, typed) else None
    return RECOVERY if _accept_recovery_code(admin, typed) else None


@atomic
def disable(admin: AdminUser, password: str) -> AdminUser:
    """Turn an admin's own two-factor sign-in off; their password says it is them."""
    if not password_matches(admin.password_hash, password):
        raise InvalidInput("That is not your current password.", field="password")
    return _remove(admin)


@atomic
def reset(admin: AdminUser) -> AdminUser:
    """Turn two-factor sign-in off for an admin who lost their phone (an owner or a shell does
    this); every session of theirs ends, and they set it up again after signing in."""
    return _remove(admin)


def recovery_codes_left(admin: AdminUser) -> int:
    """How many of an admin's recovery codes are still unused."""
    query = select(func.count()).where(
        AdminRecoveryCode.admin_id == admin.id, AdminRecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query) or 0


def _clean(code: str) -> str:
    """A code as typed, without spaces or hyphens, in lower case."""
    return "".join((code or "").split()).replace("-", "").lower()[:64]


def _accept_app_code(admin: AdminUser, code: str) -> bool:
    """True for the current code (or a neighbour's) whose step is newer than the last used."""
    if admin.totp_secret is None or len(code) != CODE_DIGITS or not code.isdigit():
        return False
    totp = pyotp.TOTP(admin.totp_secret)
    now = totp.timecode(utcnow())
    for step in range(now - STEP_TOLERANCE, now + STEP_TOLERANCE + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # Claimed with a conditional UPDATE, so two requests with one code cannot both pass.
            claimed = db.session.execute(
                update(AdminUser)
                .where(
                    AdminUser.id == admin.id,
                    or_(AdminUser.totp_last_step.is_(None), AdminUser.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.expire(admin, ["totp_last_step"])
            return claimed == 1
    return False


def _accept_recovery_code(admin: AdminUser, code: str) -> bool:
    """True for an unused recovery code of this admin, which is then used up."""
    if len(code) != RECOVERY_CODE_LENGTH:
        return False
    used = db.session.execute(
        update(AdminRecoveryCode)
        .where(
            AdminRecoveryCode.admin_id == admin.id,
            AdminRecoveryCode.code_hash == _digest(code),
            AdminRecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return used == 1


def _new_recovery_codes(admin: AdminUser) -> list[str]:
    """Ten fresh codes in place of any old ones; only their hashes are kept."""
    db.session.execute(delete(AdminRecoveryCode).where(AdminRecoveryCode.admin_id == admin.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.session.add_all(AdminRecoveryCode(admin_id=admin.id, code_hash=_digest(c)) for c in codes)
    half = RECOVERY_CODE_LENGTH // 2
    return [f"{code[:half]}-{code[half:]}" for code in codes]


def _digest(code: str) -> str:
    """SHA-256 of a cleaned recovery code."""
    return hashlib.sha256(code.encode()).hexdigest()


def _remove(admin: AdminUser) -> AdminUser:
    """Forget an admin's secret and recovery codes, and end their sessions."""
    admin.totp_secret = None
    admin.totp_confirmed_at = None
    admin.totp_last_step = None
    admin.session_token = new_session_token()
    db.session.execute(delete(AdminRecoveryCode).where(AdminRecoveryCode.admin_id == admin.id))
    return admin
