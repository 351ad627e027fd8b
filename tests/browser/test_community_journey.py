"""A community member's journey and the staff newsletter, in a real browser, with axe on every page."""

from __future__ import annotations

import icalendar
from sqlalchemy import select

from tests.browser.conftest import path_of_emailed_link
from tests.factories import make_user

PASSWORD = "correct horse battery staple"


def test_member_joins_subscribes_joins_a_group_registers_and_staff_send_a_newsletter(browse, app, smtp_sink, db):
    from challenges.community import services as community
    from challenges.community.models import Registration, Subscription

    staff = make_user(email="community.staff@example.gov", roles=("staff",), password=PASSWORD)
    community.schedule_meetings(actor=staff, months=3)
    community.save_group(actor=staff, name="Responsible AI", slug="responsible-ai", summary="Risk and assurance",
                         description_md="We share **evaluation plans**.")
    db.session.commit()

    # A person with a .gov address joins and confirms the address.
    person = browse()
    page = person.page
    person.visit("/")
    with page.expect_navigation():
        page.get_by_role("link", name="Register for Monthly community meeting").click()
    person.after_navigation()
    person.visit("/community/join")
    page.get_by_label("Full name").fill("Pat Jones")
    page.get_by_label("Work email address").fill("pat.jones@nih.gov")
    page.get_by_label("Password", exact=False).first.fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    person.submit("Join")
    assert "Check your email" in page.content()
    person.visit(path_of_emailed_link(smtp_sink.wait_for(1)[-1]))
    person.submit("Confirm my email")
    person.sign_in("pat.jones@nih.gov", PASSWORD)

    # Profile, then the public mailing-list form with its double opt-in.
    person.visit("/community/profile")
    page.get_by_role("textbox", name="Agency or institution").fill("National Institutes of Health")
    page.get_by_label("Which best describes your role?").select_option("data_scientist")
    person.submit("Save profile")
    assert "Your member profile is saved" in page.content()
    person.visit("/community/subscribe")
    page.get_by_label("Email address").fill("pat.jones@nih.gov")
    before = len(smtp_sink.messages)
    person.submit("Subscribe")
    confirm = smtp_sink.wait_for(before + 1)[-1]
    assert confirm["Subject"] == "Confirm your subscription"
    person.visit(path_of_emailed_link(confirm))
    person.submit("Confirm subscription")
    assert "is subscribed to the mailing list" in page.content()

    # A working group, then the next meeting and its calendar file.
    person.visit("/community/groups")
    with page.expect_navigation():
        page.get_by_role("link", name="About Responsible AI").click()
    person.after_navigation()
    person.submit("Join Responsible AI")
    assert "You have joined Responsible AI" in page.content()
    person.visit("/community/events")
    with page.expect_navigation():
        page.get_by_role("link", name="Monthly community meeting").first.click()
    person.after_navigation()
    person.submit("Register")
    assert "You are registered" in page.content()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download calendar file (.ics)").click()
    calendar = icalendar.Calendar.from_ical(download.value.path().read_bytes())
    event = next(iter(calendar.walk("VEVENT")))
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.decoded("DTSTART").hour == 13
    assert db.session.execute(select(Registration.status)).scalar_one() == "registered"

    # Staff write a newsletter, preview it and send it; it arrives with a working unsubscribe link.
    office = browse()
    office.sign_in(staff.email, PASSWORD)
    office.visit("/staff/community/newsletters")
    with office.page.expect_navigation():
        office.page.get_by_role("link", name="Write a newsletter").click()
    office.after_navigation()
    office.page.get_by_label("Subject").fill("December news")
    office.page.get_by_label("Message (Markdown)").fill("## Meeting\n\nThe **next meeting** is on Thursday.")
    office.submit("Save draft and preview")
    assert "Send to 1 address" in office.page.content()
    office.page.on("dialog", lambda dialog: dialog.accept())
    before = len(smtp_sink.messages)
    office.submit("Send to 1 address")
    assert "done" in office.page.content().lower() or "100" in office.page.content()
    newsletter = next(m for m in smtp_sink.wait_for(before + 1)[before:] if m["Subject"] == "December news")
    assert newsletter["To"] == "pat.jones@nih.gov" and newsletter["List-Unsubscribe"].startswith("<http")
    text = newsletter.get_body(preferencelist=("plain",)).get_content()
    assert "The **next meeting** is on Thursday." in text
    unsubscribe = newsletter["List-Unsubscribe"].strip("<>")
    person.visit("/" + unsubscribe.split("/", 3)[3])
    person.submit("Unsubscribe")
    assert "You are unsubscribed" in page.content()
    db.session.expire_all()
    assert db.session.execute(select(Subscription)).scalar_one().unsubscribed_at is not None


