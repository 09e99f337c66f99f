"""A CAPTCHA verifier for the tests: no network, the answer 'human' passes."""


def verify(form, remote_ip) -> bool:
    """Pass when the form (or an API body, in ``captcha``) says it was filled in by a person."""
    return "human" in (form.get("captcha-answer"), form.get("captcha"))
