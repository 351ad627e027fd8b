"""The General section: a draft's time-zone change keeps each deadline's time of day; after publication
the address and the zone show as fixed text instead of inputs that are refused on save."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from challenges.extensions import db as _db
from challenges.models import Phase
from tests.factories import make_challenge, make_definition, make_user


@pytest.fixture
def staff(db, login_as):
    user = make_user(email="general@example.gov", roles=("staff",))
    login_as(user)
    return user


def _general(challenge, **changes) -> dict[str, str]:
    return {"title": challenge.title, "slug": challenge.slug, "agency": challenge.agency,
            "summary": challenge.summary, "description_md": challenge.description_md,
            "timezone": challenge.timezone, **changes}


def test_changing_a_drafts_zone_keeps_the_time_of_day(client, staff, db):
    definition = make_definition()
    definition["phases"][0].update(opens_at="2027-01-04T09:00", closes_at="2027-02-01T17:00")
    challenge = make_challenge(author=staff, **{k: v for k, v in definition.items() if k != "slug"})
    phase_id = challenge.phases[0].id
    page = client.get(f"/staff/challenges/{challenge.slug}/general").text
    assert "keeps each deadline&#39;s time of day" in page or "keeps each deadline's time of day" in page
    done = client.post(f"/staff/challenges/{challenge.slug}/general",
                       data=_general(challenge, timezone="America/Los_Angeles"))
    assert done.status_code == 302
    _db.session.expire_all()
    phase = _db.session.get(Phase, phase_id)
    assert phase.opens_at == datetime(2027, 1, 4, 17, 0, tzinfo=UTC)  # 9:00 AM Pacific
    assert phase.closes_at == datetime(2027, 2, 2, 1, 0, tzinfo=UTC)  # 5:00 PM Pacific


def test_a_zone_where_a_deadline_falls_in_the_skipped_hour_is_refused(client, staff, db):
    definition = make_definition()
    # 02:30 on 14 March 2027 exists in Phoenix (no daylight saving) but not in New York.
    definition.update(timezone="America/Phoenix")
    definition["phases"][0].update(opens_at="2027-03-14T02:30", closes_at="2027-04-01T17:00")
    challenge = make_challenge(author=staff, **{k: v for k, v in definition.items() if k != "slug"})
    before = challenge.phases[0].opens_at
    refused = client.post(f"/staff/challenges/{challenge.slug}/general",
                          data=_general(challenge, timezone="America/New_York"))
    assert refused.status_code == 400 and "does not exist in America/New_York" in refused.text
    _db.session.expire_all()
    assert _db.session.get(Phase, challenge.phases[0].id).opens_at == before


def test_after_publication_the_address_and_zone_are_shown_as_fixed(client, staff, db):
    challenge = make_challenge(author=staff, publish=True)
    page = client.get(f"/staff/challenges/{challenge.slug}/general").text
    assert "A published challenge keeps its address." in page
    assert "The time zone can change only while the challenge is a draft." in page
    assert 'id="slug"' not in page and 'id="timezone"' not in page  # no inputs that would be refused
    assert f'<input type="hidden" name="slug" value="{challenge.slug}">' in page
    saved = client.post(f"/staff/challenges/{challenge.slug}/general",
                        data=_general(challenge, title="A clearer title"))
    assert saved.status_code == 302