def test_community_pages_are_accessible(browse, app, db):
    import io

    from challenges.community import services as community
    from challenges.community.models import Event, SteeringMember

    staff = make_user(email="a11y.staff@example.gov", roles=("staff",), password=PASSWORD)
    member = make_user(email="a11y.member@nih.gov", roles=("member",), password=PASSWORD, name="Mo Member")
    community.save_profile(user=member, name="Mo Member", organization="NIH", job_title="Lead", role_category=
                           "developer", interests="nlp", listed=True, show_email=True, show_organization=True,
                           show_title=True, show_interests=True, judge_volunteer=True, judge_expertise="nlp")
    community.schedule_meetings(actor=staff, months=2)
    group = community.save_group(actor=staff, name="Acquisition", slug="acquisition", summary="Buying AI",
                                 description_md="")
    community.join_group(actor=member, group=group)
    community.set_lead(actor=staff, group=group, user_id=member.id, lead=True)
    event = db.session.execute(select(Event)).scalars().first()
    community.register(actor=member, event=event)
    community.add_resource(actor=staff, title="Slides", description="Deck", kind="presentation", topics="nlp",
                           upload=io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="slides.pdf", event_id=event.id)
    newsletter = community.save_newsletter(actor=staff, subject="Draft", body_md="# Hi", audience="members")
    community.save_page(actor=staff, slug="mission", title="Mission", body_md="Help agencies.")
    steering = SteeringMember(name="Chair Person", title="CAIO", organization="GSA", position=1)
    db.session.add(steering)
    db.session.commit()

    visitor = browse()
    for path in ["/community/", "/community/about", "/community/contact", "/community/subscribe",
                 "/community/join", "/community/groups", "/community/groups/acquisition", "/community/events",
                 f"/community/events/{event.id}", "/community/resources?q=slides&kind=presentation",
                 "/community/unsubscribe/not-a-token"]:
        visitor.visit(path)
    visitor.visit("/community/contact")
    visitor.submit("Send message")  # the contact form's error summary
    assert "There is a problem" in visitor.page.content()

    person = browse()
    person.sign_in(member.email, PASSWORD)
    for path in ["/community/profile", "/community/directory", "/community/groups/acquisition",
                 f"/community/events/{event.id}"]:
        person.visit(path)

    office = browse()
    office.sign_in(staff.email, PASSWORD)
    for path in ["/staff/community/", "/staff/community/subscribers", "/staff/community/judge-pool",
                 "/staff/community/newsletters", "/staff/community/newsletters/new",
                 f"/staff/community/newsletters/{newsletter.id}", f"/staff/community/groups/{group.id}",
                 "/staff/community/groups/new", "/staff/community/events", "/staff/community/events/new",
                 f"/staff/community/events/{event.id}", "/staff/community/resources", "/staff/community/about",
                 "/staff/community/pages/vision", f"/staff/community/steering/{steering.id}"]:
        office.visit(path)
    office.visit("/staff/community/events/new")
    office.submit("Save event")  # errors on the event form
    assert "There is a problem" in office.page.content()
    # Forms on list pages come back on their page with what was typed (checked with axe in the error state).
    office.visit("/staff/community/")
    office.page.get_by_label("Email address").fill("lead@mission-contractor.com")
    office.submit("Grant exception")
    assert "Reason: Give a reason." in office.page.content()
    assert office.page.get_by_label("Email address").input_value() == "lead@mission-contractor.com"
    office.visit("/staff/community/events")
    office.page.get_by_label("Months ahead").fill("500")
    office.submit("Schedule meetings")
    assert "There is a problem" in office.page.content()
    assert office.page.get_by_label("Months ahead").input_value() == "500"
    office.visit(f"/staff/community/events/{event.id}")
    office.page.once("dialog", lambda dialog: dialog.accept())  # "Cancel this event…?"
    office.submit("Cancel event")
    assert "There is a problem" in office.page.content()
    assert office.page.get_by_label("Title").first.input_value() == event.title

    # On a phone: no page scrolls sideways, the search buttons stay visible and named (their icon's
    # alternative text), and the administration links fold behind one control so the content comes first.
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    person.page.set_viewport_size({"width": 390, "height": 800})
    person.visit("/community/directory")
    assert person.page.evaluate(fits)
    assert person.page.get_by_role("search").get_by_role("button", name="Search", exact=True).is_visible()
    office.page.set_viewport_size({"width": 390, "height": 800})
    for path in ["/staff/community/", "/staff/community/subscribers", f"/staff/community/groups/{group.id}",
                 f"/staff/community/events/{event.id}", "/staff/community/about", "/staff/community/judge-pool"]:
        office.visit(path)
        assert office.page.evaluate(fits), path
        link = office.page.get_by_role("navigation", name="Community administration", include_hidden=True).get_by_role(
            "link", name="Newsletters", include_hidden=True)
        assert link.count() == 1 and link.is_hidden(), path
    office.page.get_by_label("Filter by expertise").fill("nlp")
    with office.page.expect_navigation():
        office.page.get_by_role("search").get_by_role("button", name="Filter", exact=True).click()
    office.after_navigation()
    assert "tag=nlp" in office.page.url and "Mo Member" in office.page.content()
