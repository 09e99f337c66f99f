"""Console pages that make something with a secret and show the secret once: API tokens
and keys, webhook endpoints. One flow, so both refuse, reset and keep out of caches alike."""

from collections.abc import Callable

from flask import make_response, render_template

from newsletters.admin.forms import ActionForm, ConsoleForm, show_refusal
from newsletters.errors import InvalidInput


def create_from_form(
    form: ConsoleForm, create: Callable[[ConsoleForm], object], default_field: str
):
    """Run ``create(form)`` (an audited service call) for a valid posted form.

    Returns (the form to show, what was created or None, the status): after a success
    the form comes back empty; a refusal by the service stands beside the field it
    names (else ``default_field``), and it and an invalid form answer 400.
    """
    if form.validate_on_submit():
        try:
            created = create(form)
        except InvalidInput as error:
            show_refusal(form, error, default_field)
            return form, None, 400
        return type(form)(formdata=None), created, 200
    return form, None, 400 if form.is_submitted() else 200


def secret_page(template: str, status: int, **context):
    """The page, never kept by a cache: it may hold a secret shown this once."""
    response = make_response(render_template(template, action=ActionForm(), **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response
