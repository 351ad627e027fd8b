from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from challenges.timezones import (
    TimezoneError,
    format_human,
    format_local_iso,
    local_to_utc,
    parse_local,
    utc_to_local,
)


def test_new_york_winter_and_summer_offsets():
    assert local_to_utc(datetime(2026, 1, 5, 9, 0), "America/New_York") == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 7, 5, 9, 0), "America/New_York") == datetime(2026, 7, 5, 13, 0, tzinfo=UTC)


def test_round_trip_to_local():
    moment = datetime(2026, 2, 5, 22, 0, tzinfo=UTC)
    assert utc_to_local(moment, "America/New_York").replace(tzinfo=None) == datetime(2026, 2, 5, 17, 0)
    assert format_local_iso(moment, "America/New_York") == "2026-02-05T17:00"
    assert format_human(moment, "America/New_York") == "Thursday, February 5, 2026, 5:00 PM EST"


def test_time_in_spring_forward_gap_is_refused():
    with pytest.raises(TimezoneError, match="does not exist in America/New_York"):
        local_to_utc(datetime(2026, 3, 8, 2, 30), "America/New_York")


def test_ambiguous_autumn_time_takes_first_occurrence():
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), "America/New_York") == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "EST5EDT-nope", "../../etc/passwd"])
def test_unknown_zone_refused(name):
    with pytest.raises(TimezoneError, match="Unknown time zone"):
        local_to_utc(datetime(2026, 1, 1, 9, 0), name)


def test_parse_local_rejects_garbage_and_accepts_offsets():
    with pytest.raises(TimezoneError, match="is not a date and time"):
        parse_local("next tuesday", "America/New_York")
    assert parse_local("2026-01-05T09:00-05:00", "UTC") == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def test_utc_column_round_trips_aware_and_refuses_naive(app, db):
    from challenges.audit import AuditEvent, record

    event = record(actor=None, action="test.tick", object_type="test", object_id=1)
    db.session.commit()
    stored = db.session.execute(text("SELECT at FROM audit_events WHERE id = :i"), {"i": event.id}).scalar_one()
    assert stored is not None
    db.session.expire_all()
    again = db.session.get(AuditEvent, event.id)
    assert again.at.tzinfo is not None and again.at.utcoffset().total_seconds() == 0
    again.at = datetime(2026, 1, 1, 12, 0)  # naive
    with pytest.raises(Exception, match="naive datetime"):
        db.session.flush()
    db.session.rollback()
