"""One rule for every admin password: long enough, and hard to guess by zxcvbn's estimate."""

import pytest
from sqlalchemy import func, select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import AdminUser
from newsletters.services.console import admins, passwords
from tests.support.admin import PASSWORD, action_token, create_admin, sign_in

OWNER = "owner@publisher.example"


@pytest.mark.parametrize(
    ("password", "because"),
    [
        ("aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
        ("password1234", "This is a very common password."),
        ("Password123!", "This is similar to a commonly used password."),
        ("qwertyuiop12", "too easy to guess"),
        ("dailyledger2026", "too easy to guess"),  # the site's own name
        ("short", "at least 12 characters"),
        ("x" * 1001, "at most 1000 characters"),
    ],
)
def test_weak_passwords_are_refused_saying_why(app, password, because):
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        passwords.check_password_strength(password, OWNER)
    assert because in refused.value.message
    assert refused.value.field == "password"


def test_the_advice_says_what_would_do(app):
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        passwords.check_password_strength("aaaaaaaaaaaa", OWNER, field="new_password")
    assert "Four or more unrelated words" in refused.value.message
    assert refused.value.field == "new_password"


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD,
        "violet submarine orchestra lantern",
        "x7#Lq!9vR@2mWz",
        "é" * 4 + "ünïcødë pässwörd",
    ],
)
def test_strong_passwords_pass(app, password):
    with app.app_context():
        passwords.check_password_strength(password, OWNER)


def test_a_long_password_is_judged_without_failing(app):
    with app.app_context():
        passwords.check_password_strength("correct horse battery staple " * 30, OWNER)
        with pytest.raises(InvalidInput):
            passwords.check_password_strength("a" * 500, OWNER)


def test_creating_an_admin_with_a_weak_password_changes_nothing(app):
    with app.app_context():
        with pytest.raises(InvalidInput):
            admins.create_admin(OWNER, "aaaaaaaaaaaa", "owner")
        assert db.session.scalar(select(func.count()).select_from(AdminUser)) == 0


def test_every_way_to_set_a_password_uses_the_rule(app, client, runner):
    cli = runner.invoke(args=["admin", "create", OWNER], input="aaaaaaaaaaaa\naaaaaaaaaaaa\n")
    assert cli.exit_code == 1 and "too easy to guess" in cli.output

    sign_in(client, create_admin(app, OWNER))
    team = client.post(
        "/admin/team",
        data={
            "csrf_token": action_token(client, "/admin/team"),
            "email": "new@publisher.example",
            "role": "editor",
            "password": "aaaaaaaaaaaa",
        },
    )
    assert team.status_code == 400 and "too easy to guess" in team.get_data(as_text=True)

    change = client.post(
        "/admin/account/password",
        data={
            "csrf_token": action_token(client, "/admin/account"),
            "current_password": PASSWORD,
            "new_password": "aaaaaaaaaaaa",
            "repeat_password": "aaaaaaaaaaaa",
        },
    )
    assert change.status_code == 400 and "too easy to guess" in change.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdminUser)) == 1
        assert passwords.password_matches(
            db.session.scalar(select(AdminUser.password_hash)), PASSWORD
        )
