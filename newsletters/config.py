"""Settings: defaults, then the environment and ``.env``, then a test mapping.

Settings keep the names in the design document (``DATABASE_URL``,
``SITE_URL``...), read without a prefix so an operator's ``.env`` reads like
the documentation. ``FLASK_*`` variables work too, through Flask's own
``from_prefixed_env``.
"""

import math
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import idna
from dotenv import dotenv_values
from flask import Flask

INSECURE_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEVELOPMENT_SUPPORT_EMAIL = "support@newsletters.example"

DEFAULTS: dict[str, Any] = {
    # development, production or testing. Unknown means production: the safe guess.
    "APP_ENV": "production",
    "SECRET_KEY": INSECURE_SECRET_KEY,
    "SECRET_KEY_FALLBACKS": [],
    "DATABASE_URL": "",
    "SITE_URL": "http://127.0.0.1:5000",
    "SITE_NAME": "The Daily Ledger",
    "SUPPORT_EMAIL": "",
    "POSTAL_ADDRESS": "",
    "PRIVACY_URL": "",
    # The languages readers read us in; the first is the default (newsletters.locales).
    "LANGUAGES": ["en", "es", "de"],
    "MAIL_SERVER": "",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "MAIL_DEFAULT_SENDER": "",
    "MAIL_RATE_LIMIT": 0.0,
    "MAIL_SUPPRESS_SEND": False,
    "DEV_MAILBOX_PATH": "",
    "OUTBOX_RETRY_BASE_SECONDS": 30,
    "OUTBOX_RETRY_MAX_SECONDS": 3600,
    "OUTBOX_GIVE_UP_SECONDS": 2 * 24 * 3600,
    # A claim older than this belongs to a sender that died; its messages go back in line.
    "OUTBOX_CLAIM_TIMEOUT_SECONDS": 600,
    "DKIM_PRIVATE_KEY": "",
    "DKIM_SELECTOR": "",
    # The d= domain of the signature; empty means the domain of MAIL_DEFAULT_SENDER.
    "DKIM_DOMAIN": "",
    # Newsletters' send weekday and hour are wall-clock times in this zone.
    "TIMEZONE": "UTC",
    "DIGEST_BATCH_SIZE": 500,
    "DIGEST_MAX_ATTEMPTS": 5,
    "DIGEST_CLAIM_TIMEOUT_SECONDS": 900,
    "DIGEST_JOURNAL_DIR": "",
    # Uploaded import files and their reports live here (shared with the workers).
    "IMPORT_DIR": "",
    # The largest file the console's import accepts; larger uploads get 413.
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    # Rows an import checks, and applies, per transaction (each applied one is a checkpoint).
    "IMPORT_BATCH_SIZE": 1000,
    # An import with no progress for this long has lost its runner: the console offers to resume.
    "IMPORT_STALL_SECONDS": 300,
    "CELERY_BROKER_URL": "",
    "CELERY_QUEUE": "newsletters",
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_KEY_PREFIX": "newsletters",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis down: each worker keeps limiting with its own memory, and tries Redis again later.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "EMBED_ALLOWED_ORIGINS": [],
    "SIGNUP_MIN_SECONDS": 2.0,
    # How long a page's script waits for a save before it counts as failed and retries.
    "SAVE_TIMEOUT_SECONDS": 10.0,
    # A signup form's token lives two hours and takes a few posts (a typo or two), no more:
    # the box sends no cookie, so the token is all that ties a post to a form we drew.
    "SIGNUP_FORM_MAX_AGE": 2 * 3600,
    "SIGNUP_FORM_MAX_USES": 3,
    "SIGNUP_RATE_LIMIT": "10 per minute;100 per hour",
    "SIGNUP_ADDRESS_RATE_LIMIT": "5 per 10 minutes;20 per day",
    "CONFIRMATION_EMAIL_INTERVAL": 600,
    "CONFIRM_TOKEN_MAX_AGE": 7 * 24 * 3600,
    # 0 means preference and unsubscribe links never expire; erasing the reader kills them.
    "LINK_TOKEN_MAX_AGE": 0,
    "EMAIL_CHECK_DELIVERABILITY": False,
    # Refuse signups from throwaway mail services (the bundled list, plus this file's lines).
    "BLOCK_DISPOSABLE_DOMAINS": False,
    "DISPOSABLE_DOMAINS_FILE": "",
    # At most this many confirmation emails to one address in 24 hours (and one per interval).
    "CONFIRMATIONS_PER_DAY": 3,
    # A CAPTCHA on the signup forms: "", "hcaptcha", "turnstile", or "package.module:function".
    "CAPTCHA_PROVIDER": "",
    "CAPTCHA_SITE_KEY": "",
    "CAPTCHA_SECRET_KEY": "",
    "CAPTCHA_VERIFY_URL": "",
    # Requests made to URLs an admin entered (feeds): one deadline for the whole exchange,
    # redirects included, and the largest answer read. Private, loopback and link-local
    # addresses are refused unless allowed, which is for development and tests only.
    "OUTBOUND_TIMEOUT_SECONDS": 20.0,
    "OUTBOUND_MAX_BYTES": 5 * 1024 * 1024,
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS": False,
    # Outgoing webhooks: each request's deadline; retries for this many hours after the
    # event; an endpoint failing this many days in a row is disabled; delivered and
    # failed events are deleted after this many days.
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "WEBHOOK_RETRY_HOURS": 24,
    "WEBHOOK_DISABLE_AFTER_DAYS": 5,
    "WEBHOOK_RETENTION_DAYS": 30,
    # Deliverability. With BOUNCE_DOMAIN set, each email's envelope sender is
    # bounces+<signed token>@BOUNCE_DOMAIN, so a bounce names its message.
    "BOUNCE_DOMAIN": "",
    # imap://, imaps://, pop3:// or pop3s://user:password@host:port/FOLDER; empty: no polling.
    "BOUNCE_MAILBOX_URL": "",
    "BOUNCE_SOFT_LIMIT": 3,
    "BOUNCE_SOFT_WINDOW_DAYS": 14,
    "BOUNCE_REPORT_RETENTION_DAYS": 30,
    # Delivery rows of issues finished this many days ago are folded into per-issue counts
    # and deleted by `flask deliveries prune`; 0 keeps them for ever.
    "DELIVERY_RETENTION_DAYS": 90,
    # Per-domain pace, messages/second: "gmail.com=50,yahoo.com=20".
    "MAIL_DOMAIN_RATE_LIMITS": "",
    # Provider webhooks at /webhooks/bounces/<provider>; a provider without its secret is off.
    "SES_CERT_URL_PREFIXES": [],
    # The SNS topics whose messages are accepted; SES is off while this is empty.
    "SES_TOPIC_ARNS": [],
    "POSTMARK_WEBHOOK_USER": "",
    "POSTMARK_WEBHOOK_PASSWORD": "",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "",
    "SENDGRID_WEBHOOK_PUBLIC_KEY": "",
    "BOUNCE_WEBHOOK_SECRET": "",
    # Counting, privately (docs/privacy.md): per issue and per link, never per reader.
    "TRACK_CLICKS": False,
    "TRACK_OPENS": False,
    # Networks whose fetches of the open pixel are machines, not readers. Apple owns
    # 17.0.0.0/8 outright; Mail Privacy Protection fetches every image at delivery.
    "MACHINE_OPEN_NETWORKS": ["17.0.0.0/8"],
    # A fetch or click this soon after an issue starts sending is a machine's (proxies
    # and link scanners act on delivery); 0 turns this rule off.
    "MACHINE_OPEN_SECONDS": 10,
    # Per IP and issue: past it a click still redirects and the pixel still answers, but
    # nothing more is counted, so a loop cannot inflate the totals.
    "COUNTING_RATE_LIMIT": "20 per hour",
    "CONSENT_TEXT_VERSION": "2026-11-01",
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Host names this site answers to; production defaults to SITE_URL's.
    "TRUSTED_HOSTS": [],
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto.
    "PROXY_COUNT": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    # None: secure cookies in production, plain ones on http://127.0.0.1 in development.
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Admin sessions end after this long without a request, and this long after sign-in.
    "ADMIN_SESSION_IDLE_MINUTES": 30,
    "ADMIN_SESSION_MAX_HOURS": 12,
    # Admin sign-in: every attempt from one IP, and the failed attempts on one address
    # (counted apart for each browser that has signed in to it before). No window is
    # longer than 15 minutes, so no wait is either.
    "ADMIN_LOGIN_RATE_LIMIT": "10 per minute;30 per 15 minutes",
    "ADMIN_LOGIN_ACCOUNT_LIMIT": "5 per minute;20 per 15 minutes",
    # How long a browser stays "known" to an account after signing in to it.
    "ADMIN_KNOWN_DEVICE_DAYS": 90,
    "WTF_CSRF_TIME_LIMIT": 24 * 3600,
    # Token pages send no Referer (Referrer-Policy: no-referrer keeps tokens out of other
    # sites' logs), so Flask-WTF's HTTPS-only Referer check would refuse every real reader.
    # The session-bound token and SameSite=Lax cookies carry the CSRF defence.
    "WTF_CSRF_SSL_STRICT": False,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # How long a request waits for a busy SQLite file before the write is retried.
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
}

