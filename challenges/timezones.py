"""The one place that converts between UTC (stored) and a challenge's zone (shown and typed).

The database holds timezone-aware UTC; people type and read local wall-clock times. Local times
that do not exist (the spring-forward gap) are refused rather than silently shifted, and
ambiguous ones (the autumn repeat) take the first occurrence, which is what a deadline means.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class TimezoneError(ValueError):
    """A zone name or local time that cannot be used."""


def utcnow() -> datetime:
    """Aware UTC now; used as a column default callable, never evaluated at import."""
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk; read it once per process.
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(z for z in _known_zones() if "/" in z and not z.startswith("Etc")))


def get_zone(name: str) -> ZoneInfo:
    if not name or name not in _known_zones():
        raise TimezoneError(f"Unknown time zone “{name}”. Use an IANA name such as America/New_York.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise TimezoneError(f"Unknown time zone “{name}”.") from exc


def local_to_utc(local: datetime, zone_name: str) -> datetime:
    """Interpret a naive wall-clock time in `zone_name` and return aware UTC."""
    if not 1900 <= local.year <= 2200:  # far enough for any deadline; year 9999 cannot even convert
        raise TimezoneError(f"{local:%Y-%m-%d} is not a date this system plans for: use a year from 1900 to 2200.")
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    zone = get_zone(zone_name)
    first = local.replace(tzinfo=zone, fold=0)
    # A wall time that round-trips to a different wall time lies in a DST gap.
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise TimezoneError(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone_name} "
            "(clocks skip that hour for daylight saving time). Choose another time."
        )
    return first.astimezone(UTC)


def utc_to_local(moment: datetime, zone_name: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(get_zone(zone_name))


def parse_local(text: str, zone_name: str) -> datetime:
    """Parse ISO `YYYY-MM-DDTHH:MM[:SS]` (or with an offset) typed in `zone_name`, return UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimezoneError(f"“{text}” is not a date and time like 2026-01-05T09:00.") from exc
    return local_to_utc(value, zone_name)


def format_local_iso(moment: datetime, zone_name: str, *, exact: bool = False) -> str:
    """Naive local ISO text, the form definitions and datetime-local inputs use. With `exact`, a time in
    the hour that repeats when clocks go back carries its UTC offset, so reading it back gives the same
    moment (naive text would mean the first of the two)."""
    local = utc_to_local(moment, zone_name)
    spec = "seconds" if local.second else "minutes"
    if exact and local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return local.isoformat(timespec=spec)
    return local.replace(tzinfo=None).isoformat(timespec=spec)


def format_human(moment: datetime, zone_name: str) -> str:
    """'Thursday, February 5, 2026, 5:00 PM EST' — always with the zone's abbreviation."""
    local = utc_to_local(moment, zone_name)
    hour = local.strftime("%I").lstrip("0") or "12"
    return f"{local:%A, %B} {local.day}, {local.year}, {hour}:{local:%M %p} {local.tzname()}"


def format_short(moment: datetime, zone_name: str) -> str:
    """'Feb 5, 2026, 5:00 PM EST': the same moment, short enough for a table cell."""
    local = utc_to_local(moment, zone_name)
    hour = local.strftime("%I").lstrip("0") or "12"
    return f"{local:%b} {local.day}, {local.year}, {hour}:{local:%M %p} {local.tzname()}"


def format_span(start: datetime, end: datetime, zone_name: str) -> str:
    """'Thursday, December 10, 2026, 1:00 PM–2:00 PM EST'; both ends in full when they fall on different days."""
    first, last = utc_to_local(start, zone_name), utc_to_local(end, zone_name)
    if first.date() != last.date():
        return f"{format_human(start, zone_name)} to {format_human(end, zone_name)}"

    def clock(local: datetime) -> str:
        return f"{local.strftime('%I').lstrip('0') or '12'}:{local:%M %p}"

    return f"{first:%A, %B} {first.day}, {first.year}, {clock(first)}–{clock(last)} {last.tzname()}"


def to_aware_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """Timestamp stored as UTC, always returned aware (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; convert with timezones.py")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return to_aware_utc(value)

