"""Community: joining, the mailing list, newsletters, working groups, events, resources, pages, contact."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from challenges import jobs
from challenges.accounts.models import User
from challenges.audit import AuditEvent
from challenges.community import services as community
from challenges.community.models import (
    ContactMessage,
    DomainException,
    Event,
    MemberProfile,
    Newsletter,
    Registration,
    Resource,
    Subscription,
)
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.timezones import format_local_iso, utcnow
from tests.factories import PASSWORD, make_user

NY = ZoneInfo("America/New_York")


@pytest.fixture
def staff(db):
    return make_user(email="staff@example.gov", roles=("staff",))


def _outbox(to: str | None = None, template: str | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if to:
        stmt = stmt.where(OutboxMessage.to_addr == to)
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    from challenges.extensions import db

    return list(db.session.execute(stmt).scalars())


def _link(message: OutboxMessage, path: str) -> str:
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}[^\s>]+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def _event(staff, *, days: float = 10, capacity: int | None = None, public: bool = True, join_url: str = "",
           zone: str = "America/New_York", title: str = "Meet-up") -> Event:
    start = utcnow() + timedelta(days=days)
    return community.save_event(actor=staff, title=title, summary="About things", agenda_md="1. Hello",
                                speakers="Ada Lovelace", starts=format_local_iso(start, zone),
                                ends=format_local_iso(start + timedelta(hours=1), zone), timezone=zone,
                                location="Online", join_url=join_url, capacity=capacity, public=public)


# --- joining ------------------------------------------------------------------------------


def test_join_outside_the_domains_is_refused_with_the_reason(client, db):
    page = client.post("/community/join", data={"email": "someone@agency.gov.evil.com", "password": PASSWORD,
                                                "confirm": PASSWORD, "name": "Eve"})
    assert page.status_code == 400
    assert "Use your .gov, .mil or .edu work address" in page.text
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 0  # nothing half-written


def test_join_confirm_and_fill_profile_then_directory_shows_only_what_the_member_chose(client, db):
    page = client.post("/community/join", data={"email": "Pat.Jones@NIH.gov", "password": PASSWORD,
                                                "confirm": PASSWORD, "name": "Pat Jones"})
    assert page.status_code == 200 and "Check your email" in page.text
    user = db.session.execute(select(User).where(User.email == "pat.jones@nih.gov")).scalar_one()
    assert user.has_role("member") and not user.is_verified
    verify = _link(_outbox(to=user.email, template="verify_email")[0], "/account/verify/")
    client.post(verify)
    db.session.expire_all()
    assert db.session.get(User, user.id).is_verified
    client.post("/account/sign-in", data={"email": "pat.jones@nih.gov", "password": PASSWORD})

    bad = client.post("/community/profile", data={"name": "Pat Jones", "organization": "", "role_category": "x"})
    assert bad.status_code == 400 and "Enter your agency or institution." in bad.text
    saved = client.post("/community/profile", data={
        "name": "Pat Jones", "organization": "National Institutes of Health", "job_title": "Data lead",
        "role_category": "data_scientist", "interests": "imaging, evaluation", "listed": "y",
        "show_organization": "y", "judge_volunteer": "y", "judge_expertise": "Imaging, evaluation, imaging"})
    assert saved.status_code == 302
    profile = db.session.execute(select(MemberProfile)).scalar_one()
    assert profile.judge_expertise == ["imaging", "evaluation"] and not profile.show_title

    other = make_user(email="peer@va.gov", roles=("member",))
    from tests.conftest import LOGIN_ROLES  # noqa: F401 - the fixture's naming, for readers

    with client.session_transaction() as session:
        session.clear()
    directory = client.get("/community/directory")
    assert directory.status_code == 302  # members only
    client.post("/account/sign-in", data={"email": other.email, "password": PASSWORD})
    directory = client.get("/community/directory")
    assert "Pat Jones" in directory.text and "National Institutes of Health" in directory.text
    assert "Data lead" not in directory.text and "pat.jones@nih.gov" not in directory.text
    assert "imaging, evaluation" not in directory.text  # interests not chosen


def test_signed_in_vendor_with_eligible_address_joins_in_one_click(client, db, login_as):
    vendor = make_user(email="ops@state.gov", roles=("vendor",))
    login_as(vendor)
    page = client.get("/community/join")
    assert "Join as ops@state.gov" in page.text
    assert client.post("/community/join").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, vendor.id).has_role("member")
    outsider = make_user(email="ops@contractor.com", roles=("vendor",))
    login_as(outsider)
    refused = client.post("/community/join")
    assert (refused.status_code == 400 and "ask staff for an exception" in refused.text.lower()) or \
        "exception" in refused.text
    assert not db.session.get(User, outsider.id).has_role("member")


def test_staff_exception_lets_an_outside_address_join_and_is_audited(client, db, staff, login_as):
    with pytest.raises(ValidationFailed):
        community.grant_exception(actor=staff, email="lead@mission-contractor.com", reason=" ")
    with pytest.raises(ValidationFailed):
        community.grant_exception(actor=staff, email="x@nih.gov", reason="needs none")
    member = make_user(email="m@nih.gov", roles=("member",))
    with pytest.raises(PermissionDenied):
        community.grant_exception(actor=member, email="lead@mission-contractor.com", reason="Supports NIH")
    login_as(staff)
    client.post("/staff/community/exceptions", data={"email": "Lead@Mission-Contractor.com",
                                                      "reason": "Contractor supporting the NIH mission"})
    assert db.session.execute(select(DomainException.email)).scalar_one() == "lead@mission-contractor.com"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "community.exception_granted")
                               ).scalar_one()
    assert event.details["reason"] == "Contractor supporting the NIH mission"
    login_as("anonymous")
    joined = client.post("/community/join", data={"email": "lead@mission-contractor.com", "password": PASSWORD,
                                                  "confirm": PASSWORD, "name": "Lee"})
    assert joined.status_code == 200 and "Check your email" in joined.text


# --- mailing list -------------------------------------------------------------------------


def test_subscribe_is_double_opt_in_and_confirm_link_works_once(client, db):
    page = client.post("/community/subscribe", data={"email": "Reader@Example.com", "name": "Reader"})
    assert page.status_code == 200 and "Check your email" in page.text
    row = db.session.execute(select(Subscription)).scalar_one()
    assert row.email == "reader@example.com" and not row.active
    assert community.recipients("subscribers") == []  # not before confirming
    link = _link(_outbox(template="subscribe_confirm")[0], "/community/subscribe/confirm/")
    assert "Confirm subscription" in client.get(link).text
    client.post(link)
    client.post(link)  # twice is harmless
    db.session.expire_all()
    assert db.session.get(Subscription, row.id).active
    assert community.recipients("subscribers") == ["reader@example.com"]
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "community.subscribed")
                              ).scalar_one() == 1


def test_subscribe_bad_address_and_probing(client, db):
    bad = client.post("/community/subscribe", data={"email": "not-an-address"})
    assert bad.status_code == 400 and "valid email address" in bad.text
    community.subscribe_member(user=make_user(email="in@nih.gov", roles=("member",)))
    db.session.commit()
    again = client.post("/community/subscribe", data={"email": "in@nih.gov"})
    assert "Check your email" in again.text  # looks the same as for a new address
    assert _outbox(to="in@nih.gov", template="subscribe_confirm") == []  # but nothing is sent


def test_tokens_are_signed_expire_and_belong_to_one_address_and_purpose(client, app, db):
    confirm = community.make_list_token("a@example.com", "confirm")
    unsubscribe = community.make_list_token("a@example.com", "unsubscribe")
    assert community.read_list_token(confirm, "confirm") == "a@example.com"
    with pytest.raises(ValidationFailed):
        community.read_list_token(unsubscribe, "confirm")  # another purpose
    with pytest.raises(ValidationFailed):
        community.read_list_token(confirm, "unsubscribe")
    # Swap the address inside the token: the signature no longer matches.
    import base64
    import json

    payload, rest = confirm.split(".", 1)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["email"] = "b@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + rest
    with pytest.raises(ValidationFailed, match="not valid"):
        community.read_list_token(forged, "confirm")
    assert client.get(f"/community/subscribe/confirm/{forged}").status_code == 400
    assert client.post(f"/community/unsubscribe/{confirm}").status_code == 400
    app.config["SUBSCRIBE_TOKEN_MAX_AGE"] = -1
    app.config["UNSUBSCRIBE_TOKEN_MAX_AGE"] = -1
    with pytest.raises(ValidationFailed, match="expired"):
        community.read_list_token(confirm, "confirm")
    expired = client.post(f"/community/unsubscribe/{unsubscribe}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert db.session.execute(select(func.count(Subscription.id))).scalar_one() == 0


def test_unsubscribe_is_idempotent_and_one_click_post_works_without_a_form_token(client, app, db):
    community.confirm_subscription(token=community.make_list_token("r@example.com", "confirm"))
    db.session.commit()
    token = community.make_list_token("r@example.com", "unsubscribe")
    assert "Stop community mailings to" in client.get(f"/community/unsubscribe/{token}").text
    assert db.session.execute(select(Subscription)).scalar_one().active  # a GET changes nothing (link scanners)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the one-click POST carries no CSRF token
    one_click = client.post(f"/community/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and one_click.text == "Unsubscribed.\n"
    again = client.post(f"/community/unsubscribe/{token}")
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    row = db.session.execute(select(Subscription)).scalar_one()
    assert row.unsubscribed_at is not None and not row.active
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "community.unsubscribed")
                              ).scalar_one() == 1
    assert community.recipients("subscribers") == []


# --- newsletters --------------------------------------------------------------------------


def test_newsletter_validation_preview_and_send_through_the_outbox(client, db, staff, login_as):
    for n in range(3):
        community.confirm_subscription(token=community.make_list_token(f"s{n}@example.com", "confirm"))
    community.unsubscribe(token=community.make_list_token("s2@example.com", "unsubscribe"))
    db.session.commit()
    login_as(staff)
    bad = client.post("/staff/community/newsletters/new", data={"subject": "", "body_md": "", "audience": "x"})
    assert bad.status_code == 400 and db.session.execute(select(func.count(Newsletter.id))).scalar_one() == 0
    saved = client.post("/staff/community/newsletters/new", data={
        "subject": "December news", "body_md": "# Hello\n\nThe **meeting** is on Thursday.", "audience": "subscribers"})
    newsletter = db.session.execute(select(Newsletter)).scalar_one()
    preview = client.get(saved.headers["Location"])
    assert "<strong>meeting</strong>" in preview.text and "Send to 2 addresses" in preview.text

    sent = client.post(f"/staff/community/newsletters/{newsletter.id}/send")
    assert "/staff/jobs/" in sent.headers["Location"]
    db.session.expire_all()
    job = db.session.get(jobs.Job, newsletter.job_id)
    assert job.status == "done" and job.progress == 100 and job.result == {"recipients": 2}
    messages = _outbox(template="newsletter")
    assert sorted(m.to_addr for m in messages) == ["s0@example.com", "s1@example.com"]
    for message in messages:
        unsubscribe = message.headers["List-Unsubscribe"].strip("<>")
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe in message.body_text and "<strong>meeting</strong>" in message.body_html
        assert community.read_list_token(unsubscribe.rsplit("/", 1)[1], "unsubscribe") == message.to_addr
    assert db.session.get(Newsletter, newsletter.id).status == "sent"
    # Sending again is refused; re-running the job after a crash queues nothing twice.
    assert client.post(f"/staff/community/newsletters/{newsletter.id}/send").status_code == 409
    community.newsletter_job(job=None, newsletter_id=newsletter.id)
    assert len(_outbox(template="newsletter")) == 2
    assert client.post(f"/staff/community/newsletters/{newsletter.id}",
                       data={"subject": "x", "body_md": "y", "audience": "members"}).status_code == 400


def test_newsletter_job_resumes_after_a_crash_without_duplicates(db, staff):
    for n in range(5):
        community.confirm_subscription(token=community.make_list_token(f"c{n}@example.com", "confirm"))
    newsletter = community.save_newsletter(actor=staff, subject="S", body_md="B", audience="subscribers")
    db.session.commit()
    # The first run died after queueing two messages (their transaction committed).
    for address in ("c0@example.com", "c1@example.com"):
        community.queue_list_mail(to=address, subject="S", template="newsletter",
                                  dedupe_key=f"newsletter:{newsletter.id}:{address}", body_md="B", body_html="B")
    db.session.commit()
    result = community.newsletter_job(job=None, newsletter_id=newsletter.id, batch=2)
    assert result == {"recipients": 5}
    assert sorted(m.to_addr for m in _outbox(template="newsletter")) == [f"c{n}@example.com" for n in range(5)]


def test_newsletter_audiences_members_and_one_group(db, staff):
    a = make_user(email="a@nih.gov", roles=("member",))
    b = make_user(email="b@va.gov", roles=("member",))
    make_user(email="v@example.com", roles=("vendor",))
    group = community.save_group(actor=staff, name="Evaluation", slug="evaluation", summary="", description_md="")
    community.join_group(actor=b, group=group)
    community.unsubscribe(token=community.make_list_token("a@nih.gov", "unsubscribe"))
    assert community.recipients("members") == ["b@va.gov"]  # a unsubscribed
    assert community.recipients("group", group.id) == ["b@va.gov"]
    with pytest.raises(ValidationFailed) as err:
        community.save_newsletter(actor=staff, subject="S", body_md="B", audience="group", group_id=None)
    assert "group_id" in err.value.errors
    empty = community.save_newsletter(actor=staff, subject="S", body_md="B", audience="subscribers")
    with pytest.raises(ValidationFailed, match="audience is empty"):
        community.send_newsletter(actor=staff, newsletter=empty)
    _ = a


# --- working groups -----------------------------------------------------------------------


def test_group_join_leave_roster_and_lead_announcements(client, db, staff, login_as):
    group = community.save_group(actor=staff, name="Responsible AI", slug="responsible-ai", summary="Risk",
                                 description_md="We meet **monthly**.")
    member = make_user(email="m@nih.gov", roles=("member",), name="Morgan")
    lead = make_user(email="lead@va.gov", roles=("member",), name="Lee Lead")
    community.join_group(actor=lead, group=group)
    community.set_lead(actor=staff, group=group, user_id=lead.id, lead=True)
    db.session.commit()

    public = client.get("/community/groups/responsible-ai")
    assert "<strong>monthly</strong>" in public.text and "Lee Lead" not in public.text  # roster: members only
    login_as(member)
    assert "Lee Lead" in client.get("/community/groups/responsible-ai").text
    client.post("/community/groups/responsible-ai/membership", data={"action": "join"})
    client.post("/community/groups/responsible-ai/membership", data={"action": "join"})  # twice: one row
    db.session.expire_all()
    assert len(db.session.get(type(group), group.id).memberships) == 2
    assert client.post("/community/groups/responsible-ai/announcements",
                       data={"title": "Hi", "body_md": "x"}).status_code == 403  # not a lead
    login_as(lead)
    bad = client.post("/community/groups/responsible-ai/announcements", data={"title": "", "body_md": ""})
    assert bad.status_code == 400
    client.post("/community/groups/responsible-ai/announcements",
                data={"title": "Call moved", "body_md": "Now at **2 pm**."})
    mails = _outbox(template="announcement")
    assert [m.to_addr for m in mails] == ["m@nih.gov"] and "List-Unsubscribe" in mails[0].headers
    login_as(member)
    assert "Call moved" in client.get("/community/groups/responsible-ai").text
    client.post("/community/groups/responsible-ai/membership", data={"action": "leave"})
    db.session.expire_all()
    assert [m.user_id for m in db.session.get(type(group), group.id).memberships] == [lead.id]
    with pytest.raises(ValidationFailed):
        community.set_lead(actor=staff, group=group, user_id=member.id, lead=True)  # not in the group


def test_group_validation(db, staff):
    community.save_group(actor=staff, name="A", slug="a-group", summary="", description_md="")
    with pytest.raises(ValidationFailed) as err:
        community.save_group(actor=staff, name="", slug="A Group!", summary="", description_md="")
    assert set(err.value.errors) == {"name", "slug"}
    with pytest.raises(ValidationFailed, match="correct"):
        community.save_group(actor=staff, name="B", slug="a-group", summary="", description_md="")
    vendor = make_user(email="v@example.com", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        community.join_group(actor=vendor, group=community.get_group("a-group"))


# --- meetings and events ------------------------------------------------------------------


def test_monthly_meetings_for_24_months_are_second_thursdays_13_to_14_new_york(db, staff):
    created, existing = community.schedule_meetings(actor=staff, months=24, today=date(2027, 1, 1))
    assert len(created) == 24 and existing == []
    months = set()
    for event in created:
        start, end = event.starts_at.astimezone(NY), event.ends_at.astimezone(NY)
        assert start.weekday() == 3 and 8 <= start.day <= 14
        assert (start.hour, start.minute, end.hour, end.minute) == (13, 0, 14, 0)
        assert event.starts_at.astimezone(UTC).hour in (17, 18)  # EDT in summer, EST in winter
        assert event.starts_at.astimezone(UTC).hour == (17 if start.dst() else 18)
        months.add((start.year, start.month))
    assert len(months) == 24
    assert {e.starts_at.astimezone(UTC).hour for e in created} == {17, 18}  # crosses daylight saving
    again, existing = community.schedule_meetings(actor=staff, months=24, today=date(2027, 1, 1))
    assert again == [] and len(existing) == 24
    assert db.session.execute(select(func.count(Event.id))).scalar_one() == 24


def test_schedule_meetings_cli_is_idempotent(run_cli, db):
    first = run_cli("community", "schedule-meetings", "--months", "12")
    assert first.exit_code == 0 and "12 meeting(s) created" in first.output
    second = run_cli("community", "schedule-meetings", "--months", "12", "--json")
    assert second.exit_code == 0
    import json

    assert len(json.loads(second.output)["existing"]) == 12 and json.loads(second.output)["created"] == []
    assert run_cli("community", "schedule-meetings", "--months", "0").exit_code == 1


def test_event_validation(db, staff):
    def attempt(**changes):
        values = dict(title="T", summary="", agenda_md="", speakers="", starts="2027-01-14T13:00",
                      ends="2027-01-14T14:00", timezone="America/New_York", location="", join_url="",
                      capacity=None, public=True)
        values.update(changes)
        with pytest.raises(ValidationFailed) as err:
            community.save_event(actor=staff, **values)
        return err.value.errors

    assert "ends" in attempt(ends="2027-01-14T12:00")
    assert "starts" in attempt(starts="2027-03-14T02:30", ends="2027-03-14T04:00")  # the spring-forward gap
    assert "timezone" in attempt(timezone="Mars/Olympus")
    assert "capacity" in attempt(capacity=0)
    assert "join_url" in attempt(join_url="http://insecure.example.gov")
    assert "title" in attempt(title=" ")
    assert db.session.execute(select(func.count(Event.id))).scalar_one() == 0


def test_event_ics_parses_with_the_event_time_zone_and_join_link_only_for_registrants(client, db, staff, login_as):
    event = _event(staff, join_url="https://meet.example.gov/abc", capacity=10)
    db.session.commit()
    anonymous = client.get(f"/community/events/{event.id}/event.ics")
    assert anonymous.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(anonymous.data)
    vevent = next(iter(cal.walk("VEVENT")))
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert vevent.decoded("DTSTART").astimezone(UTC) == event.starts_at
    assert vevent.decoded("DTEND").astimezone(UTC) == event.ends_at
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert "meet.example.gov" not in anonymous.text and "meet.example.gov" not in client.get(
        f"/community/events/{event.id}").text
    member = make_user(email="m@nih.gov", roles=("member",))
    login_as(member)
    client.post(f"/community/events/{event.id}/registration", data={"action": "register"})
    assert "https://meet.example.gov/abc" in client.get(f"/community/events/{event.id}").text
    mine = icalendar.Calendar.from_ical(client.get(f"/community/events/{event.id}/event.ics").data)
    assert "https://meet.example.gov/abc" in str(next(iter(mine.walk("VEVENT")))["DESCRIPTION"])
    confirmation = _outbox(to="m@nih.gov", template="event_registered")[0]
    attached = icalendar.Calendar.from_ical(io.BytesIO(
        __import__("base64").b64decode(confirmation.attachments[0]["data"])).read())
    assert next(iter(attached.walk("VEVENT")))["UID"] == event.uid


def test_calendar_feed_lists_upcoming_public_events_only(client, db, staff):
    public = _event(staff, title="Public talk", zone="America/Chicago")
    _event(staff, title="Members workshop", public=False)
    cancelled = _event(staff, title="Cancelled talk")
    community.cancel_event(actor=staff, event=cancelled, reason="Speaker ill")
    past = _event(staff, title="Old talk", days=-3)
    db.session.commit()
    feed = client.get("/community/calendar.ics")
    cal = icalendar.Calendar.from_ical(feed.data)
    events = cal.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Public talk"]
    assert events[0]["DTSTART"].params["TZID"] == "America/Chicago"
    assert {tz["TZID"] for tz in cal.walk("VTIMEZONE")} == {"America/Chicago"}
    _ = (public, past)


def test_members_only_event_is_hidden_from_the_public(client, db, staff, login_as):
    event = _event(staff, public=False, title="Members workshop")
    db.session.commit()
    assert client.get(f"/community/events/{event.id}").status_code == 404
    assert "Members workshop" not in client.get("/community/events").text
    login_as(make_user(email="m@nih.gov", roles=("member",)))
    assert client.get(f"/community/events/{event.id}").status_code == 200


def test_register_twice_is_harmless_and_waitlist_moves_up_on_cancel(db, staff):
    event = _event(staff, capacity=2)
    people = [make_user(email=f"p{n}@nih.gov", roles=("member",)) for n in range(4)]
    regs = [community.register(actor=p, event=event) for p in people]
    assert [r.status for r in regs] == ["registered", "registered", "waitlisted", "waitlisted"]
    assert community.register(actor=people[0], event=event).id == regs[0].id  # twice: unchanged
    assert db.session.execute(select(func.count(Registration.id))).scalar_one() == 4
    assert community.waitlist_position(event, regs[3]) == 2
    community.cancel_registration(actor=people[1], event=event)
    community.cancel_registration(actor=people[1], event=event)  # twice: harmless
    db.session.commit()
    statuses = {r.user.email: r.status for r in db.session.get(Event, event.id).registrations}
    assert statuses == {"p0@nih.gov": "registered", "p1@nih.gov": "cancelled", "p2@nih.gov": "registered",
                        "p3@nih.gov": "waitlisted"}
    promoted = _outbox(to="p2@nih.gov", template="event_registered")
    assert len(promoted) == 1 and promoted[0].subject.startswith("A seat opened")
    assert _outbox(to="p3@nih.gov", template="event_waitlisted")
    # Raising the capacity seats the rest of the waitlist.
    community.save_event(actor=staff, title=event.title, summary="", agenda_md="", speakers="",
                         starts=format_local_iso(event.starts_at, event.timezone),
                         ends=format_local_iso(event.ends_at, event.timezone), timezone=event.timezone,
                         location="", join_url="", capacity=5, public=True, event=event)
    assert community.registration_of(event, people[3]).status == "registered"
    assert _outbox(template="event_changed") == []  # same time: nobody is told it moved
    later = event.starts_at + timedelta(hours=2)
    community.save_event(actor=staff, title=event.title, summary="", agenda_md="", speakers="",
                         starts=format_local_iso(later, event.timezone),
                         ends=format_local_iso(later + timedelta(hours=1), event.timezone), timezone=event.timezone,
                         location="", join_url="", capacity=5, public=True, event=event)
    moved = _outbox(template="event_changed")
    assert sorted(m.to_addr for m in moved) == ["p0@nih.gov", "p2@nih.gov", "p3@nih.gov"]
    updated = icalendar.Calendar.from_ical(__import__("base64").b64decode(moved[0].attachments[0]["data"]))
    vevent = next(iter(updated.walk("VEVENT")))
    assert vevent.decoded("DTSTART").astimezone(UTC) == later and vevent["SEQUENCE"] == event.sequence == 2
    with pytest.raises(ValidationFailed, match="correct"):
        community.save_event(actor=staff, title=event.title, summary="", agenda_md="", speakers="",
                             starts=format_local_iso(event.starts_at, event.timezone),
                             ends=format_local_iso(event.ends_at, event.timezone), timezone=event.timezone,
                             location="", join_url="", capacity=1, public=True, event=event)


def test_registration_closes_at_the_start_and_for_cancelled_events(db, staff):
    started = _event(staff, days=-0.01)
    member = make_user(email="m@nih.gov", roles=("member",))
    with pytest.raises(Conflict, match="started"):
        community.register(actor=member, event=started)
    cancelled = _event(staff)
    community.register(actor=member, event=cancelled)
    community.cancel_event(actor=staff, event=cancelled, reason="Room flooded")
    assert "Room flooded" in _outbox(to="m@nih.gov", template="event_cancelled")[0].body_text
    with pytest.raises(Conflict, match="cancelled"):
        community.register(actor=make_user(email="n@nih.gov", roles=("member",)), event=cancelled)
    vendor = make_user(email="v@example.com", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        community.register(actor=vendor, event=_event(staff))


def test_reminders_go_the_day_before_once(db, staff, run_cli):
    soon = _event(staff, days=0.5)
    later = _event(staff, days=3)
    member = make_user(email="m@nih.gov", roles=("member",))
    community.register(actor=member, event=soon)
    community.register(actor=member, event=later)
    db.session.commit()
    assert "queued 1 event reminder(s)" in run_cli("community", "send-reminders").output
    assert "queued 0 event reminder(s)" in run_cli("community", "send-reminders").output
    reminders = _outbox(to="m@nih.gov", template="event_reminder")
    assert len(reminders) == 1 and soon.title in reminders[0].body_text
    assert community.send_event_reminders(now=utcnow() + timedelta(days=2, hours=12)) == 1  # the later one, then


def test_home_page_shows_the_next_meeting_with_a_register_button(client, db, staff):
    assert "Next community meeting" not in client.get("/").text
    community.schedule_meetings(actor=staff, months=2)
    db.session.commit()
    home = client.get("/")
    first = db.session.execute(select(Event).order_by(Event.starts_at)).scalars().first()
    assert "Next community meeting" in home.text and f"/community/events/{first.id}" in home.text
    assert ">Register<" in home.text


# --- resources ----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_staff_upload_a_file_and_a_link_and_people_find_them(client, app, db, staff, login_as):
    login_as(staff)
    event = _event(staff, days=-5, title="Kick-off")
    db.session.commit()
    added = client.post("/staff/community/resources", data={
        "title": "Kick-off slides", "description": "Slides", "kind": "presentation", "topics": "Evaluation, judging",
        "event_id": str(event.id), "file": (io.BytesIO(PDF), "slides.pdf")}, content_type="multipart/form-data")
    assert added.status_code == 302
    client.post("/staff/community/resources", data={"title": "Full meeting video", "kind": "recording",
                                                      "url": "https://video.example.gov/1", "members_only": "y"})
    resources = db.session.execute(select(Resource).order_by(Resource.id)).scalars().all()
    assert [r.title for r in resources] == ["Kick-off slides", "Full meeting video"]
    assert resources[0].topics == ["evaluation", "judging"] and resources[0].content_type == "application/pdf"
    login_as("anonymous")
    listing = client.get("/community/resources?topic=evaluation")
    assert "Kick-off slides" in listing.text and "Full meeting video" not in listing.text
    assert client.get(f"/community/resources/{resources[0].id}").data == PDF
    assert "/account/sign-in" in client.get(f"/community/resources/{resources[1].id}").headers["Location"]
    assert "Kick-off slides" in client.get(f"/community/events/{event.id}").text
    login_as(make_user(email="m@nih.gov", roles=("member",)))
    assert "Full meeting video" in client.get("/community/resources?q=meeting+video").text
    assert client.get(f"/community/resources/{resources[1].id}").headers["Location"] == "https://video.example.gov/1"
    login_as(staff)
    key, first_id = resources[0].storage_key, resources[0].id
    client.post(f"/staff/community/resources/{first_id}/delete")
    db.session.expire_all()
    from challenges.storage import get_storage

    assert get_storage().stat(key) is None and db.session.get(Resource, first_id) is None


@pytest.mark.parametrize(("upload", "url", "field", "message"), [
    ((b"MZ\x90\x00 not really", "slides.pdf"), "", "file", "program"),
    ((b"<html><script>alert(1)</script>", "notes.txt"), "", "file", "script"),
    ((PDF, "evil\u202efdp.exe"), "", "file", ""),
    ((PDF, "slides.pdf"), "https://example.gov/x", "url", "not both"),
    (None, "", "file", "Choose a file"),
    (None, "javascript:alert(1)", "url", "http"),
])
def test_bad_resources_are_refused_and_leave_nothing_behind(client, app, db, staff, login_as, upload, url, field,
                                                            message):
    login_as(staff)
    data = {"title": "Bad", "kind": "document", "url": url}
    if upload:
        data["file"] = (io.BytesIO(upload[0]), upload[1])
    page = client.post("/staff/community/resources", data=data, content_type="multipart/form-data")
    assert page.status_code == 400 and message in page.text
    assert db.session.execute(select(func.count(Resource.id))).scalar_one() == 0
    from pathlib import Path

    stored = [p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file()]
    assert stored == []  # no orphan file


def test_too_large_resource_is_refused(client, app, db, staff, login_as):
    app.config["RESOURCE_MAX_BYTES"] = 100
    login_as(staff)
    page = client.post("/staff/community/resources", data={
        "title": "Big", "kind": "document", "file": (io.BytesIO(PDF + b"x" * 200), "big.pdf")},
        content_type="multipart/form-data")
    assert page.status_code in (400, 413)
    assert db.session.execute(select(func.count(Resource.id))).scalar_one() == 0


# --- pages, contact, judge pool -----------------------------------------------------------


def test_staff_edit_about_and_steering_committee(client, db, staff, login_as):
    login_as(staff)
    client.post("/staff/community/pages/mission", data={"title": "Our mission", "body_md": "Help **agencies**."})
    assert client.post("/staff/community/pages/mission", data={"title": "", "body_md": "x"}).status_code == 400
    assert client.get("/staff/community/pages/nope").status_code == 404
    client.post("/staff/community/steering", data={"name": "Second", "title": "CIO", "organization": "GSA",
                                                   "position": "2"})
    client.post("/staff/community/steering", data={"name": "First", "title": "CAIO", "organization": "VA",
                                                   "position": "1"})
    client.post("/staff/community/steering", data={"name": "", "position": "3"})  # refused
    about = client.get("/community/about").text
    assert "Our mission" in about and "<strong>agencies</strong>" in about
    assert about.index("<strong>First</strong>") < about.index("<strong>Second</strong>")
    assert about.count("<li><strong>") == 2
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "community.page_saved")).scalar_one()
    assert audit.details["after"] == "Help **agencies**."


def test_contact_form_emails_the_configured_address_and_drops_honeypot_bots(client, app, db):
    app.config["CONTACT_EMAIL"] = "team@community.example.gov"
    bot = client.post("/community/contact", data={"name": "Bot", "email": "bot@spam.example", "subject": "Buy",
                                                  "message": "Cheap", "website": "http://spam.example"})
    assert bot.status_code == 302  # looks accepted
    assert db.session.execute(select(func.count(ContactMessage.id))).scalar_one() == 0 and _outbox() == []
    bad = client.post("/community/contact", data={"name": "", "email": "nope", "subject": "", "message": ""})
    assert bad.status_code == 400 and "Enter your name." in bad.text
    client.post("/community/contact", data={"name": "Ada", "email": "ada@nih.gov", "subject": "Speaking",
                                            "message": "I would like to present."})
    message = _outbox(to="team@community.example.gov")[0]
    assert message.headers["Reply-To"] == "ada@nih.gov" and "I would like to present." in message.body_text
    assert db.session.execute(select(ContactMessage.subject)).scalar_one() == "Speaking"


def test_contact_form_is_rate_limited(client, app, db):
    app.config["CONTACT_RATE_LIMIT"] = "2 per minute"
    data = {"name": "A", "email": "a@nih.gov", "subject": "S", "message": "M"}
    assert [client.post("/community/contact", data=data).status_code for _ in range(3)] == [302, 302, 429]
    assert db.session.execute(select(func.count(ContactMessage.id))).scalar_one() == 2


def test_judge_pool_volunteers_are_listed_on_the_panel_page_and_can_be_invited(client, db, staff, login_as):
    from challenges.judging.models import PanelMember
    from tests.factories import close_submissions, make_challenge

    phase = make_challenge(publish=True, slug="pool").phases[0]
    close_submissions(phase)
    volunteer = make_user(email="vol@nih.gov", roles=("member",), name="Val Volunteer")
    community.save_profile(user=volunteer, name="Val Volunteer", organization="NIH", job_title="", role_category=
                           "ai_practitioner", interests="", listed=True, show_email=False, show_organization=True,
                           show_title=True, show_interests=True, judge_volunteer=True, judge_expertise="imaging")
    with pytest.raises(ValidationFailed):
        community.save_profile(user=make_user(email="x@nih.gov", roles=("member",)), name="", organization="NIH",
                               job_title="", role_category="developer", interests="", listed=True, show_email=False,
                               show_organization=True, show_title=True, show_interests=True, judge_volunteer=True,
                               judge_expertise="")  # a volunteer names their expertise
    db.session.commit()
    login_as(staff)
    assert "Val Volunteer" in client.get("/staff/community/judge-pool?tag=imag").text
    assert "Val Volunteer" not in client.get("/staff/community/judge-pool?tag=privacy").text
    url = f"/staff/challenges/pool/phases/{phase.id}/panel"
    page = client.get(url)
    assert "From the community judge pool" in page.text and "vol@nih.gov" in page.text
    client.post(url, data={"email": "vol@nih.gov", "expertise": "imaging", "agency": "NIH", "max_load": "10",
                           "min_load": "0"})
    member = db.session.execute(select(PanelMember)).scalar_one()
    assert member.email == "vol@nih.gov" and member.expertise == ["imaging"]
    assert "vol@nih.gov" not in client.get(url).text.split("From the community judge pool")[1]


def test_subscribers_csv_export_neutralises_formulas(client, db, staff, login_as):
    community.subscribe(email="=cmd@example.com", name="=HYPERLINK(1)")
    community.confirm_subscription(token=community.make_list_token("ok@example.com", "confirm"))
    db.session.commit()
    login_as(staff)
    body = client.get("/staff/community/subscribers.csv").text
    lines = body.strip().splitlines()
    assert lines[0].startswith("email,name,status")
    assert "'=HYPERLINK(1)" in body and ",=HYPERLINK" not in body
    assert any(line.startswith("ok@example.com,,subscribed") for line in lines)
    assert datetime


def test_events_list_tells_each_member_whether_they_have_a_seat_or_a_waitlist_place(client, db, staff, login_as):
    event = _event(staff, capacity=1, title="Small room")
    seated, waiting = make_user(email="s@nih.gov", roles=("member",)), make_user(email="w@nih.gov", roles=("member",))
    community.register(actor=seated, event=event)
    community.register(actor=waiting, event=event)
    db.session.commit()
    login_as(seated)
    page = client.get("/community/events").text
    assert "Registered</span>" in page and "On the waitlist" not in page
    login_as(waiting)
    page = client.get("/community/events").text
    assert "On the waitlist</span>" in page and "Registered</span>" not in page
    assert re.search(r"\d:\d\d [AP]M–\d{1,2}:\d\d [AP]M E[SD]T", page)