TRUE_WORDS = {"1", "true", "yes", "on"}


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill ``app.config``: defaults, then ``.env`` and the environment, then tests."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()
    for key, raw in _environment().items():
        if key in DEFAULTS:
            app.config[key] = _parse(raw, DEFAULTS[key])
    if test_config is not None:
        app.config.from_mapping(test_config)
    _derive(app)


def _environment() -> dict[str, str]:
    """``.env`` in the working directory, overridden by real environment variables."""
    values = {k: v for k, v in dotenv_values(os.path.join(os.getcwd(), ".env")).items() if v}
    values.update(os.environ)
    return values


def _parse(raw: str, default: Any) -> Any:
    """Read an environment string as the type of its default."""
    if isinstance(default, bool):
        return raw.strip().lower() in TRUE_WORDS
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _derive(app: Flask) -> None:
    """Settings computed from others: the database URL, dev defaults, cookies."""
    config = app.config
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(
        config["DATABASE_URL"] or f"sqlite:///{os.path.join(app.instance_path, 'newsletters.db')}"
    )
    production = config["APP_ENV"] not in ("development", "testing")
    config["IS_PRODUCTION"] = production
    if not production and not config["SUPPORT_EMAIL"]:
        config["SUPPORT_EMAIL"] = DEVELOPMENT_SUPPORT_EMAIL
    config["SUPPORT_EMAIL_IS_PLACEHOLDER"] = config["SUPPORT_EMAIL"] == DEVELOPMENT_SUPPORT_EMAIL
    if not config["MAIL_DEFAULT_SENDER"]:
        config["MAIL_DEFAULT_SENDER"] = f"{config['SITE_NAME']} <newsletters@{site_domain(app)}>"
    if not config["DIGEST_JOURNAL_DIR"]:
        config["DIGEST_JOURNAL_DIR"] = os.path.join(app.instance_path, "journal")
    if not config["IMPORT_DIR"]:
        config["IMPORT_DIR"] = os.path.join(app.instance_path, "imports")
    if not config["DEV_MAILBOX_PATH"]:
        config["DEV_MAILBOX_PATH"] = os.path.join(app.instance_path, "mailbox")
    if production and not config["TRUSTED_HOSTS"]:
        # A request for another Host is refused before any view sees it.
        config["TRUSTED_HOSTS"] = [urlsplit(config["SITE_URL"]).hostname or "localhost"]
    secure = config["SESSION_COOKIE_SECURE"]
    if secure is None:
        config["SESSION_COOKIE_SECURE"] = production
    elif isinstance(secure, str):
        config["SESSION_COOKIE_SECURE"] = secure.strip().lower() in TRUE_WORDS
    config["MAIL_SUPPRESS_SEND"] = bool(config["MAIL_SUPPRESS_SEND"])


