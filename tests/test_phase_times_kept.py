"""Saving a phase untouched never moves it, an exported definition names the exact moment even in the
repeated autumn hour, and a phase's own grace window counts when checking overlaps."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest

from challenges import services
from challenges.definition import export_definition
from challenges.errors import ValidationFailed
from challenges.extensions import db as _db
from challenges.models import Phase
from tests.factories import make_challenge, make_definition, make_user


def _phase_def(**times) -> dict:
    definition = make_definition()
    definition["phases"][0].update(times)
    return definition


@pytest.fixture
def staff(db, login_as):
    user = make_user(email="times@example.gov", roles=("staff",))
    login_as(user)
    return user


def _resave(client, challenge, phase) -> None:
    """Open the phase's edit page and press Save without touching anything, as a person would."""
    page = client.get(f"/staff/challenges/{challenge.slug}/phases/{phase.id}").text
    values = dict(re.findall(r'<input[^>]*?name="([a-z_]+)"[^>]*?value="([^"]*)"', page))
    values["description_md"] = ""
    saved = client.post(f"/staff/challenges/{challenge.slug}/phases/{phase.id}", data=values)
    assert saved.status_code == 302, saved.text[:2000]


def test_saving_untouched_keeps_the_seconds_the_form_cannot_show(client, staff, db):
    challenge = make_challenge(author=staff, **{k: v for k, v in _phase_def(
        opens_at="2027-03-01T09:00", closes_at="2027-04-01T23:59:59").items() if k != "slug"})
    phase = challenge.phases[0]
    before = phase.closes_at
    assert before == datetime(2027, 4, 2, 3, 59, 59, tzinfo=UTC)
    _resave(client, challenge, phase)
    _db.session.expire_all()
    assert _db.session.get(Phase, phase.id).closes_at == before


def test_the_second_half_past_one_on_the_night_clocks_go_back_stays_put(client, staff, db):
    # 2027-11-07 01:30 happens twice in New York: 05:30 UTC (EDT), then 06:30 UTC (EST). This is the second.
    challenge = make_challenge(author=staff, **{k: v for k, v in _phase_def(
        opens_at="2027-11-07T01:30:00-05:00", closes_at="2027-12-01T17:00").items() if k != "slug"})
    phase = challenge.phases[0]
    assert phase.opens_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    _resave(client, challenge, phase)
    _db.session.expire_all()
    assert _db.session.get(Phase, phase.id).opens_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)

    exported = export_definition(_db.session.get(Phase, phase.id).challenge)
    assert exported["phases"][0]["opens_at"] == "2027-11-07T01:30-05:00"
    assert exported["phases"][0]["closes_at"] == "2027-12-01T17:00"  # unambiguous times stay plain
    copy_def = copy.deepcopy(exported)
    copy_def["slug"], copy_def["title"] = "copied-times", "Copied"
    from challenges.definition import build_from_definition

    copied = build_from_definition(actor=staff, data=copy_def)
    assert copied.phases[0].opens_at == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)


def test_a_changed_time_is_still_taken(client, staff, db):
    challenge = make_challenge(author=staff, **{k: v for k, v in _phase_def(
        opens_at="2027-03-01T09:00", closes_at="2027-04-01T23:59:59").items() if k != "slug"})
    phase = challenge.phases[0]
    page = client.get(f"/staff/challenges/{challenge.slug}/phases/{phase.id}").text
    values = dict(re.findall(r'<input[^>]*?name="([a-z_]+)"[^>]*?value="([^"]*)"', page))
    values.update(closes_at="2027-04-01T23:58", description_md="")
    assert client.post(f"/staff/challenges/{challenge.slug}/phases/{phase.id}", data=values).status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Phase, phase.id).closes_at == datetime(2027, 4, 2, 3, 58, tzinfo=UTC)


def test_a_grace_window_that_runs_into_the_next_phase_is_refused_on_the_grace_field(staff, db):
    definition = make_definition()
    first = definition["phases"][0]
    first.update(opens_at="2027-03-01T09:00", closes_at="2027-04-01T17:00")
    second = copy.deepcopy(first)
    second.update(key="phase-2", name="Demo day", opens_at="2027-04-01T17:30", closes_at="2027-05-01T17:00")
    definition["phases"].append(second)
    challenge = make_challenge(author=staff, **{k: v for k, v in definition.items() if k != "slug"})
    phase = challenge.phases[0]
    with pytest.raises(ValidationFailed) as refused:
        services.save_phase(actor=staff, challenge=challenge, phase=phase, key=phase.key, name=phase.name,
                            opens_local=datetime(2027, 3, 1, 9), closes_local=datetime(2027, 4, 1, 17),
                            grace_seconds=3600)
    assert "runs into “Demo day”" in refused.value.errors["grace_seconds"]
    _db.session.rollback()
    # 1,800 seconds ends exactly when Demo day opens: allowed.
    services.save_phase(actor=staff, challenge=challenge, phase=phase, key=phase.key, name=phase.name,
                        opens_local=datetime(2027, 3, 1, 9), closes_local=datetime(2027, 4, 1, 17),
                        grace_seconds=1800)
    _db.session.commit()
    assert _db.session.get(Phase, phase.id).grace_seconds == 1800
