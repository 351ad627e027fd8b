"""challenges/timezones.py: the one place that converts between UTC and a challenge's zone."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from challenges.jobs import Job
from challenges.timezones import (
    TimezoneError,
    format_human,
    format_local_iso,
    get_zone,
    local_to_utc,
    parse_local,
    to_aware_utc,
    utc_to_local,
    zone_names,
)

NY = "America/New_York"


@pytest.mark.parametrize(("local", "utc"), [
    (datetime(2026, 1, 5, 9, 0), datetime(2026, 1, 5, 14, 0, tzinfo=UTC)),  # EST, UTC-5
    (datetime(2026, 7, 5, 9, 0), datetime(2026, 7, 5, 13, 0, tzinfo=UTC)),  # EDT, UTC-4
])
def test_local_to_utc_new_york_winter_and_summer(local, utc):
    converted = local_to_utc(local, NY)

    assert converted == utc
    assert converted.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("utc", "local", "abbreviation"), [
    (datetime(2026, 2, 5, 22, 0, tzinfo=UTC), datetime(2026, 2, 5, 17, 0), "EST"),
    (datetime(2026, 7, 5, 21, 0, tzinfo=UTC), datetime(2026, 7, 5, 17, 0), "EDT"),
])
def test_utc_to_local_new_york_winter_and_summer(utc, local, abbreviation):
    shown = utc_to_local(utc, NY)

    assert shown.replace(tzinfo=None) == local
    assert shown.tzname() == abbreviation
    assert local_to_utc(shown.replace(tzinfo=None), NY) == utc  # and back again


def test_format_local_iso_and_human_show_the_zone():
    moment = datetime(2026, 2, 5, 22, 0, tzinfo=UTC)

    assert format_local_iso(moment, NY) == "2026-02-05T17:00"
    assert format_local_iso(moment + timedelta(seconds=7), NY) == "2026-02-05T17:00:07"
    assert format_human(moment, NY) == "Thursday, February 5, 2026, 5:00 PM EST"
    assert format_human(datetime(2026, 7, 5, 4, 5, tzinfo=UTC), NY) == "Sunday, July 5, 2026, 12:05 AM EDT"


def test_local_to_utc_dst_gap_is_refused_with_clear_message():
    with pytest.raises(TimezoneError) as err:
        local_to_utc(datetime(2026, 3, 8, 2, 30), NY)

    message = str(err.value)
    assert "2026-03-08 02:30 does not exist in America/New_York" in message
    assert "daylight saving" in message and "Choose another time" in message


def test_local_to_utc_edges_of_dst_gap_are_accepted():
    assert local_to_utc(datetime(2026, 3, 8, 1, 59), NY) == datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 3, 8, 3, 0), NY) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_local_to_utc_ambiguous_time_takes_first_occurrence():
    # 01:30 happens twice on 2026-11-01: first at EDT (05:30 UTC), then at EST (06:30 UTC).
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), NY) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_local_to_utc_aware_input_keeps_its_instant():
    aware = datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=-5)))

    assert local_to_utc(aware, "Asia/Tokyo") == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "america/new_york", "../../etc/passwd", "EST5EDT-nope"])
def test_get_zone_unknown_name_is_refused(name):
    with pytest.raises(TimezoneError, match="Unknown time zone"):
        get_zone(name)
    with pytest.raises(TimezoneError, match="Unknown time zone"):
        local_to_utc(datetime(2026, 1, 1, 9, 0), name)


def test_zone_names_lists_iana_regions_only():
    names = zone_names()

    assert NY in names and "Europe/London" in names
    assert names == tuple(sorted(names))
    assert not [n for n in names if "/" not in n or n.startswith("Etc")]


def test_parse_local_reads_wall_clock_and_offsets():
    assert parse_local(" 2026-01-05T09:00 ", NY) == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert parse_local("2026-01-05T09:00-05:00", "UTC") == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)


def test_parse_local_garbage_is_refused():
    with pytest.raises(TimezoneError, match="“next tuesday” is not a date and time like 2026-01-05T09:00"):
        parse_local("next tuesday", NY)


def test_to_aware_utc_treats_naive_as_utc():
    assert to_aware_utc(None) is None
    assert to_aware_utc(datetime(2026, 1, 1, 12, 0)) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert to_aware_utc(datetime(2026, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))).tzinfo is UTC


def test_utc_datetime_column_round_trips_aware_values(app, db):
    eastern = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    job = Job(name="test.clock", started_at=eastern)
    db.session.add(job)
    db.session.commit()
    db.session.expire_all()

    again = db.session.get(Job, job.id)

    assert again.started_at == datetime(2026, 1, 5, 14, 0, 0, 123456, tzinfo=UTC)
    assert again.started_at.utcoffset() == timedelta(0)
    assert again.created_at.tzinfo is not None  # the default callable is aware too
    raw = db.session.execute(text("SELECT started_at FROM jobs WHERE id = :id"), {"id": job.id}).scalar_one()
    assert "14:00:00" in str(raw)  # stored as UTC, not as the 09:00 wall-clock time


def test_utc_datetime_column_rejects_naive_values(app, db):
    db.session.add(Job(name="test.clock", started_at=datetime(2026, 1, 5, 9, 0)))

    with pytest.raises(StatementError, match="naive datetime given to a UTC column"):
        db.session.commit()

    db.session.rollback()
    assert db.session.execute(text("SELECT COUNT(*) FROM jobs")).scalar_one() == 0


def test_format_span_same_day_and_across_days():
    from challenges.timezones import format_span

    winter = format_span(datetime(2026, 12, 10, 18, tzinfo=UTC), datetime(2026, 12, 10, 19, tzinfo=UTC),
                         "America/New_York")
    summer = format_span(datetime(2027, 7, 8, 17, tzinfo=UTC), datetime(2027, 7, 8, 18, 30, tzinfo=UTC),
                         "America/New_York")
    overnight = format_span(datetime(2027, 1, 15, 7, tzinfo=UTC), datetime(2027, 1, 15, 9, tzinfo=UTC),
                            "America/Los_Angeles")
    assert winter == "Thursday, December 10, 2026, 1:00 PM–2:00 PM EST"
    assert summer == "Thursday, July 8, 2027, 1:00 PM–2:30 PM EDT"
    assert overnight == "Thursday, January 14, 2027, 11:00 PM PST to Friday, January 15, 2027, 1:00 AM PST"


def test_short_form_for_table_cells():
    from datetime import UTC, datetime

    from challenges.templating import deadline
    from challenges.timezones import format_short

    moment = datetime(2026, 2, 5, 22, 0, tzinfo=UTC)
    assert format_short(moment, "America/New_York") == "Feb 5, 2026, 5:00 PM EST"
    assert format_short(datetime(2026, 7, 5, 4, 5, tzinfo=UTC), "America/New_York") == "Jul 5, 2026, 12:05 AM EDT"
    cell = str(deadline(moment, "America/New_York", short=True))
    assert 'data-short="1"' in cell and ">Feb 5, 2026, 5:00 PM EST</time>" in cell
