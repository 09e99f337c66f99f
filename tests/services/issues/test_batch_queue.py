"""A batch meeting a paced domain sends to the others first, and sleeps only when it must."""

from newsletters.services.issues.batch_queue import BatchQueue


class FakeTime:
    """A clock that only moves when the queue sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _send_all(queue: BatchQueue, free_at: dict[str, float], fake: FakeTime) -> list[str]:
    """Go through the queue as a batch does: a domain not free yet puts its message back."""
    sent = []
    for address in queue:
        domain = address.rpartition("@")[2]
        wait = free_at.get(domain, 0.0) - fake.now
        if wait > 0:
            queue.put_back(wait)
            continue
        sent.append(address)
    return sent


def test_other_domains_go_first_and_the_batch_sleeps_once_for_the_slowed_one():
    fake = FakeTime()
    readers = ["a@slow.example", "b@fast.example", "c@slow.example", "d@other.example"]
    queue = BatchQueue(readers, deadline=600, clock=fake.clock, sleep=fake.sleep)
    sent = _send_all(queue, {"slow.example": 5.0}, fake)
    assert sent == ["b@fast.example", "d@other.example", "a@slow.example", "c@slow.example"]
    assert fake.slept == [5.0]  # once, when only the slowed domain's messages were left
    assert queue.left == []


def test_a_sleep_is_never_longer_than_the_cap_nor_past_the_deadline():
    fake = FakeTime()
    queue = BatchQueue(
        ["a@slow.example", "b@fast.example"],
        deadline=100,
        clock=fake.clock,
        sleep=fake.sleep,
        longest_sleep=60,
    )
    sent = _send_all(queue, {"slow.example": 500.0}, fake)
    assert sent == ["b@fast.example"]
    assert fake.slept == [60, 40]  # the cap, then what was left before the deadline
    assert queue.left == ["a@slow.example"]  # unsent: a later claim sends it
