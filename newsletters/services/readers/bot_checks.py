"""Does a signup pass the bot checks? One answer for the signup form, the box and the API.

- **The CAPTCHA**, when one is configured (``readers/captcha``). A refused answer
  is :class:`InvalidInput`: a person is told, and tries again.
- **The honeypot**, a field people never see (``website``) that bots fill in.
- **The fill time**: a form posted sooner than ``SIGNUP_MIN_SECONDS`` after it
  was shown (only forms we drew ourselves know when that was).

A filled honeypot or a form filled too fast gets the usual answer, so a bot
learns nothing, but nothing is stored and no mail is sent.
"""

import time
from collections.abc import Mapping

from flask import current_app

from newsletters.services.readers import captcha

HONEYPOT_FIELD = "website"


def looks_automated(answers: Mapping, shown_at: float | None = None) -> bool:
    """A filled honeypot, or a form posted faster than a person can fill it in."""
    honeypot = answers.get(HONEYPOT_FIELD)
    if honeypot is not None and str(honeypot).strip():
        return True
    if shown_at is None:
        return False
    return time.time() - shown_at < current_app.config["SIGNUP_MIN_SECONDS"]


def screen(answers: Mapping, remote_ip: str | None, *, shown_at: float | None = None) -> bool:
    """Check a signup: :class:`InvalidInput` when the CAPTCHA refuses it, else whether it
    looks automated (answered as usual, but not stored).

    ``answers`` is the posted form or the API request's JSON body; ``shown_at`` is when
    our own form was drawn, from its signed token.
    """
    captcha.check(answers, remote_ip)
    return looks_automated(answers, shown_at)
