"""A pluggable CAPTCHA on the signup forms: off unless ``CAPTCHA_PROVIDER`` is set.

``hcaptcha`` and ``turnstile`` are built in: the page shows the provider's
widget, and the server checks its answer with the provider's ``siteverify``
endpoint (``CAPTCHA_VERIFY_URL`` overrides it). Any other value names a
function, ``package.module:function``, that takes the form's answer and the
reader's IP address and returns whether they passed.

The JSON API carries the widget's answer in the field ``captcha``; a custom
function gets the request's JSON body in place of the form.
"""

import importlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from flask import current_app

from newsletters.errors import InvalidInput
from newsletters.locales import N_

log = logging.getLogger(__name__)

VERIFY_TIMEOUT_SECONDS = 5
REFUSED = N_("Please complete the check that shows you're not a robot, then sign up again.")
# Where an API request carries the widget's answer (a form uses the provider's own field).
API_ANSWER_FIELD = "captcha"


@dataclass(frozen=True)
class Provider:
    """What a CAPTCHA service needs on the page and on the server."""

    verify_url: str
    response_field: str
    script: str
    widget_class: str


PROVIDERS = {
    "hcaptcha": Provider(
        "https://api.hcaptcha.com/siteverify",
        "h-captcha-response",
        "https://js.hcaptcha.com/1/api.js",
        "h-captcha",
    ),
    "turnstile": Provider(
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        "cf-turnstile",
    ),
}


def provider() -> Provider | None:
    """The built-in provider in use, if any."""
    return PROVIDERS.get(current_app.config["CAPTCHA_PROVIDER"])


def enabled() -> bool:
    """Whether signups must pass a CAPTCHA."""
    return bool(current_app.config["CAPTCHA_PROVIDER"])


def check(form, remote_ip: str | None) -> None:
    """Raise :class:`InvalidInput` unless the CAPTCHA answer of a form or an API body passes."""
    name = current_app.config["CAPTCHA_PROVIDER"]
    if not name:
        return
    builtin = PROVIDERS.get(name)
    if builtin is not None:
        answer = form.get(builtin.response_field) or form.get(API_ANSWER_FIELD)
        passed = _siteverify(builtin, answer if isinstance(answer, str) else "", remote_ip)
    else:
        module, _, function = name.partition(":")
        passed = bool(getattr(importlib.import_module(module), function)(form, remote_ip))
    if not passed:
        raise InvalidInput(REFUSED, field="captcha")


def _siteverify(builtin: Provider, answer: str, remote_ip: str | None) -> bool:
    if not answer:
        return False
    config = current_app.config
    data = {"secret": config["CAPTCHA_SECRET_KEY"], "response": answer}
    if remote_ip:
        data["remoteip"] = remote_ip
    request = urllib.request.Request(
        config["CAPTCHA_VERIFY_URL"] or builtin.verify_url,
        data=urllib.parse.urlencode(data).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=VERIFY_TIMEOUT_SECONDS) as response:
            return bool(json.loads(response.read()).get("success"))
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        # A provider outage must not let bots through; the reader is told to retry.
        log.warning("the CAPTCHA provider could not be asked: %r", exc)
        return False
