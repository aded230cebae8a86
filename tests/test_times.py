"""Wall-clock times typed in the office's zone: a time the clocks skip is
refused, a time they show twice is its later passing (an embargo set for it
never lifts early)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pressfeed.times import SkippedTime, on_the_wall_clock

PARIS = ZoneInfo("Europe/Paris")


def test_an_ordinary_time_is_read_in_the_zone():
    moment = on_the_wall_clock(datetime(2027, 6, 1, 9, 30), PARIS)
    assert moment.astimezone(UTC) == datetime(2027, 6, 1, 7, 30, tzinfo=UTC)


def test_a_time_the_clocks_skip_is_refused():
    with pytest.raises(SkippedTime, match="2027-03-28 02:30 does not exist"):
        on_the_wall_clock(datetime(2027, 3, 28, 2, 30), PARIS)
    after = on_the_wall_clock(datetime(2027, 3, 28, 3, 0), PARIS)
    assert after.astimezone(UTC) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_a_time_the_clocks_show_twice_is_its_later_passing():
    moment = on_the_wall_clock(datetime(2027, 10, 31, 2, 30), PARIS)
    assert moment.astimezone(UTC) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert moment.strftime("%H:%M %Z") == "02:30 CET"