def database_uri(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def site_domain(app: Flask) -> str:
    """The host name of ``SITE_URL``, used for Message-IDs and the default sender.

    A bare IP address (the development default) is not a valid mail domain, so
    it becomes ``localhost``.
    """
    host = urlsplit(app.config["SITE_URL"]).hostname or "localhost"
    return host if any(c.isalpha() for c in host) else "localhost"


DOMAIN_RATE_EXAMPLE = "gmail.com=50,yahoo.com=20"
DOMAIN_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def domain_rate_limits(value: str | Mapping[str, Any]) -> dict[str, float]:
    """``MAIL_DOMAIN_RATE_LIMITS`` as {domain: messages a second}, from "gmail.com=50,yahoo.com=20".

    Anything else raises ValueError with a message that names the setting and the
    entry at fault; start-up refuses such a value (see ``newsletters.preflight``).
    """
    if isinstance(value, Mapping):
        entries = [(str(domain), str(rate)) for domain, rate in value.items()]
    else:
        entries = []
        for entry in str(value or "").split(","):
            if entry.strip():
                domain, equals, rate = entry.partition("=")
                if not equals:
                    raise ValueError(
                        f"MAIL_DOMAIN_RATE_LIMITS: {entry.strip()!r} is not domain=messages "
                        f"per second (e.g. {DOMAIN_RATE_EXAMPLE})"
                    )
                entries.append((domain, rate))
    limits: dict[str, float] = {}
    for raw_domain, raw_rate in entries:
        domain = _ascii_domain(raw_domain)
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(
                f"MAIL_DOMAIN_RATE_LIMITS: the rate for {raw_domain.strip()!r} must be a "
                f"positive number of messages per second, not {raw_rate.strip()!r} "
                f"(e.g. {DOMAIN_RATE_EXAMPLE})"
            )
        if domain in limits:
            raise ValueError(f"MAIL_DOMAIN_RATE_LIMITS names {domain} twice")
        limits[domain] = rate
    return limits


def _ascii_domain(text: str) -> str:
    """A domain as it appears in recipient addresses (lower case, international ones in IDNA)."""
    domain = text.strip().lower().rstrip(".")
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii") if not domain.isascii() else domain
    except idna.IDNAError:
        pass
    if not DOMAIN_NAME.match(domain):
        raise ValueError(
            f"MAIL_DOMAIN_RATE_LIMITS: {text.strip()!r} is not a domain name "
            f"(e.g. {DOMAIN_RATE_EXAMPLE})"
        )
    return domain
