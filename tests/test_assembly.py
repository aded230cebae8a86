"""The web processes' reuse of the views' position: at most POSITION_TTL old, at
once fresh after an in-process batch, and never replaced by an older read."""

from __future__ import annotations

import threading
import time

from pressfeed.assembly import POSITION_TTL, RecentPosition


class Views:
    """A position source whose first read can be held back after it read."""

    def __init__(self, hold_first: bool = False) -> None:
        self.value, self.reads = 1, 0
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def read(self) -> int:
        first = self.reads == 0
        self.reads += 1
        value = self.value
        if first:
            self.release.wait(5)
        return value


def test_a_read_is_reused_for_the_ttl_then_read_again():
    views = Views()
    position = RecentPosition(views.read)
    assert position.get() == 1
    views.value = 2
    assert position.get() == 1 and views.reads == 1
    time.sleep(2 * POSITION_TTL)
    assert position.get() == 2 and views.reads == 2


def test_forget_makes_the_next_get_read_the_views():
    views = Views()
    position = RecentPosition(views.read, ttl=60)
    position.get()
    views.value = 5
    position.forget()
    assert position.get() == 5


def test_an_older_slow_read_never_replaces_a_newer_one():
    views = Views(hold_first=True)
    position = RecentPosition(views.read, ttl=60)
    slow = threading.Thread(target=position.refresh)  # reads 1, then stalls
    slow.start()
    while views.reads == 0:
        time.sleep(0.001)
    views.value = 7
    assert position.refresh() == 7  # began later, finished first
    views.release.set()
    slow.join()
    assert position.get() == 7
