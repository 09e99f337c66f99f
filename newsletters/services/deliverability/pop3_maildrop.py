"""The bounce maildrop over POP3, which has no folders: read mail is deleted, the rest stays.

A message whose report was stored is marked for deletion (DELE); POP3 deletes
marked messages only when the session ends with QUIT, and a poll sends QUIT
only after every message it read was committed. A poll cut off halfway
therefore deletes nothing, and the next one finds each report already stored.
Mail that was not understood is never deleted: it stays on the server.
"""

import contextlib
import poplib

from newsletters.services.deliverability.mailbox_address import (
    PROCESSED,
    TIMEOUT_SECONDS,
    LoginRefused,
    MailboxAddress,
    tls_context,
)

# poplib refuses lines over 2048 bytes; mail in the wild has longer ones.
MAX_LINE_BYTES = 1_000_000


class _LongLines:
    """poplib's line reader, with room for the long lines real mail carries."""

    def _getline(self):
        line = self.file.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        if line[-2:] == b"\r\n":
            return line[:-2], len(line)
        if line[:1] == b"\r":
            return line[1:-1], len(line)
        return line[:-1], len(line)


class _POP3(_LongLines, poplib.POP3):
    pass


class _POP3TLS(_LongLines, poplib.POP3_SSL):
    pass


def _lines_to_bytes(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


class Pop3Maildrop:
    """One POP3 session on the maildrop named in ``BOUNCE_MAILBOX_URL``."""

    def __init__(self, address: MailboxAddress) -> None:
        self.address = address
        self.pop: poplib.POP3 | None = None

    def open(self) -> None:
        """Connect and sign in."""
        address = self.address
        if address.tls:
            self.pop = _POP3TLS(
                address.host, address.port, context=tls_context(), timeout=TIMEOUT_SECONDS
            )
        else:
            self.pop = _POP3(address.host, address.port, timeout=TIMEOUT_SECONDS)
        try:
            self.pop.user(address.user)
            self.pop.pass_(address.password)
        except poplib.error_proto as error:
            raise LoginRefused(str(error)) from None

    def candidates(self) -> list[tuple[str, int]]:
        """(message number, size in bytes) of every message in the maildrop."""
        _, listing, _ = self.pop.list()
        found = []
        for line in listing:
            number, _, size = line.decode().partition(" ")
            found.append((number, int(size)))
        return found

    def fetch(self, number: str) -> bytes | None:
        """The whole message."""
        return _lines_to_bytes(self.pop.retr(int(number))[1])

    def fetch_headers(self, number: str) -> bytes | None:
        """Only the header of the message."""
        return _lines_to_bytes(self.pop.top(int(number), 0)[1])

    def file(self, number: str, destination: str) -> None:
        """Mark processed mail for deletion at QUIT; leave anything else on the server."""
        if destination == PROCESSED:
            self.pop.dele(int(number))

    def close(self, finished: bool) -> None:
        """QUIT, which deletes the marked mail, only when the whole poll was committed."""
        pop, self.pop = self.pop, None
        if pop is None:
            return
        try:
            if finished:
                pop.quit()
        finally:
            with contextlib.suppress(OSError):
                pop.close()  # without QUIT the server forgets every DELE of this session
