"""iCalendar files for events, built with the `icalendar` library.

Times are written in the event's own zone (DTSTART;TZID=America/New_York) with a VTIMEZONE
block, so calendar programs keep a 1 pm meeting at 1 pm across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from icalendar import Calendar
from icalendar import Event as VEvent

from ..links import external_url
from ..timezones import utc_to_local, utcnow
from .models import Event

PRODID = "-//Applied AI Challenges//Community events//EN"


def _calendar(name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
    return cal


def _vevent(event: Event, *, include_join: bool, stamp: datetime) -> VEvent:
    item = VEvent()
    item.add("uid", event.uid)
    item.add("dtstamp", stamp)
    item.add("sequence", event.sequence)
    item.add("summary", event.title)
    item.add("dtstart", utc_to_local(event.starts_at, event.timezone))
    item.add("dtend", utc_to_local(event.ends_at, event.timezone))
    item.add("location", event.join_url if include_join and event.join_url else event.location)
    page = external_url("community.event", event_id=event.id)
    item.add("url", page)
    parts = [event.summary] if event.summary else []
    if event.speakers:
        parts.append(f"Speakers: {event.speakers}")
    if include_join and event.join_url:
        parts.append(f"Join: {event.join_url}")
    parts.append(f"Details and registration: {page}")
    item.add("description", "\n\n".join(parts))
    item.add("status", "CANCELLED" if event.cancelled_at else "CONFIRMED")
    return item


def event_ics(event: Event, *, include_join: bool) -> bytes:
    """One event; the join link only for someone registered for it."""
    cal = _calendar()
    cal.add("method", "PUBLISH")
    cal.add_component(_vevent(event, include_join=include_join, stamp=utcnow()))
    cal.add_missing_timezones()
    return cal.to_ical()


def feed_ics(events: Iterable[Event]) -> bytes:
    """The public subscription feed: upcoming public events, never a join link."""
    cal = _calendar(f"{current_app.config['SITE_NAME']} community events")
    cal.add("x-published-ttl", "PT12H")
    stamp = utcnow()
    for event in events:
        cal.add_component(_vevent(event, include_join=False, stamp=stamp))
    cal.add_missing_timezones()
    return cal.to_ical()
