"""Staff community forms that sit on list pages (exceptions, meeting schedule, cancelling an event, adding
to the steering committee): a refusal comes back on the same page with what was typed and the error on
the field, and writes nothing."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from challenges.community import services as community
from challenges.community.models import DomainException, Event, SteeringMember
from challenges.timezones import format_local_iso, utcnow
from tests.factories import make_user


@pytest.fixture
def staff(db, client, login_as):
    user = make_user(email="forms-staff@example.gov", roles=("staff",))
    login_as(user)
    return user


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _meeting(staff) -> Event:
    from challenges.extensions import db

    start = utcnow() + timedelta(days=5)
    event = community.save_event(actor=staff, title="Spring meet-up", summary="About things", agenda_md="",
                                 speakers="", starts=format_local_iso(start, "America/Chicago"),
                                 ends=format_local_iso(start + timedelta(hours=1), "America/Chicago"),
                                 timezone="America/Chicago", location="Online", join_url="", capacity=40,
                                 public=True)
    db.session.commit()
    return event


def _summary(page: str) -> str:
    """The error summary's text (it sits above the forms and links to the fields)."""
    start = page.index("There is a problem")
    return html.unescape(page[start:page.index("</ul>", start)])


def test_exception_without_a_reason_keeps_the_address_and_marks_the_reason(client, db, staff):
    _meeting(staff)  # the page lists upcoming events too
    page = client.post("/staff/community/exceptions", data={"email": "lead@mission-contractor.com", "reason": ""})
    assert page.status_code == 400
    assert 'value="lead@mission-contractor.com"' in page.text  # what was typed is still there
    assert '<a href="#reason">Reason: Give a reason.</a>' in _summary(page.text)
    assert 'aria-invalid="true" class="usa-textarea usa-input--error" id="reason"' in page.text
    assert "Membership exceptions" in page.text and "Spring meet-up" in page.text  # the whole page
    assert _count(db, DomainException) == 0


def test_exception_refused_by_the_service_comes_back_on_the_page(client, db, staff):
    page = client.post("/staff/community/exceptions", data={"email": "pat@nih.gov", "reason": "Agency staff"})
    assert page.status_code == 400
    assert 'value="pat@nih.gov"' in page.text and "Agency staff</textarea>" in page.text
    assert '<a href="#email">Email address: pat@nih.gov may already join: no exception is needed.</a>' \
        in _summary(page.text)
    assert _count(db, DomainException) == 0
    ok = client.post("/staff/community/exceptions", data={"email": "lead@mission-contractor.com",
                                                          "reason": "Supports the NIH mission"})
    assert ok.status_code == 302 and _count(db, DomainException) == 1
    again = client.post("/staff/community/exceptions", data={"email": "LEAD@mission-contractor.com",
                                                             "reason": "Twice"})
    assert again.status_code == 400 and "already has an exception" in _summary(again.text)
    assert _count(db, DomainException) == 1


@pytest.mark.parametrize("months", ["0", "121", "twelve"])
def test_schedule_with_a_bad_number_of_months_keeps_it_and_creates_nothing(client, db, staff, months):
    page = client.post("/staff/community/events/schedule", data={"months": months})
    assert page.status_code == 400
    assert f'value="{months}"' in page.text
    assert 'href="#months"' in page.text and "Months ahead" in _summary(page.text)
    assert "Monthly community meetings" in page.text  # the events page
    assert _count(db, Event) == 0


def test_schedule_refused_on_the_events_page_lists_the_events(client, db, staff):
    _meeting(staff)
    page = client.post("/staff/community/events/schedule", data={"months": "0"})
    assert page.status_code == 400 and "Spring meet-up" in page.text
    assert _count(db, Event) == 1


def test_schedule_that_works_still_redirects_with_the_count(client, db, staff):
    done = client.post("/staff/community/events/schedule", data={"months": "2"}, follow_redirects=True)
    assert done.status_code == 200 and "meetings created" in done.text
    assert _count(db, Event) >= 2


def test_cancel_without_a_reason_keeps_the_event_form_as_saved(client, db, staff):
    event = _meeting(staff)
    page = client.post(f"/staff/community/events/{event.id}/cancel", data={"reason": "   "})
    assert page.status_code == 400
    assert 'href="#reason"' in page.text
    # The event's own form shows the event as saved, not blanks read from the cancel form's post.
    assert 'value="Spring meet-up"' in page.text and 'value="40"' in page.text
    assert f'value="{format_local_iso(event.starts_at, "America/Chicago")}"' in page.text
    db.session.expire_all()
    assert db.session.get(Event, event.id).cancelled_at is None

    long_reason = "x" * 1001
    page = client.post(f"/staff/community/events/{event.id}/cancel", data={"reason": long_reason})
    assert page.status_code == 400 and long_reason in page.text  # kept, with the length message
    assert 'href="#reason"' in _summary(page.text)
    db.session.expire_all()
    assert db.session.get(Event, event.id).cancelled_at is None

    done = client.post(f"/staff/community/events/{event.id}/cancel", data={"reason": "Room flooded"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).cancelled_at is not None


def test_steering_member_without_a_name_keeps_what_was_typed(client, db, staff):
    page = client.post("/staff/community/steering", data={"name": "", "title": "Chief AI Officer",
                                                         "organization": "Department of Energy", "position": "3"})
    assert page.status_code == 400
    assert 'value="Chief AI Officer"' in page.text and 'value="Department of Energy"' in page.text
    assert 'value="3"' in page.text
    assert '<a href="#name">Name: Enter the person\'s name.</a>' in _summary(page.text)
    assert "Steering committee" in page.text
    assert _count(db, SteeringMember) == 0
    page = client.post("/staff/community/steering", data={"name": "Ada", "position": "-1"})
    assert page.status_code == 400 and 'value="Ada"' in page.text and "Use 0 to 10,000." in _summary(page.text)
    assert _count(db, SteeringMember) == 0
