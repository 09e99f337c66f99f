"""Settings come from defaults, .env and the environment; production refuses unsafe ones."""

import pytest
from flask import render_template_string

from newsletters import create_app
from newsletters.config import INSECURE_SECRET_KEY, database_uri


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("APP_ENV", "SECRET_KEY", "SUPPORT_EMAIL", "DATABASE_URL", "SITE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_production_refuses_the_default_secret_key(clean_env, monkeypatch):
    monkeypatch.setenv("SUPPORT_EMAIL", "help@example.com")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_a_missing_support_address(clean_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    with pytest.raises(RuntimeError, match="SUPPORT_EMAIL"):
        create_app()


def test_production_starts_with_its_settings_from_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("SUPPORT_EMAIL", "help@example.com")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{clean_env / 'prod.db'}")
    app = create_app()
    assert app.config["IS_PRODUCTION"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "dev" not in app.blueprints  # no development mailbox in production


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
