"""Who may call what: one table of every route of the API and the credential it needs.

A route added to the API without a row here fails the first test; a row is all a new
route needs for every credential below to be tried against it.
"""

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from newsletters.extensions import db, limiter
from newsletters.models import WebhookDelivery
from newsletters.services.integrations import webhook_endpoints, webhook_events
from tests.support.api_records import PREFIX, WEEKLY, api_routes, make_token, seed
from tests.support.readers import add_active_readers

PUBLIC = "public"  # anyone, whatever they send
SIGNUP = (
    "signup"  # a publishable key from its origin, or subscribers:write (none: outside production)
)
ANY_TOKEN = "any token"  # any live secret token, whatever its scopes
SCOPES = ("stories:write", "subscribers:read", "subscribers:write", "webhooks:write")
ORIGIN = "https://www.publisher.example"


@dataclass(frozen=True)
class Route:
    """One (method, path) of the API, what it needs, and a request it would accept."""

    method: str
    path: str
    needs: str  # PUBLIC, SIGNUP, ANY_TOKEN or a scope
    body: dict | None = None  # "{n}" in a value becomes a number unique to the request


ROUTES = [
    Route("GET", "/openapi.json", PUBLIC),
    Route("GET", "/newsletters", PUBLIC),
    Route(
        "POST", "/subscriptions", SIGNUP, {"email": "new-{n}@example.com", "newsletters": [WEEKLY]}
    ),
    Route(
        "POST",
        "/stories",
        "stories:write",
        {"newsletter": WEEKLY, "title": "A story", "url": "https://news.example.com/{n}"},
    ),
    Route("GET", "/issues", ANY_TOKEN),
    Route("GET", "/subscribers/{email}", "subscribers:read"),
    Route("PATCH", "/subscribers/{email}", "subscribers:write", {"newsletters": [WEEKLY]}),
    Route("DELETE", "/subscribers/{email}", "subscribers:write"),
    Route("GET", "/webhooks", "webhooks:write"),
    Route(
        "POST",
        "/webhooks",
        "webhooks:write",
        {"url": "http://127.0.0.1:9/hooks/{n}", "events": ["issue.sent"]},
    ),
    Route("GET", "/webhooks/{endpoint_id}", "webhooks:write"),
    Route("DELETE", "/webhooks/{endpoint_id}", "webhooks:write"),
    Route("POST", "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", "webhooks:write"),
]


@dataclass(frozen=True)
class Credential:
    """What a caller sends."""

    name: str
    kind: str  # none, malformed, revoked, publishable, token
    scopes: tuple[str, ...] = ()
    header: str = ""
    extra: dict = field(default_factory=dict)


def expected(needs: str, credential: Credential) -> int | None:
    """The refusal (401 or 403) this credential gets on a route that needs ``needs``;
    None when it is allowed."""
    if needs == PUBLIC:
        return None
    if needs == SIGNUP and credential.kind in ("none", "publishable"):
        return None
    if credential.kind != "token":
        return 401
    if needs == ANY_TOKEN:
        return None
    scope = "subscribers:write" if needs == SIGNUP else needs
    return None if scope in credential.scopes else 403


def _fill(value, n: int):
    if isinstance(value, str):
        return value.replace("{n}", str(n))
    if isinstance(value, list):
        return [_fill(v, n) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, n) for k, v in value.items()}
    return value


def _credentials(app, runner) -> list[Credential]:
    everything = make_token(runner, "revoked", ",".join(SCOPES))
    assert runner.invoke(args=["admin", "token-revoke", "revoked"]).exit_code == 0
    made = runner.invoke(
        args=["admin", "token", "page", "--publishable", "--origin", ORIGIN]
    ).output.split()[-1]
    found = [
        Credential("no token", "none"),
        Credential("empty bearer", "malformed", header="Bearer "),
        Credential("basic auth", "malformed", header="Basic dXNlcjpwYXNz"),
        Credential("made-up token", "malformed", header="Bearer nl_made-up"),
        Credential("revoked token", "revoked", header=f"Bearer {everything}"),
        Credential("publishable key as a bearer", "malformed", header=f"Bearer {made}"),
        Credential("publishable key", "publishable", extra={"X-Publishable-Key": made}),
        Credential(
            "all scopes", "token", SCOPES, f"Bearer {make_token(runner, 'all', ','.join(SCOPES))}"
        ),
    ]
    for scope in SCOPES:
        secret = make_token(runner, f"only {scope}", scope)
        found.append(Credential(f"only {scope}", "token", (scope,), f"Bearer {secret}"))
    return found


@pytest.fixture
def settings(settings):
    settings["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True  # the webhook routes' endpoint is local
    return settings


@pytest.fixture
def webhook(app) -> dict[str, str]:
    """An endpoint with one delivery waiting, for the routes that name them."""
    with app.app_context():
        endpoint, _ = webhook_endpoints.add_endpoint("http://127.0.0.1:9/hooks", ["issue.sent"])
        event = webhook_events.emit("issue.sent", {"issue": "test"})
        delivery = db.session.scalar(select(WebhookDelivery).filter_by(event_id=event.id))
        db.session.commit()
        return {"endpoint_id": str(endpoint.uuid), "delivery_id": str(delivery.uuid)}


@pytest.fixture
def credentials(app, runner):
    seed(app)
    limiter.enabled = False  # dozens of signups from one address are the point here
    yield _credentials(app, runner)
    limiter.enabled = True


def test_the_table_has_every_route_of_the_api(app):
    table = {(r.path, r.method.lower()) for r in ROUTES}
    routes = {(path, method) for path, methods in api_routes(app).items() for method in methods}
    assert routes - table == set(), "routes the scope table lacks"
    assert table - routes == set(), "rows for routes that do not exist"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_credential_is_refused_or_allowed_as_the_table_says(
    app, client, credentials, webhook, route
):
    wrong = []
    for n, credential in enumerate(credentials):
        email = f"target-{n}@example.com"
        add_active_readers(app, {email: [WEEKLY]})
        headers = {"Origin": ORIGIN, **credential.extra}
        if credential.header:
            headers["Authorization"] = credential.header
        answer = client.open(
            PREFIX + route.path.format(email=email, **webhook),
            method=route.method,
            headers=headers,
            json=_fill(route.body, n),
        )
        refusal = expected(route.needs, credential)
        if refusal is None and not 200 <= answer.status_code < 300:
            wrong.append(f"{credential.name}: {answer.status_code}, expected it allowed")
        elif refusal is not None:
            error = (answer.get_json(silent=True) or {}).get("error", {})
            code = {401: "unauthorized", 403: "forbidden"}[refusal]
            if (
                answer.status_code != refusal
                or error.get("code") != code
                or not error.get("message")
            ):
                wrong.append(f"{credential.name}: {answer.status_code} {error}, expected {refusal}")
            elif refusal == 401 and "Bearer" not in answer.headers.get("WWW-Authenticate", ""):
                wrong.append(f"{credential.name}: 401 without WWW-Authenticate")
    assert not wrong, "\n".join(wrong)
