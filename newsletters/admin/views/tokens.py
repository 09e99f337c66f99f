"""API tokens and publishable keys (owners): list, create (the secret shown once), revoke."""

from flask import flash, redirect, url_for
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from newsletters.admin.blueprint import audited, bp, owner_only
from newsletters.admin.forms import ConsoleForm
from newsletters.admin.secret_pages import create_from_form, secret_page
from newsletters.http import MAX_ROW_ID
from newsletters.services.console import api_tokens

SECRET, PUBLISHABLE = "secret", "publishable"


class TokenForm(ConsoleForm):
    """A new secret token with its scopes, or a publishable key with its origins."""

    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(SECRET, "Secret token, for a server"),
            SelectChoice(PUBLISHABLE, "Publishable key, for signups from web pages"),
        ],
    )
    scopes = SelectMultipleField(
        "Scopes (secret token)",
        choices=[SelectChoice(scope, scope) for scope in api_tokens.SCOPES],
        default=list(api_tokens.DEFAULT_SCOPES),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # the service names the valid scopes when one is wrong
    )
    origins = StringField(
        "Origins (publishable key), separated by spaces",
        validators=[Optional(), Length(max=2000)],
    )


def _create(form: TokenForm):
    if form.kind.data == PUBLISHABLE:
        return api_tokens.create_publishable_key(form.name.data, form.origins.data.split())
    return api_tokens.create_token(form.name.data, form.scopes.data or [])


def _described(created) -> dict:
    token, _ = created
    return {"kind": token.kind.value, "scopes": token.scope_list, "origins": token.origin_list}


@bp.route("/tokens", methods=["GET", "POST"])
@owner_only
def api_tokens_page():
    """Every token and key; create one, and see its secret this once."""
    form, created, status = create_from_form(
        TokenForm(),
        lambda posted: audited(
            "api_token.create", "api_token", posted.name.data, lambda: _create(posted), _described
        ),
        "name",
    )
    return secret_page(
        "admin/tokens.html", status, form=form, tokens=api_tokens.all_tokens(), created=created
    )


@bp.post(f"/tokens/<int(max={MAX_ROW_ID}):token_id>/revoke")
@owner_only
def revoke_api_token(token_id: int):
    """Revoke a token or key: every request with it is refused from now on."""
    token = audited(
        "api_token.revoke",
        "api_token",
        str(token_id),
        lambda: api_tokens.revoke(token_id),
        detail=lambda t: {"name": t.name, "prefix": t.prefix},
    )
    flash(f"Revoked “{token.name}”: requests with it are refused from now on.")
    return redirect(url_for("admin.api_tokens_page"))
