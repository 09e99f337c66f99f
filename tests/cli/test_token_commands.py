"""flask admin token and token-revoke: scopes, publishable keys, revocation."""

from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import ApiToken, AuditLog

PUBLISHER = "https://www.publisher.example"


def _tokens(app) -> list[tuple[str, str, str, bool]]:
    with app.app_context():
        return [
            (t.name, t.kind.value, t.scopes or t.origins, t.revoked_at is not None)
            for t in db.session.scalars(select(ApiToken).order_by(ApiToken.id))
        ]


def test_a_token_gets_the_scopes_asked_for_and_stories_write_by_default(app, runner):
    plain = runner.invoke(args=["admin", "token", "cms"])
    assert plain.exit_code == 0, plain.output
    assert plain.output.strip().splitlines()[-1].startswith("nl_")
    scoped = runner.invoke(
        args=["admin", "token", "crm", "--scopes", "stories:write, subscribers:read"]
    )
    assert scoped.exit_code == 0, scoped.output
    assert "stories:write, subscribers:read" in scoped.output
    assert _tokens(app) == [
        ("cms", "secret", "stories:write", False),
        ("crm", "secret", "stories:write subscribers:read", False),
    ]


def test_an_unknown_scope_is_a_usage_error_naming_the_valid_ones(app, runner):
    result = runner.invoke(args=["admin", "token", "cms", "--scopes", "stories:write,admin"])
    assert result.exit_code == 2
    assert "Unknown scope: admin" in result.output
    for scope in ("stories:write", "subscribers:read", "subscribers:write", "webhooks:write"):
        assert scope in result.output
    assert _tokens(app) == []


def test_a_name_in_use_by_a_live_token_is_refused(app, runner):
    assert runner.invoke(args=["admin", "token", "cms"]).exit_code == 0
    again = runner.invoke(args=["admin", "token", "cms"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(args=["admin", "token-revoke", "cms"]).exit_code == 0
    assert runner.invoke(args=["admin", "token", "cms"]).exit_code == 0  # the name is free again


def test_token_revoke_revokes_and_says_so(app, runner):
    runner.invoke(args=["admin", "token", "cms"])
    runner.invoke(args=["admin", "token", "other"])
    result = runner.invoke(args=["admin", "token-revoke", "cms"])
    assert result.exit_code == 0 and "Revoked API token 'cms'" in result.output
    assert [(name, revoked) for name, _, _, revoked in _tokens(app)] == [
        ("cms", True),
        ("other", False),
    ]
    again = runner.invoke(args=["admin", "token-revoke", "cms"])
    assert again.exit_code == 0 and "already revoked" in again.output
    with app.app_context():
        entries = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        logged = [(e.action, e.admin_email, e.target, len(e.detail["prefixes"])) for e in entries]
    assert logged == [
        ("api_token.revoke", "command line", "cms", 1),
        ("api_token.revoke", "command line", "cms", 0),
    ]


def test_token_revoke_of_an_unknown_name_fails_clearly(app, runner):
    result = runner.invoke(args=["admin", "token-revoke", "nobody"])
    assert result.exit_code == 1
    assert "No API token is named 'nobody'" in result.output


def test_a_publishable_key_is_bound_to_its_origins(app, runner):
    result = runner.invoke(
        args=["admin", "token", "pages", "--publishable", "--origin", PUBLISHER + "/"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("pk_")
    assert "EMBED_ALLOWED_ORIGINS" in result.output  # the origin is not allowed there yet
    assert _tokens(app) == [("pages", "publishable", PUBLISHER, False)]


def test_publishable_key_options_are_checked(app, runner):
    cases = [
        (["--publishable"], 2, "needs at least one --origin"),
        (["--origin", PUBLISHER], 2, "add --publishable"),
        (["--publishable", "--origin", PUBLISHER, "--scopes", "stories:write"], 2, "no scopes"),
        (["--publishable", "--origin", "www.publisher.example/path"], 1, "is not an origin"),
    ]
    for args, code, message in cases:
        result = runner.invoke(args=["admin", "token", "pages", *args])
        assert (result.exit_code, message in result.output) == (code, True), result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
