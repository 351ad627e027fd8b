"""Community rules found missing in a review: people who left stay out, cancelled events stay
cancelled, members-only things stay hidden, and odd input gets a clear answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from challenges.accounts import services as accounts
from challenges.community import services as community
from challenges.community.models import MemberProfile, Registration, Resource
from challenges.errors import Conflict, NotFound, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.timezones import format_local_iso, utcnow
from tests.factories import make_user


@pytest.fixture
def staff(db):
    return make_user(email="community.staff@example.gov", roles=("staff",))


def _event(staff, *, capacity=None, public=True, join_url=""):
    start = utcnow() + timedelta(days=5)
    return community.save_event(actor=staff, title="Meet-up", summary="", agenda_md="", speakers="",
                                starts=format_local_iso(start, "UTC"),
                                ends=format_local_iso(start + timedelta(hours=1), "UTC"), timezone="UTC",
                                location="Online", join_url=join_url, capacity=capacity, public=public)


def _mail(template):
    from challenges.extensions import db

    return [m.to_addr for m in db.session.execute(select(OutboxMessage).where(OutboxMessage.template == template)
                                                  .order_by(OutboxMessage.id)).scalars()]


def test_someone_no_longer_a_member_leaves_the_pool_and_group_mail(db, staff):
    admin = make_user(email="admin@example.gov", roles=("admin",))
    leaver = make_user(email="leaver@agency.gov", roles=("member",), name="Lee Leaver")
    stayer = make_user(email="stayer@agency.gov", roles=("member",), name="Sam Stayer")
    for person in (leaver, stayer):
        db.session.add(MemberProfile(user_id=person.id, judge_volunteer=True, judge_expertise=["nlp"]))
    group = community.save_group(actor=staff, name="NLP", slug="nlp", summary="", description_md="")
    for person in (leaver, stayer):
        community.join_group(actor=person, group=group)
    db.session.commit()
    accounts.revoke_role(actor=admin, user=leaver, role="member")
    db.session.commit()
    assert [p.user_id for p in community.judge_pool()] == [stayer.id]
    community.post_announcement(actor=staff, group=group, title="Hello", body_md="News")
    db.session.commit()
    assert _mail("announcement") == ["stayer@agency.gov"]


def test_a_freed_seat_goes_to_someone_who_can_come(db, staff):
    event = _event(staff, capacity=1)
    first, gone, next_in_line = (make_user(email=f"{n}@agency.gov", roles=("member",)) for n in ("a", "b", "c"))
    community.register(actor=first, event=event)
    community.register(actor=gone, event=event)
    community.register(actor=next_in_line, event=event)
    gone.active = False  # deactivated while waiting
    community.cancel_registration(actor=first, event=event)
    db.session.commit()
    status = {r.user_id: r.status for r in db.session.execute(select(Registration)).scalars()}
    assert status[next_in_line.id] == "registered" and status[gone.id] == "waitlisted"


def test_a_cancelled_event_cannot_be_moved_and_says_so(client, login_as, db, staff):
    event = _event(staff, join_url="https://meet.example.gov/x")
    member = make_user(email="going@agency.gov", roles=("member",))
    community.register(actor=member, event=event)
    community.cancel_event(actor=staff, event=event, reason="Speaker ill")
    db.session.commit()
    later = utcnow() + timedelta(days=9)
    with pytest.raises(Conflict, match="cancelled"):
        community.save_event(actor=staff, event=event, title="Meet-up", summary="", agenda_md="", speakers="",
                             starts=format_local_iso(later, "UTC"), ends=format_local_iso(later + timedelta(hours=1),
                                                                                          "UTC"),
                             timezone="UTC", location="Online", join_url="", capacity=None, public=True)
    assert _mail("event_changed") == []
    login_as(member)
    page = client.get(f"/community/events/{event.id}").text
    assert "This event is cancelled</strong>; your registration ended with it" in page
    assert "You are registered" not in page and "Join the meeting" not in page


def test_a_moved_event_tells_the_waitlist_too_without_the_join_link(db, staff):
    event = _event(staff, capacity=1, join_url="https://meet.example.gov/secret")
    seated, waiting = make_user(email="seat@agency.gov", roles=("member",)), make_user(email="wait@agency.gov",
                                                                                       roles=("member",))
    community.register(actor=seated, event=event)
    community.register(actor=waiting, event=event)
    later = utcnow() + timedelta(days=8)
    community.save_event(actor=staff, event=event, title="Meet-up", summary="", agenda_md="", speakers="",
                         starts=format_local_iso(later, "UTC"),
                         ends=format_local_iso(later + timedelta(hours=1), "UTC"),
                         timezone="UTC", location="Online", join_url="https://meet.example.gov/secret", capacity=1,
                         public=True)
    db.session.commit()
    moved = {m.to_addr: m for m in db.session.execute(select(OutboxMessage).where(
        OutboxMessage.template == "event_changed")).scalars()}
    assert set(moved) == {"seat@agency.gov", "wait@agency.gov"}
    import base64

    def ics(message):
        return base64.b64decode(message.attachments[0]["data"]).decode()

    assert "meet.example.gov/secret" in ics(moved["seat@agency.gov"])
    assert "meet.example.gov/secret" not in ics(moved["wait@agency.gov"])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("capacity", 99_999_999_999, "1 to 100,000 seats"),
    ("ends", "9999-12-31T23:00", "use a year from 1900 to 2200"),
])
def test_out_of_range_event_input_is_a_clear_error(db, staff, field, value, message):
    start = utcnow() + timedelta(days=3)
    values = {"starts": format_local_iso(start, "America/New_York"),
              "ends": format_local_iso(start + timedelta(hours=1), "America/New_York"), "capacity": None}
    values[field] = value
    with pytest.raises(ValidationFailed) as err:
        community.save_event(actor=staff, title="Big", summary="", agenda_md="", speakers="",
                             timezone="America/New_York", location="Online", join_url="", public=True, **values)
    assert message in err.value.errors[field]


def test_members_only_resources_do_not_exist_for_others(client, login_as, db, staff):
    private = _event(staff, public=False)
    private.title = "Secret strategy session"
    hidden = Resource(title="Members recording", kind="recording", url="https://video.example.gov/1",
                      members_only=True, topics=[])
    shared = Resource(title="Public slides", kind="slides", url="https://slides.example.gov/1", members_only=False,
                      topics=[], event_id=private.id)
    db.session.add_all([hidden, shared])
    db.session.commit()
    vendor = make_user(email="outsider@vendor.com", roles=("vendor",))
    with pytest.raises(NotFound):
        community.get_resource(hidden.id, vendor)
    login_as(vendor)
    assert client.get(f"/community/resources/{hidden.id}").status_code == 404
    listing = client.get("/community/resources").text
    assert "Public slides" in listing and "Secret strategy session" not in listing
    assert community.search_resources(vendor, query="strategy") == []


def test_the_roster_never_shows_an_address_or_someone_who_asked_not_to_be_listed(client, login_as, db, staff):
    group = community.save_group(actor=staff, name="Vision", slug="vision", summary="", description_md="")
    nameless = make_user(email="nameless.person@agency.gov", roles=("member",))
    private = make_user(email="private@agency.gov", roles=("member",), name="Pat Private")
    named = make_user(email="named@agency.gov", roles=("member",), name="Nia Named")
    db.session.add(MemberProfile(user_id=private.id, listed=False))
    for person in (nameless, private, named):
        community.join_group(actor=person, group=group)
    db.session.commit()
    login_as(named)
    page = client.get("/community/groups/vision").text
    roster = page[page.index('id="roster-heading"'):]
    assert "nameless.person@agency.gov" not in roster and "Pat Private" not in roster
    assert "Nia Named" in roster and roster.count("A member") == 2


def test_cancelling_a_registration_that_does_not_exist_says_so(client, login_as, db, staff):
    event = _event(staff)
    member = make_user(email="never@agency.gov", roles=("member",))
    login_as(member)
    page = client.post(f"/community/events/{event.id}/registration", data={"action": "cancel"}, follow_redirects=True)
    assert "You were not registered for this event." in page.text


def test_long_valid_addresses_do_not_break_mail(client, db, staff):
    address = ("a" * 60 + "." + "b" * 60 + "@" + "c" * 60 + "." + "d" * 60 + ".gov")
    page = client.post("/community/subscribe", data={"email": address})
    assert page.status_code in (200, 302)
    sent = db.session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == address)).scalars().all()
    assert len(sent) == 1 and len(sent[0].dedupe_key) <= 200
