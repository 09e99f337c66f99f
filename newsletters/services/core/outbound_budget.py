"""What one outbound request may spend: one deadline for the whole exchange, enforced
on the socket however slowly a server trickles bytes in, and a cap on the bytes read.

How running out is said, the same way whatever happened, is :mod:`.outbound`'s.
"""

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Budget:
    """What one call may spend, and whether the address rule is lifted."""

    deadline: float
    seconds: float
    max_bytes: int
    allow_private: bool

    def remaining(self) -> float:
        """Seconds left before the deadline (zero or more)."""
        return max(0.0, self.deadline - time.monotonic())


def cut_at_deadline(sock: socket.socket, budget: Budget):
    """Shut ``sock`` down at the deadline, however slowly its server trickles bytes in;
    returns the function that stops the clock."""
    handle = sock.dup()  # still the same connection once ``sock`` is wrapped in TLS

    def cut() -> None:
        with contextlib.suppress(OSError):  # already closed: nothing left to stop
            handle.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(budget.remaining(), cut)
    timer.daemon = True
    timer.start()

    def stop() -> None:
        timer.cancel()
        timer.join()
        handle.close()

    return stop


class TooLarge(Exception):
    """An answer larger than the budget allows (said, and not read further)."""


def read_capped(response: http.client.HTTPResponse, budget: Budget) -> bytes:
    """The body, or :class:`TooLarge` as soon as it is larger than allowed."""
    declared = response.getheader("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > budget.max_bytes:
        raise TooLarge()
    data = bytearray()
    while chunk := response.read1(CHUNK_BYTES):  # one read at a time: the watchdog can cut in
        data += chunk
        if len(data) > budget.max_bytes:
            raise TooLarge()
    return bytes(data)
