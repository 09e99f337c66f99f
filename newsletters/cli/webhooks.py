"""flask webhooks: signed outgoing webhooks (add, list, disable, enable, replay, deliver, prune).

``ID`` is an endpoint's id as ``flask webhooks list`` prints it. Changes are written
to the audit log as done from the command line.
"""

import click
from flask.cli import AppGroup

from newsletters.errors import InvalidInput, NotFound
from newsletters.services.console import audit
from newsletters.services.integrations import webhook_dispatch, webhook_endpoints
from newsletters.services.integrations.webhook_events import EVENT_TYPES

webhooks_cli = AppGroup("webhooks", help="Signed outgoing webhooks: endpoints and deliveries.")
COMMAND_LINE = audit.Actor(None, "command line")


def _described(created) -> dict:
    endpoint, _ = created
    return {"url": endpoint.url, "events": endpoint.event_list}


@webhooks_cli.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help=f"Comma-separated event types: {', '.join(EVENT_TYPES)}.",
)
@click.option("--description", default="", help="What receives these events, for people.")
def add(url, events, description):
    """Add an endpoint; its signing secret (whsec_...) is printed once, alone on the last line."""
    try:
        endpoint, secret = audit.audited(
            COMMAND_LINE,
            "webhook.add",
            "webhook_endpoint",
            url[:120],
            lambda: webhook_endpoints.add_endpoint(url, events.split(","), description),
            _described,
        )
    except InvalidInput as error:
        raise click.UsageError(error.message) from None
    click.echo(f"Added webhook endpoint {endpoint.uuid} for {', '.join(endpoint.event_list)}.")
    click.echo("Its signing secret, shown only now (keep it with the receiver):")
    click.echo(secret)


@webhooks_cli.command("list")
def list_endpoints():
    """Every endpoint: id, state, events and URL."""
    endpoints = webhook_endpoints.all_endpoints()
    if not endpoints:
        click.echo("No webhook endpoints. Add one with: flask webhooks add URL --events ...")
    for e in endpoints:
        state = "enabled" if e.enabled else f"disabled ({e.disabled_reason})"
        failing = f", failing since {e.failing_since:%Y-%m-%d %H:%M} UTC" if e.failing_since else ""
        click.echo(f"{e.uuid}  {state}{failing}  {','.join(e.event_list)}  {e.url}")


def _change(action: str, public_id: str, apply):
    try:
        return audit.audited(COMMAND_LINE, action, "webhook_endpoint", public_id, apply)
    except NotFound as error:
        raise click.UsageError(error.message) from None


@webhooks_cli.command("disable")
@click.argument("endpoint_id")
def disable(endpoint_id):
    """Stop sending to an endpoint; what waits for it is marked failed."""
    endpoint = _change(
        "webhook.disable", endpoint_id, lambda: webhook_endpoints.disable(endpoint_id)
    )
    click.echo(f"Disabled {endpoint.uuid} ({endpoint.url}).")


@webhooks_cli.command("enable")
@click.argument("endpoint_id")
def enable(endpoint_id):
    """Send to a disabled endpoint again, from the next event on."""
    endpoint = _change("webhook.enable", endpoint_id, lambda: webhook_endpoints.enable(endpoint_id))
    click.echo(f"Enabled {endpoint.uuid} ({endpoint.url}).")


@webhooks_cli.command("replay")
@click.argument("delivery_id")
def replay(delivery_id):
    """Send a delivery (or an event, msg_...) again soon, with the same webhook-id."""
    try:
        delivery = audit.audited(
            COMMAND_LINE,
            "webhook.replay",
            "webhook_delivery",
            delivery_id,
            lambda: webhook_endpoints.replay(delivery_id),
        )
    except (InvalidInput, NotFound) as error:
        raise click.UsageError(error.message) from None
    click.echo(
        f"Queued {delivery.event.type} {delivery.event.msg_id} again; "
        "the next `flask webhooks deliver` sends it."
    )


@webhooks_cli.command("deliver")
@click.option("--quiet", is_flag=True, help="Print only when something was sent or pruned.")
def deliver(quiet):
    """One dispatch pass: send every due delivery, then prune old events (cron: every minute)."""
    report = webhook_dispatch.dispatch()
    if not quiet or report.delivered or report.retrying or report.failed or report.pruned:
        click.echo(report.summary())


@webhooks_cli.command("prune")
def prune():
    """Delete finished events older than WEBHOOK_RETENTION_DAYS."""
    click.echo(f"pruned {webhook_dispatch.prune()} events")
