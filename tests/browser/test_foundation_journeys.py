"""Journeys of the foundation issue, in a real browser, with axe on every page."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from challenges.extensions import db
from challenges.models import Challenge
from tests.browser.conftest import path_of_emailed_link
from tests.factories import make_user

PASSWORD = "correct horse battery staple"


def test_register_verify_and_sign_in(browse, smtp_sink, live_server):
    person = browse()
    person.visit("/")
    person.visit("/account/register")
    page = person.page

    # A bad first attempt shows an error summary and keeps what was typed.
    page.get_by_label("Full name").fill("Pat Vendor")
    page.get_by_label("Email address").fill("pat@example.com")
    page.get_by_label("Password", exact=False).first.fill("short")
    page.get_by_label("Type the password again").fill("short")
    person.submit("Create account")
    assert page.get_by_role("alert").filter(has_text="There is a problem").is_visible()
    assert "at least 12 characters" in page.content()
    assert page.get_by_label("Email address").input_value() == "pat@example.com"

    page.get_by_label("Password", exact=False).first.fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    person.submit("Create account")
    assert page.get_by_role("heading", name="Check your email").is_visible()

    smtp_sink.wait_for(1)
    message = smtp_sink.messages[-1]
    assert message["To"] == "pat@example.com"
    person.visit(path_of_emailed_link(message))
    person.submit("Confirm my email")
    assert "is confirmed" in page.content()

    person.sign_in("pat@example.com", PASSWORD)
    assert page.get_by_role("heading", name="Your account").is_visible()
    assert "(confirmed)" in page.content()

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    person.after_navigation()
    assert "You have signed out" in page.content()


def test_wrong_password_shows_generic_error(browse, app):
    make_user(email="known@example.gov", roles=("vendor",), password=PASSWORD)
    person = browse()
    person.sign_in("known@example.gov", "not the password at all")
    assert "The email or password is not right" in person.page.content()
    person.sign_in("unknown@example.gov", "not the password at all")
    assert "The email or password is not right" in person.page.content()


def _fill(page, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).fill(value)


def test_staff_author_and_second_staff_approve(browse, app):
    make_user(email="author@example.gov", roles=("staff",), password=PASSWORD)
    make_user(email="approver@example.gov", roles=("staff",), password=PASSWORD)

    author = browse()
    author.sign_in("author@example.gov", PASSWORD)
    author.visit("/staff/challenges")
    with author.page.expect_navigation():
        author.page.get_by_role("link", name="New challenge").click()
    author.after_navigation()
    page = author.page

    _fill(page, "Title (required)", "Applied AI Challenge: Wildfire Detection")
    _fill(page, "Web address (slug) (required)", "Bad Slug!")
    _fill(page, "Agency", "Department of the Interior")
    _fill(page, "Summary", "Detect wildfires early from satellite and camera feeds.")
    author.submit("Create draft")
    assert "Use only lower-case letters" in page.content()
    _fill(page, "Web address (slug) (required)", "wildfire-2027")
    author.submit("Create draft")
    assert page.get_by_role("heading", name="Applied AI Challenge: Wildfire Detection").is_visible()
    assert "Still to do" in page.content()

    author.visit("/staff/challenges/wildfire-2027/prizes")
    _fill(page, "Total prize amount (US dollars) (required)", "500000")
    page.get_by_label("Awards").fill("- First place: $300,000\n- Second place: $200,000")
    author.submit("Save")

    author.visit("/staff/challenges/wildfire-2027/rules")
    page.get_by_label("Eligibility").fill("U.S. organisations registered in **SAM.gov**.")
    page.get_by_label("Official rules").fill("1. Apply before the deadline.\n<script>alert(1)</script>")
    author.submit("Save")

    author.visit("/staff/challenges/wildfire-2027/timeline")
    opens = date.today() - timedelta(days=1)
    closes = date.today() + timedelta(days=45)
    _fill(page, "Key (required)", "concept")
    _fill(page, "Name (required)", "Concept papers")
    # Closing before opening is refused in place.
    page.get_by_label("Opens (required)").fill(f"{closes}T09:00")
    page.get_by_label("Closes (required)").fill(f"{opens}T17:00")
    author.submit("Add phase")
    assert "Closing time must be after opening time" in page.content()
    page.get_by_label("Opens (required)").fill(f"{opens}T09:00")
    page.get_by_label("Closes (required)").fill(f"{closes}T17:00")
    author.submit("Add phase")
    assert "Phase added" in page.content()

    with page.expect_navigation():
        page.get_by_role("link", name="Application form").first.click()
    author.after_navigation()
    _fill(page, "Question or label (required)", "Solution summary")
    _fill(page, "Key (required)", "summary")
    page.get_by_label("Type").select_option("textarea")
    author.tick("Required")
    assert page.get_by_label("Required", exact=True).is_checked()
    page.get_by_label("Maximum length (characters)").fill("2000")
    author.submit("Add field")
    assert "Field added" in page.content()

    with page.expect_navigation():
        page.get_by_role("link", name="Rubric").first.click()
    author.after_navigation()
    _fill(page, "Name (required)", "Technical merit")
    _fill(page, "Key (required)", "technical")
    _fill(page, "Weight (required)", "-1")
    author.submit("Add criterion")
    assert "Enter a weight from 0 to 1,000." in page.content()
    _fill(page, "Weight (required)", "3")
    page.get_by_label("Anchor labels", exact=False).fill("1: Poor\n5: Excellent")
    author.submit("Add criterion")
    assert "Criterion added" in page.content()

    author.visit("/staff/challenges/wildfire-2027")
    assert "Every section is complete" in page.content()
    author.submit("Send for approval")
    assert "Sent for approval" in page.content()

    # The author cannot approve their own challenge.
    author.visit("/staff/challenges/wildfire-2027/review")
    assert "a staff member who did not edit it must approve it" in page.content()
    assert page.get_by_role("button", name="Approve and publish").count() == 0

    approver = browse()
    approver.sign_in("approver@example.gov", PASSWORD)
    approver.visit("/staff/challenges/wildfire-2027/review")
    approver.submit("Approve and publish")
    assert "Approved and published" in approver.page.content()

    public = browse()
    public.visit("/challenges")
    assert public.page.get_by_role("link", name="Applied AI Challenge: Wildfire Detection").is_visible()
    public.visit("/challenges/wildfire-2027")
    content = public.page.content()
    assert "<script>alert(1)</script>" not in content
    assert "Concept papers" in content
    assert "America/New_York" in content

    db.session.expire_all()
    challenge = db.session.execute(select(Challenge).where(Challenge.slug == "wildfire-2027")).scalar_one()
    assert challenge.status == "published"
    assert challenge.approved_by.email == "approver@example.gov"
    assert challenge.created_by.email == "author@example.gov"
