"""What is checked before the app serves anyone: settings production must have, and warnings.

Production refuses to start without the settings that readers and mailbox
providers depend on. Settings that work but cost something (mail that will not
align for DMARC, limits counted per process) are logged as warnings at start.
"""

import logging
import os
import sys
from email.utils import parseaddr
from urllib.parse import urlsplit

import click
from flask import Flask
from sqlalchemy import make_url

from newsletters.config import INSECURE_SECRET_KEY, domain_rate_limits

log = logging.getLogger(__name__)

MIN_SECRET_KEY_LENGTH = 32


class RefusedToStart(click.ClickException, RuntimeError):
    """Production settings that must not serve; ``flask`` prints the reason without a traceback."""


def production_problems(config) -> list[str]:
    """Why production must not start with these settings (empty when it may)."""
    problems = []
    secret = config["SECRET_KEY"]
    if secret in ("", INSECURE_SECRET_KEY):
        problems.append("SECRET_KEY is unset or the insecure default")
    elif len(secret) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters")
    if not config["SUPPORT_EMAIL"]:
        problems.append("SUPPORT_EMAIL is unset; readers need an address for help")
    if urlsplit(config["SITE_URL"]).scheme != "https":
        problems.append(
            "SITE_URL is not https://; every link in every email, and the one-click "
            "unsubscribe that mailbox providers require, is built from it"
        )
    if not config["MAIL_SERVER"]:
        problems.append("MAIL_SERVER is unset; no email would leave this machine")
    if not config["POSTAL_ADDRESS"]:
        problems.append("POSTAL_ADDRESS is unset; bulk mail must carry the sender's address")
    return problems


# Counts and days the bounce rules and the report pruning read.
WHOLE_POSITIVE = ("BOUNCE_SOFT_LIMIT", "BOUNCE_SOFT_WINDOW_DAYS", "BOUNCE_REPORT_RETENTION_DAYS")


def unusable_settings(config) -> list[str]:
    """Settings no environment can run with, each with what is wrong (empty when none)."""
    problems = []
    try:
        domain_rate_limits(config["MAIL_DOMAIN_RATE_LIMITS"])
    except ValueError as exc:
        problems.append(str(exc))
    for name in WHOLE_POSITIVE:
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a whole number of at least 1, not {value!r}")
    days = config["DELIVERY_RETENTION_DAYS"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        problems.append(
            f"DELIVERY_RETENTION_DAYS must be a whole number of days (0: keep for ever), "
            f"not {days!r}"
        )
    return problems


def check_production_settings(app: Flask) -> None:
    """Refuse to start with settings that cannot work, or in production with settings that
    would hurt readers."""
    unusable = unusable_settings(app.config)
    if unusable:
        raise RefusedToStart("Refusing to start: " + "; ".join(unusable) + ".")
    if not app.config["IS_PRODUCTION"]:
        return
    problems = production_problems(app.config)
    if problems:
        raise RefusedToStart(
            "Refusing to start in production: "
            + "; ".join(problems)
            + ". Set them in the environment or .env (or APP_ENV=development for local use)."
        )


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].strip().lower().rstrip(".")


def aligned(from_domain: str, signing_domain: str) -> bool:
    """DMARC's relaxed alignment, without a public-suffix list: equal, or one inside the other."""
    a, b = from_domain.lower().rstrip("."), signing_domain.lower().rstrip(".")
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def mail_warnings(config) -> list[str]:
    """What will make mailbox providers distrust the mail these settings send."""
    if not config["MAIL_SERVER"]:
        return []  # mail stays on this machine
    from_domain = _domain(config["MAIL_DEFAULT_SENDER"])
    warnings = []
    if not (config["DKIM_PRIVATE_KEY"] and config["DKIM_SELECTOR"]):
        warnings.append(
            f"mail is not DKIM-signed here: make sure MAIL_SERVER signs it with a key for "
            f"{from_domain}, or set DKIM_PRIVATE_KEY and DKIM_SELECTOR; Gmail and Yahoo "
            f"require DMARC alignment from bulk senders"
        )
    elif config["DKIM_DOMAIN"] and not aligned(from_domain, config["DKIM_DOMAIN"]):
        warnings.append(
            f"DKIM_DOMAIN {config['DKIM_DOMAIN']} is not aligned with the MAIL_DEFAULT_SENDER "
            f"domain {from_domain}: DMARC will fail and Gmail and Yahoo will reject or junk "
            f"the mail; sign with {from_domain} (or a parent of it)"
        )
    if from_domain in ("localhost", "") or "." not in from_domain:
        warnings.append(
            f"MAIL_DEFAULT_SENDER ({config['MAIL_DEFAULT_SENDER']}) is not on a real domain; "
            f"set it to an address at your domain, whose SPF record lists MAIL_SERVER"
        )
    return warnings


def deployment_warnings(config) -> list[str]:
    """Production settings that work, at a cost the operator should choose knowingly."""
    if not config["IS_PRODUCTION"]:
        return []
    warnings = []
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite":
        warnings.append(
            "the database is SQLite: fine for one machine, but every web and cron process "
            "must share its file; use PostgreSQL to run more than one machine"
        )
    if config["RATELIMIT_ENABLED"] and config["RATELIMIT_STORAGE_URI"].startswith("memory"):
        warnings.append(
            "rate limits are counted in each process's memory; set RATELIMIT_STORAGE_URI "
            "to Redis so that every web worker shares one count"
        )
    if config.get("OUTBOUND_ALLOW_PRIVATE_NETWORKS"):
        warnings.append(
            "OUTBOUND_ALLOW_PRIVATE_NETWORKS is on: feed URLs that admins enter can reach this "
            "machine and its private network; it is for development and tests only"
        )
    return warnings


def bounce_warnings(config) -> list[str]:
    """Bounce settings that work, but not as written."""
    retention, window = config["BOUNCE_REPORT_RETENTION_DAYS"], config["BOUNCE_SOFT_WINDOW_DAYS"]
    if retention < window:
        return [
            f"BOUNCE_REPORT_RETENTION_DAYS ({retention}) is shorter than BOUNCE_SOFT_WINDOW_DAYS "
            f"({window}): bounce reports are kept {window} days, because the soft-bounce rule "
            f"counts them over that window"
        ]
    return []


# The bounce and complaint rates read 30 days of deliveries (flask bounces stats).
RATES_WINDOW_DAYS = 30


def delivery_warnings(config) -> list[str]:
    """A delivery retention that works, but makes the rates miss messages."""
    days = config["DELIVERY_RETENTION_DAYS"]
    if 0 < days < RATES_WINDOW_DAYS:
        return [
            f"DELIVERY_RETENTION_DAYS ({days}) is shorter than the {RATES_WINDOW_DAYS} days the "
            f"bounce and complaint rates read: issues pruned inside that window drop out of them"
        ]
    return []


def warnings(config) -> list[str]:
    """Every warning these settings deserve."""
    found = mail_warnings(config) + deployment_warnings(config) + bounce_warnings(config)
    return found + delivery_warnings(config)


def _one_off_command() -> bool:
    """A ``flask`` command other than ``run``: cron runs these every minute, so stay quiet
    (``flask check`` prints the warnings on request)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    is_flask = program == "flask" or sys.argv[0].endswith(os.path.join("flask", "__main__.py"))
    return is_flask and "run" not in sys.argv[1:2]


def log_warnings(app: Flask) -> None:
    """Log the warnings when a server or worker starts."""
    if _one_off_command():
        return
    for warning in warnings(app.config):
        log.warning("%s", warning)
