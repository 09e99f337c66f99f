"""Email address validation and normalisation: the one place that decides what an address is."""

import functools
import unicodedata
from pathlib import Path

from disposable_email_domains import blocklist as BUNDLED_DISPOSABLE_DOMAINS
from flask import current_app

from newsletters.errors import InvalidEmail
from newsletters.locales import N_

MAX_ADDRESS_LENGTH = 254
DISPOSABLE = N_("Please use a permanent email address: this one is from a throwaway mail service.")


def normalize_email(raw: str | None, *, check_deliverability: bool | None = None) -> str:
    """Return the canonical form of an address, or raise :class:`InvalidEmail`.

    The canonical form is the address folded with Unicode NFKC, then
    email-validator's normalisation (Unicode domains in their readable form),
    lower-cased as a whole. So Ann@Example.com, ann@example.com and the
    full-width ａｎｎ@ｅｘａｍｐｌｅ.com are one reader, one suppression and one
    rate-limit key (NFKC is what UTS #39 asks of addresses used as identifiers).
    DNS checks are off unless ``EMAIL_CHECK_DELIVERABILITY`` is set, or the
    caller turns them off for a key that must cost nothing.
    """
    candidate = unicodedata.normalize("NFKC", raw or "").strip()
    if not candidate or len(candidate) > MAX_ADDRESS_LENGTH:
        raise InvalidEmail()
    if check_deliverability is None:
        check_deliverability = current_app.config["EMAIL_CHECK_DELIVERABILITY"]
    from email_validator import EmailNotValidError, validate_email  # DNS modules: load on use

    try:
        info = validate_email(candidate, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise InvalidEmail() from exc
    return info.normalized.lower()


def mask_email(address: str) -> str:
    """A form of the address that is safe to write to logs: a***@example.com."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


@functools.lru_cache(maxsize=4)
def _extra_disposable_domains(path: str) -> frozenset[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and line[0] != "#")


def is_disposable(address: str) -> bool:
    """True for an address at a throwaway mail service (or any subdomain of one).

    The list is the ``disposable-email-domains`` package (upgrade it to update
    the list), plus the lines of ``DISPOSABLE_DOMAINS_FILE`` when that is set.
    """
    domain = address.rpartition("@")[2].lower()
    extra_file = current_app.config["DISPOSABLE_DOMAINS_FILE"]
    extra = _extra_disposable_domains(extra_file) if extra_file else frozenset()
    parts = domain.split(".")
    candidates = {".".join(parts[i:]) for i in range(len(parts) - 1)}
    return bool(candidates & (BUNDLED_DISPOSABLE_DOMAINS | extra))


def check_not_disposable(address: str) -> None:
    """Refuse a throwaway address, when ``BLOCK_DISPOSABLE_DOMAINS`` is on."""
    if current_app.config["BLOCK_DISPOSABLE_DOMAINS"] and is_disposable(address):
        raise InvalidEmail(DISPOSABLE)
