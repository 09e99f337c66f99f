"""Rate limits shared by the pages and the API: per IP, and per address typed in."""

from flask import current_app, request

from newsletters.extensions import limiter
from newsletters.services.core.addresses import MAX_ADDRESS_LENGTH


def _per_ip() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def _per_address() -> str:
    return current_app.config["SIGNUP_ADDRESS_RATE_LIMIT"]


def address_key() -> str:
    """Key the per-address limit on the address in the form or JSON body."""
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    email = (email if isinstance(email, str) else "").strip().lower()[: MAX_ADDRESS_LENGTH + 1]
    return f"address:{email}" if email else f"ip:{request.remote_addr}"


limit_per_ip = limiter.limit(_per_ip, methods=["POST"])
limit_per_address = limiter.limit(_per_address, key_func=address_key, methods=["POST"])
