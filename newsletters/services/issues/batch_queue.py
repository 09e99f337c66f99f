"""The order a batch's messages go in when some recipient domains are being paced.

A message whose domain's next slot is more than a moment away (a domain with
its own low limit, or one slowed after a 4xx) goes to the back of the line, so
the batch keeps sending to every other domain instead of sleeping on one. Only
when every message left is waiting for its domain does the batch sleep, and
then until the soonest of those slots, never longer than the pace's cap. A
batch must end well before its claim could be taken for abandoned, so it never
sleeps past ``deadline``, and after it a message put back is left unsent, for a
later claim to send.
"""

import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from newsletters.services.mail.pace import Backoff

Item = TypeVar("Item")


class BatchQueue(Generic[Item]):
    """Hands out a batch's recipients in order; :meth:`put_back` sends one to the back."""

    def __init__(
        self,
        items: Iterable[Item],
        deadline: float,
        *,
        clock=time.monotonic,
        sleep=time.sleep,
        longest_sleep: float = Backoff().slowest,
    ) -> None:
        self.line: deque[Item] = deque(items)
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.longest_sleep = longest_sleep
        self.left: list[Item] = []  # put back after the deadline: not sent by this batch
        self.current: Item | None = None
        self.put_back_since_progress = 0
        self.soonest = math.inf

    def __iter__(self) -> Iterator[Item]:
        while self.line:
            if self.put_back_since_progress >= len(self.line):
                # Everyone left is waiting for their domain: wait for the first of them
                # (never past the deadline: then what is still waiting is left for later).
                until_deadline = max(0.0, self.deadline - self.clock())
                self.sleep(min(self.soonest, self.longest_sleep, until_deadline))
                self._progress()
            self.current = self.line.popleft()
            waiting = self.put_back_since_progress
            yield self.current
            if self.put_back_since_progress == waiting:
                self._progress()

    def put_back(self, retry_in: float) -> None:
        """The current message's domain has no slot for ``retry_in`` seconds: try it later."""
        if self.clock() >= self.deadline:
            self.left.append(self.current)
            return
        self.line.append(self.current)
        self.put_back_since_progress += 1
        self.soonest = min(self.soonest, retry_in)

    def _progress(self) -> None:
        self.put_back_since_progress = 0
        self.soonest = math.inf
