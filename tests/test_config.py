"""Settings come from defaults, .env and the environment; production refuses unsafe ones."""

import logging
from pathlib import Path

import pytest
from flask import render_template_string

from newsletters import create_app
from newsletters.config import INSECURE_SECRET_KEY, database_uri

SETTINGS_READ_HERE = (
    "APP_ENV", "SECRET_KEY", "SUPPORT_EMAIL", "DATABASE_URL", "SITE_URL", "MAIL_SERVER",
    "MAIL_DEFAULT_SENDER", "POSTAL_ADDRESS", "DKIM_PRIVATE_KEY", "DKIM_SELECTOR", "DKIM_DOMAIN",
    "RATELIMIT_STORAGE_URI",
)  # fmt: skip

PRODUCTION = {
    "SECRET_KEY": "k" * 40,
    "SUPPORT_EMAIL": "help@news.example.com",
    "SITE_URL": "https://news.example.com",
    "MAIL_SERVER": "smtp.news.example.com",
    "POSTAL_ADDRESS": "1 Press Row, Springfield",
}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_READ_HERE:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def production_env(clean_env, monkeypatch):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{clean_env / 'prod.db'}")
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SECRET_KEY", None, "SECRET_KEY is unset or the insecure default"),
        ("SECRET_KEY", INSECURE_SECRET_KEY, "SECRET_KEY is unset or the insecure default"),
        ("SECRET_KEY", "short-but-not-default", "SECRET_KEY is shorter than 32 characters"),
        ("SUPPORT_EMAIL", None, "SUPPORT_EMAIL is unset"),
        ("SITE_URL", "http://news.example.com", "SITE_URL is not https://"),
        ("SITE_URL", None, "SITE_URL is not https://"),
        ("MAIL_SERVER", None, "MAIL_SERVER is unset"),
        ("POSTAL_ADDRESS", None, "POSTAL_ADDRESS is unset"),
    ],
)
def test_production_refuses_to_start_without_what_readers_depend_on(
    production_env, name, value, reason
):
    if value is None:
        production_env.delenv(name)
    else:
        production_env.setenv(name, value)
    with pytest.raises(RuntimeError, match="Refusing to start in production") as refused:
        create_app()
    assert reason in str(refused.value)


def test_production_starts_with_its_settings_from_the_environment(production_env):
    app = create_app()
    assert app.config["IS_PRODUCTION"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TRUSTED_HOSTS"] == ["news.example.com"]
    assert "dev" not in app.blueprints  # no development mailbox in production


def test_production_warns_about_settings_that_cost_deliverability(production_env, caplog):
    production_env.setenv("MAIL_DEFAULT_SENDER", "The Ledger <news@ledger.example.com>")
    production_env.setenv("DKIM_SELECTOR", "s1")
    production_env.setenv("DKIM_PRIVATE_KEY", "/etc/newsletters/dkim.pem")
    production_env.setenv("DKIM_DOMAIN", "mailer.example.net")
    with caplog.at_level(logging.WARNING, logger="newsletters"):
        create_app()
    warned = " ".join(caplog.messages)
    assert "DKIM_DOMAIN mailer.example.net is not aligned" in warned
    assert "ledger.example.com" in warned
    assert "rate limits are counted in each process's memory" in warned
    assert "the database is SQLite" in warned

    caplog.clear()
    production_env.setenv("DKIM_DOMAIN", "example.com")  # a parent domain aligns (relaxed)
    production_env.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    with caplog.at_level(logging.WARNING, logger="newsletters"):
        create_app()
    assert "DKIM" not in " ".join(caplog.messages)
    assert "rate limits" not in " ".join(caplog.messages)


def test_production_warns_when_outbound_requests_may_reach_private_networks(production_env, caplog):
    production_env.delenv("OUTBOUND_ALLOW_PRIVATE_NETWORKS", raising=False)
    with caplog.at_level(logging.WARNING, logger="newsletters"):
        create_app()
    assert "OUTBOUND_ALLOW_PRIVATE_NETWORKS" not in caplog.text
    production_env.setenv("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")
    with caplog.at_level(logging.WARNING, logger="newsletters"):
        app = create_app()
    assert app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] is True
    assert "OUTBOUND_ALLOW_PRIVATE_NETWORKS is on" in caplog.text
    assert "development and tests only" in caplog.text


def test_mail_without_dkim_is_a_warning_naming_the_domain_to_sign(production_env, caplog):
    production_env.setenv("MAIL_DEFAULT_SENDER", "news@ledger.example.com")
    with caplog.at_level(logging.WARNING, logger="newsletters"):
        create_app()
    assert "make sure MAIL_SERVER signs it with a key for ledger.example.com" in caplog.text


def test_settings_are_read_from_dot_env_and_the_environment_wins(clean_env, monkeypatch):
    (clean_env / ".env").write_text(
        "APP_ENV=development\n"
        "SITE_URL=https://news.example.com\n"
        "SIGNUP_MIN_SECONDS=5\n"
        "EMBED_ALLOWED_ORIGINS=https://a.example, https://b.example\n"
        "EMAIL_CHECK_DELIVERABILITY=true\n"
        "SUPPORT_EMAIL=from-dotenv@example.com\n"
    )
    monkeypatch.setenv("SUPPORT_EMAIL", "from-env@example.com")
    app = create_app()
    assert app.config["SITE_URL"] == "https://news.example.com"
    assert app.config["SIGNUP_MIN_SECONDS"] == 5.0
    assert app.config["EMBED_ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert app.config["EMAIL_CHECK_DELIVERABILITY"] is True
    assert app.config["SUPPORT_EMAIL"] == "from-env@example.com"


def test_development_runs_on_embedded_defaults(clean_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "development")
    app = create_app()
    assert app.config["SECRET_KEY"] == INSECURE_SECRET_KEY
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/newsletters.db")
    assert app.config["SUPPORT_EMAIL"]  # a clearly-marked placeholder, never empty
    assert "dev" in app.blueprints


def test_postgres_urls_use_psycopg_3():
    assert database_uri("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_uri("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_development_marks_the_placeholder_support_address(clean_env, monkeypatch):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{clean_env / 'dev.db'}")
    with create_app().test_request_context():
        banner = render_template_string("{% include 'base.html' %}")
    assert "Set SUPPORT_EMAIL before going live" in banner
    monkeypatch.setenv("SUPPORT_EMAIL", "help@publisher.example")
    with create_app().test_request_context():
        assert "Set SUPPORT_EMAIL" not in render_template_string("{% include 'base.html' %}")


def test_the_counting_settings_are_off_by_default_and_documented():
    from newsletters.config import DEFAULTS

    assert DEFAULTS["TRACK_CLICKS"] is False and DEFAULTS["TRACK_OPENS"] is False
    docs = Path(__file__).resolve().parents[1] / "docs"
    for name in ("TRACK_CLICKS", "TRACK_OPENS", "MACHINE_OPEN_NETWORKS", "MACHINE_OPEN_SECONDS",
                 "COUNTING_RATE_LIMIT"):  # fmt: skip
        assert f"`{name}`" in (docs / "settings.md").read_text(), name
        assert f"`{name}`" in (docs / "privacy.md").read_text(), name
