"""Pieces every part of the OpenAPI description uses: the error answers and JSON bodies."""

ERROR = {"$ref": "#/components/schemas/Error"}
REASONS = {
    400: "The request is malformed; nothing was changed.",
    401: "A valid token (or, for signups, publishable key) is required.",
    403: "The token lacks the scope this route needs, or the key was used off its origins.",
    404: "No such newsletter.",
    409: "The Idempotency-Key was used for a different request.",
    413: "The body is too large.",
    429: "Too many requests; wait and try again.",
    503: "The service cannot save just now; try again with the same Idempotency-Key.",
}


def json_body(schema: dict, description: str) -> dict:
    """A response (or request body) that is JSON of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int, **reasons: str) -> dict:
    """The error answers ``codes``, each in the one error shape; ``reasons`` (``e404=...``)
    say what a status means for this route when the general words do not fit."""
    return {str(code): json_body(ERROR, reasons.get(f"e{code}", REASONS[code])) for code in codes}
