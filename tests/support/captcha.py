"""A CAPTCHA verifier for the tests: no network, the answer 'human' passes."""


def verify(form, remote_ip) -> bool:
    """Pass when the form says it was filled in by a person."""
    return form.get("captcha-answer") == "human"
