"""Admin passwords: how they are stored and checked, and which ones are good enough."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from werkzeug.security import check_password_hash
from zxcvbn import zxcvbn

from newsletters.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
# zxcvbn's scale: 0 and 1 fall to an online or quick offline attack, 3 is "safely unguessable".
MIN_STRENGTH_SCORE = 3
# zxcvbn refuses longer input (it slows down fast); what follows only adds strength.
STRENGTH_CHECKED_LENGTH = 72
# Argon2id at OWASP's recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when the address is unknown, so a wrong address costs as long as a wrong password.
DUMMY_HASH = HASHER.hash("not-a-real-password")


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


def needs_rehash(stored: str) -> bool:
    """True for a hash made with older settings or an older algorithm."""
    return not stored.startswith("$argon2") or HASHER.check_needs_rehash(stored)


def check_password_strength(password: str, email: str = "", field: str = "password") -> None:
    """Refuse a short, common or easily guessed password, saying why and what would do.

    The one rule for every admin password: ``flask admin create``, the Team page's new
    administrators and a password change all come here. Strength is zxcvbn's estimate,
    which knows common passwords, names, keyboard walks, dates and repeats, and is
    told the admin's own address and the site's name so a password built on them is weak.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field=field
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Choose a password of at most {MAX_PASSWORD_LENGTH} characters.", field=field
        )
    result = zxcvbn(password[:STRENGTH_CHECKED_LENGTH], user_inputs=_personal_words(email))
    if result["score"] >= MIN_STRENGTH_SCORE:
        return
    feedback = result["feedback"]
    advice = [feedback["warning"], *feedback["suggestions"]]
    raise InvalidInput(
        " ".join(
            [
                "This password is too easy to guess.",
                *(line for line in advice if line),
                "Four or more unrelated words, or a password manager's password, will do.",
            ]
        ),
        field=field,
    )


def _personal_words(email: str) -> list[str]:
    """Words a guesser would try first for this admin: their address and the site's name."""
    local, _, domain = email.lower().partition("@")
    site = current_app.config["SITE_NAME"].lower()
    words = [email.lower(), local, domain, *domain.split("."), site, *site.split()]
    words += [site.replace(" ", ""), site.removeprefix("the ").replace(" ", "")]
    return [word for word in words if word] + ["newsletters", "newsletter", "admin"]
