"""The domain's errors. Views turn them into pages or JSON; nothing else does.

Messages a reader may see are marked with ``N_`` and shown in the reader's language.
A message with named values (``%(name)s``) takes them as keywords: it reads as English
in the console and the CLI, and a reader sees it translated with the values put in
after translation (:class:`newsletters.locales.Message`).
"""

from newsletters.locales import N_, Message


class NewsletterError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400
    code = "error"
    message = N_("Something about this request is not right.")

    def __init__(self, message: str | None = None, **values: object) -> None:
        text = message or self.message
        if values:
            text = Message(text, **values)
        super().__init__(text)
        self.message = text


class InvalidInput(NewsletterError):
    """The reader sent something we cannot accept; nothing was changed."""

    code = "invalid_input"

    def __init__(
        self, message: str | None = None, field: str | None = None, **values: object
    ) -> None:
        super().__init__(message, **values)
        self.field = field


class InvalidEmail(InvalidInput):
    """The address is not one we can send to."""

    code = "invalid_email"
    message = N_("Please enter a valid email address, like name@example.com.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="email")


class UnknownNewsletter(InvalidInput):
    """A newsletter slug that does not exist or is not open for signup."""

    code = "unknown_newsletter"
    message = N_("One of the newsletters you picked is no longer available. Reload and try again.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="newsletters")


class NoNewsletterChosen(InvalidInput):
    """A signup that ticked nothing."""

    code = "no_newsletter"
    message = N_("Choose at least one newsletter.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, field="newsletters")


class FormExpired(InvalidInput):
    """The signed form token is missing, forged or too old."""

    code = "form_expired"
    message = N_("This form has expired. Reload the page and try again.")


class InvalidToken(NewsletterError):
    """A link token that is forged, tampered with, for another purpose, or dead."""

    code = "invalid_token"
    message = N_("This link is not valid. It may have been mistyped or already replaced.")


class ExpiredToken(InvalidToken):
    """A genuine link that is too old to use."""

    code = "expired_token"
    message = N_("This link has expired.")


class NotFound(NewsletterError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"
    message = N_("We couldn't find that.")


class Unauthorized(NewsletterError):
    """A request that needs credentials came without valid ones."""

    status = 401
    code = "unauthorized"
    message = "A valid API token is required: send 'Authorization: Bearer <token>'."


class Forbidden(NewsletterError):
    """Valid credentials that do not allow this request (a missing scope, a foreign origin)."""

    status = 403
    code = "forbidden"
    message = "This API token may not do that."


class IdempotencyConflict(NewsletterError):
    """An Idempotency-Key reused for a different request."""

    status = 409
    code = "idempotency_conflict"
    message = "That Idempotency-Key was already used for a different request."


class IssueStateConflict(NewsletterError):
    """An issue that is not in a state for this: editing one that is sending, pausing a draft."""

    status = 409
    code = "issue_state"
    message = "This issue has started sending; it can no longer be edited."


class ConsentNeeded(NewsletterError):
    """A change only the reader's own click may make: confirming an address, or coming back
    to a newsletter they left. The API and the console may remove, never add these."""

    status = 409
    code = "consent_needed"
    message = "Only the reader can do that, by following a link we email them."
