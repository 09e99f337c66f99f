"""Credentials for the JSON API: secret bearer tokens with scopes, and publishable keys."""

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletters.extensions import db
from newsletters.models.types import UTCDateTime, enum_column_type, utcnow


class ApiTokenKind(enum.StrEnum):
    """What a credential is for."""

    # A bearer token for servers: it may do what its scopes allow, from anywhere.
    SECRET = "secret"
    # A key that sits in a publisher's page: it may only sign readers up, from its origins.
    PUBLISHABLE = "publishable"


class ApiToken(db.Model):
    """A named credential; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so an admin can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    kind: Mapped[ApiTokenKind] = mapped_column(
        enum_column_type(ApiTokenKind), default=ApiTokenKind.SECRET
    )
    # Space-separated, e.g. "stories:write subscribers:read"; empty for a publishable key.
    scopes: Mapped[str] = mapped_column(String(200), default="")
    # Space-separated origins a publishable key may be used from; empty for a secret token.
    origins: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_list(self) -> list[str]:
        """The scopes, in the order they were granted."""
        return self.scopes.split()

    @property
    def origin_list(self) -> list[str]:
        """The origins a publishable key may be used from."""
        return self.origins.split()

    def __repr__(self) -> str:
        return f"<ApiToken {self.name} {self.prefix}>"
