"""Where the bounce mailbox is: ``BOUNCE_MAILBOX_URL``, read once, and shown without its password.

``imap://``, ``imaps://``, ``pop3://`` or ``pop3s://user:password@host:port/FOLDER``.
The user and password are percent-decoded (``p%40ss`` is ``p@ss``); the port
defaults to 143, 993, 110 or 995; the folder to ``INBOX``. POP3 has only the
one maildrop, so a POP3 URL names no folder.
"""

import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SETTING = "BOUNCE_MAILBOX_URL"
SCHEMES = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
PROCESSED = "Processed"  # the IMAP folder for mail that was read and acted on (or ignored)
UNRECOGNISED = "Unrecognised"  # the IMAP folder for mail left for a person to read
TIMEOUT_SECONDS = 30.0


class MailboxSettingInvalid(ValueError):
    """``BOUNCE_MAILBOX_URL`` cannot be used as it is; the message never shows the password."""


class MailboxUnavailable(RuntimeError):
    """The mailbox could not be reached, refused the login, or went away during the poll.

    ``report`` is what the poll did before that (its commits stand), when it got that far.
    """

    def __init__(self, message: str, report=None) -> None:
        super().__init__(message)
        self.report = report


class LoginRefused(RuntimeError):
    """The server answered, and said no to the user and password."""


@dataclass(frozen=True)
class MailboxAddress:
    """A parsed ``BOUNCE_MAILBOX_URL``. ``str()`` of it never shows the password."""

    scheme: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"

    @property
    def protocol(self) -> str:
        """``imap`` or ``pop3``."""
        return self.scheme.removesuffix("s")

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS from its first byte (imaps, pop3s)."""
        return self.scheme in ("imaps", "pop3s")

    def __str__(self) -> str:
        folder = f"/{self.folder}" if self.protocol == "imap" else ""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}{folder}"


def masked(url: str) -> str:
    """The URL as it may be printed: the password replaced by ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "(not a URL)" if "@" in url or ":" in url else url
    userinfo, at, location = rest.rpartition("@")
    if not at:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{location}" if ":" in userinfo else url


def _invalid(url: str, why: str) -> MailboxSettingInvalid:
    return MailboxSettingInvalid(f"{SETTING} is not valid ({masked(url)}): {why}.")


def _port(url: str, parts) -> int:
    try:
        port = parts.port
    except ValueError:
        raise _invalid(url, "the port must be a number from 1 to 65535") from None
    if port == 0:
        raise _invalid(url, "the port must be a number from 1 to 65535")
    return port or SCHEMES[parts.scheme.lower()]


def _folder(url: str, scheme: str, path: str) -> str:
    folder = unquote(path.lstrip("/")).strip() or "INBOX"
    if scheme.startswith("pop3") and folder != "INBOX":
        raise _invalid(url, "POP3 has no folders; leave the path empty or use imap://")
    if not folder.isascii() or not folder.isprintable():
        raise _invalid(url, "the folder name must be plain ASCII")
    if folder in (PROCESSED, UNRECOGNISED):
        raise _invalid(url, f"the folder to read cannot be {folder}, where read mail is filed")
    return folder


def parse_mailbox_url(url: str) -> MailboxAddress:
    """Read ``BOUNCE_MAILBOX_URL``; a clear :class:`MailboxSettingInvalid` when it is unusable."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid(url, "it is not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise _invalid(url, "it must start with imap://, imaps://, pop3:// or pop3s://")
    if parts.query or parts.fragment:
        raise _invalid(url, "it has a ? or # part; percent-encode those characters in a password")
    if not parts.hostname:
        raise _invalid(url, "it names no host")
    if not parts.username or parts.password is None:
        raise _invalid(url, "it needs user:password@ before the host")
    return MailboxAddress(
        scheme=scheme,
        host=parts.hostname,
        port=_port(url, parts),
        user=unquote(parts.username),
        password=unquote(parts.password),
        folder=_folder(url, scheme, parts.path),
    )


def tls_context() -> ssl.SSLContext:
    """A client context that checks the server's certificate and name, like a browser does."""
    return ssl.create_default_context()


def without_password(text: str, address: MailboxAddress) -> str:
    """An error text safe to print, in case a server or library repeated the password."""
    return text.replace(address.password, "***") if address.password else text
