"""Webhook endpoints (owners): add one (the secret shown once), list, disable, enable, and
each endpoint's deliveries with a Replay button."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from newsletters.admin.blueprint import audited, bp, owner_only
from newsletters.admin.forms import ActionForm, ConsoleForm
from newsletters.admin.secret_pages import create_from_form, secret_page
from newsletters.errors import InvalidInput, NotFound
from newsletters.services.integrations import webhook_endpoints
from newsletters.services.integrations.webhook_events import EVENT_TYPES

DESCRIPTIONS = {
    "subscription.confirmed": "a reader confirmed newsletters",
    "subscription.unsubscribed": "a reader left newsletters",
    "subscriber.erased": "a reader was erased",
    "delivery.bounced": "mail to an address bounced",
    "delivery.complained": "a reader marked mail as spam",
    "issue.sent": "an issue finished sending",
}


class WebhookForm(ConsoleForm):
    """A new endpoint: where, which events, and a note for people."""

    url = StringField("Endpoint URL", validators=[InputRequired(), Length(max=2048)])
    events = SelectMultipleField(
        "Events",
        choices=[SelectChoice(e, f"{e} ({DESCRIPTIONS[e]})") for e in EVENT_TYPES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # the service names the valid events when one is wrong
    )
    description = StringField("Description", validators=[Optional(), Length(max=300)])


def _add(form: WebhookForm):
    return webhook_endpoints.add_endpoint(
        form.url.data, form.events.data or [], form.description.data, current_user.id
    )


@bp.route("/webhooks", methods=["GET", "POST"])
@owner_only
def webhooks_page():
    """Every endpoint with its state; add one and see its secret this once."""
    form, created, status = create_from_form(
        WebhookForm(),
        lambda posted: audited(
            "webhook.add",
            "webhook_endpoint",
            posted.url.data[:120],
            lambda: _add(posted),
            lambda c: {"url": c[0].url, "events": c[0].event_list},
        ),
        "url",
    )
    return secret_page(
        "admin/webhooks.html",
        status,
        form=form,
        endpoints=webhook_endpoints.all_endpoints(),
        created=created,
    )


@bp.get("/webhooks/<endpoint_id>")
@owner_only
def webhook_page(endpoint_id: str):
    """One endpoint: its settings and its latest deliveries, each with a Replay button."""
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    return render_template(
        "admin/webhook.html",
        endpoint=endpoint,
        deliveries=webhook_endpoints.deliveries_of(endpoint),
        action=ActionForm(),
    )


def _acted(endpoint_id: str, verb: str, apply):
    return audited(f"webhook.{verb}", "webhook_endpoint", endpoint_id[:120], apply)


@bp.post("/webhooks/<endpoint_id>/disable")
@owner_only
def disable_webhook(endpoint_id: str):
    """Stop sending to an endpoint; what waits for it is marked failed."""
    endpoint = _acted(endpoint_id, "disable", lambda: webhook_endpoints.disable(endpoint_id))
    flash(f"Disabled {endpoint.url}: nothing more is sent to it.")
    return redirect(url_for("admin.webhook_page", endpoint_id=endpoint.uuid))


@bp.post("/webhooks/<endpoint_id>/enable")
@owner_only
def enable_webhook(endpoint_id: str):
    """Send to a disabled endpoint again, from the next event on."""
    endpoint = _acted(endpoint_id, "enable", lambda: webhook_endpoints.enable(endpoint_id))
    flash(f"Enabled {endpoint.url}: new events go to it. Replay what it missed below.")
    return redirect(url_for("admin.webhook_page", endpoint_id=endpoint.uuid))


@bp.post("/webhooks/<endpoint_id>/deliveries/<delivery_id>/replay")
@owner_only
def replay_webhook_delivery(endpoint_id: str, delivery_id: str):
    """Send one delivery again, soon, with the same webhook-id."""
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    delivery = webhook_endpoints.delivery_of(endpoint, delivery_id)
    if delivery is None:
        raise NotFound("No such delivery for this webhook endpoint.")
    try:
        audited(
            "webhook.replay",
            "webhook_delivery",
            str(delivery.uuid),
            lambda: webhook_endpoints.replay(str(delivery.uuid)),
        )
    except InvalidInput as error:
        flash(error.message)
    else:
        flash(f"Queued {delivery.event.type} {delivery.event.msg_id} again (same webhook-id).")
    return redirect(url_for("admin.webhook_page", endpoint_id=endpoint.uuid))
