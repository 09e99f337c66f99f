"""The bounce folder over IMAP: messages read by UID without marking them seen, filed by moving.

A message is filed only after what it said was committed, so a poll cut off in
between leaves it where it was, and the next poll, finding its report already
stored, just files it. Filing is ``UID MOVE`` when the server offers MOVE;
otherwise ``UID COPY``, then the original is flagged ``\\Deleted`` and, with
UIDPLUS, ``UID EXPUNGE`` removes that one message and nothing else. Without
UIDPLUS the flagged original stays for the mail client to expunge: a plain
EXPUNGE would also remove mail that someone else flagged. Mail flagged
``\\Deleted`` is never read.
"""

import imaplib
import re

from newsletters.services.deliverability.mailbox_address import (
    PROCESSED,
    TIMEOUT_SECONDS,
    UNRECOGNISED,
    LoginRefused,
    MailboxAddress,
    tls_context,
)

LISTING = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|FLAGS \(([^)]*)\)")
NAMESPACE = re.compile(r'^\(\("([^"]*)" (?:"[^"]*"|NIL)')
# The answer of a server asked to file a message that is no longer there (RFC 5530).
GONE = ("[EXPUNGEISSUED]", "[NONEXISTENT]")


class FilingFailed(RuntimeError):
    """The server would not move this one message; it stays where it was for the next poll."""


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: list) -> str:
    return b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")


def _checked(answer: tuple, doing: str) -> list:
    typ, data = answer
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{doing}: {_text(data) or typ}")
    return data


class ImapFolder:
    """One IMAP session on the folder named in ``BOUNCE_MAILBOX_URL``."""

    def __init__(self, address: MailboxAddress) -> None:
        self.address = address
        self.imap: imaplib.IMAP4 | None = None
        self.capabilities: set[str] = set()
        self.folders = {PROCESSED: PROCESSED, UNRECOGNISED: UNRECOGNISED}

    def open(self) -> None:
        """Connect, sign in, make sure Processed and Unrecognised exist, select the folder."""
        address = self.address
        if address.tls:
            self.imap = imaplib.IMAP4_SSL(
                address.host, address.port, ssl_context=tls_context(), timeout=TIMEOUT_SECONDS
            )
        else:
            self.imap = imaplib.IMAP4(address.host, address.port, timeout=TIMEOUT_SECONDS)
        try:
            self.imap.login(address.user, address.password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            raise LoginRefused(str(error)) from None
        # What the server offers can change once signed in: ask again.
        words = _checked(self.imap.capability(), "CAPABILITY")[-1].decode().upper().split()
        self.capabilities = set(words)
        self._ensure_folders()
        _checked(self.imap.select(_quoted(address.folder)), f"the folder {address.folder}")

    def _ensure_folders(self) -> None:
        prefix = ""
        if "NAMESPACE" in self.capabilities:
            data = _checked(self.imap.namespace(), "NAMESPACE")
            if found := NAMESPACE.match(data[0].decode(errors="replace")):
                prefix = found.group(1)
        for name in (PROCESSED, UNRECOGNISED):
            folder = self.folders[name] = prefix + name
            if _checked(self.imap.list('""', _quoted(folder)), "LIST") in ([None], []):
                typ, data = self.imap.create(_quoted(folder))
                if typ != "OK" and b"ALREADYEXISTS" not in b"".join(data):
                    _checked((typ, data), f"creating the folder {folder}")
                self.imap.subscribe(_quoted(folder))

    def candidates(self) -> list[tuple[str, int]]:
        """(UID, size in bytes) of every message in the folder not flagged \\Deleted."""
        found = []
        for item in _checked(self.imap.uid("FETCH", "1:*", "(UID RFC822.SIZE FLAGS)"), "FETCH"):
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid = size = None
            flags = b""
            for uid_, size_, flags_ in LISTING.findall(line):
                uid, size, flags = uid_ or uid, size_ or size, flags_ or flags
            if uid and size and b"\\deleted" not in flags.lower():
                found.append((uid.decode(), int(size)))
        return sorted(found, key=lambda pair: int(pair[0]))

    def _body(self, uid: str, section: str) -> bytes | None:
        data = _checked(self.imap.uid("FETCH", uid, f"(BODY.PEEK[{section}])"), "FETCH")
        parts = [item[1] for item in data if isinstance(item, tuple)]
        return parts[0] if parts else None

    def fetch(self, uid: str) -> bytes | None:
        """The whole message, or None when it is gone (another poll filed it meanwhile)."""
        return self._body(uid, "")

    def fetch_headers(self, uid: str) -> bytes | None:
        """Only the header of the message."""
        return self._body(uid, "HEADER")

    def file(self, uid: str, destination: str) -> None:
        """Move the message to Processed or Unrecognised."""
        folder = _quoted(self.folders[destination])
        command = "MOVE" if "MOVE" in self.capabilities else "COPY"
        typ, data = self.imap.uid(command, uid, folder)
        if typ != "OK":
            if any(code in _text(data) for code in GONE):
                return  # a poll running at the same time filed it first
            raise FilingFailed(f"UID {command} {uid} to {destination}: {_text(data)}")
        if command == "MOVE":
            return
        _checked(self.imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
        if "UIDPLUS" in self.capabilities:
            _checked(self.imap.uid("EXPUNGE", uid), "UID EXPUNGE")

    def close(self, finished: bool) -> None:
        """Sign out: LOGOUT, never CLOSE, which would expunge mail that others flagged."""
        imap, self.imap = self.imap, None
        if imap is None:
            return
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            try:
                imap.shutdown()
            except OSError:
                pass
