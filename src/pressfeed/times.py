"""Times as pressfeed stores and exchanges them: timezone-aware, UTC inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from typing import overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC ('2026-11-28T09:30:00Z'), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A stored RFC 3339 time back as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_optional_time(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)


def micros(moment: datetime) -> int:
    """A time as integer microseconds since the epoch: exact, and sortable in SQL."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def optional_micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (as in Accept-Datetime), or None when it is not one."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


class SkippedTime(ValueError):
    """A wall-clock time that does not exist in a zone (the clocks skip it)."""


def on_the_wall_clock(local: datetime, zone: tzinfo) -> datetime:
    """A naive wall-clock time read in a zone. A time the clocks skip when
    they spring forward is refused (SkippedTime); a time they show twice when
    they fall back is its later passing, so that an embargo set for it never
    lifts early."""
    first, second = local.replace(tzinfo=zone), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    later = max(first, second, key=lambda moment: moment.astimezone(UTC))
    if later.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise SkippedTime(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip "
            "that hour that day. Choose another time."
        )
    return later
