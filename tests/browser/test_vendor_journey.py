"""A vendor applies in a real browser: organisation, draft, upload with progress, submit, receipt."""

from __future__ import annotations

from sqlalchemy import select

from challenges.extensions import db
from challenges.submissions.models import Submission
from tests.factories import PDF_BYTES, make_challenge, make_user

PASSWORD = "correct horse battery staple"


def test_vendor_applies_with_upload_progress(browse, app):
    challenge = make_challenge(publish=True, slug="browser-apply", title="Browser Apply Challenge")
    make_user(email="vendor@example.com", roles=("vendor",), password=PASSWORD)
    person = browse()
    page = person.page
    person.sign_in("vendor@example.com", PASSWORD)

    person.visit(f"/challenges/{challenge.slug}")
    with page.expect_navigation():
        page.get_by_role("link", name="Apply to concept papers").click()
    person.after_navigation()
    with page.expect_navigation():
        page.get_by_role("link", name="Add your organisation").click()
    person.after_navigation()
    page.get_by_label("Legal name (required)").fill("Browser Labs LLC")
    page.get_by_label("Unique Entity ID (UEI)").fill("J7M9HPTGJ1SO")  # letter O is not allowed
    person.submit("Save profile")
    assert "never the letters I or O" in page.content()
    page.get_by_label("Unique Entity ID (UEI)").fill("J7M9HPTGJ1S9")
    person.tick("Women-owned")
    person.submit("Save profile")

    person.visit(f"/vendor/apply/{challenge.slug}/phase-1")
    person.submit("Start application")
    assert "Complete: 0%" in page.content()
    page.get_by_label("Summary (required)").fill("Early sepsis detection from routine vitals.")
    person.submit("Save draft")
    assert "Draft saved" in page.content()

    # Upload: hold the request so the progress bar can be seen, then let it through.
    held = []
    page.route("**/files/deck", lambda route: held.append(route))
    page.set_input_files("#file-deck", files=[{"name": "deck.pdf", "mimeType": "application/pdf",
                                               "buffer": PDF_BYTES + b"x" * 200_000}])
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector(".site-upload-progress:not([hidden])")  # the bar shows while the upload runs
    assert held, "the upload request was sent"
    with page.expect_navigation():
        held[0].continue_()
    person.after_navigation()
    page.unroute("**/files/deck")
    assert "Current file:" in page.content() and "deck.pdf" in page.content()

    # Leave and come back to the draft.
    person.visit("/vendor/")
    with page.expect_navigation():
        page.locator("table a").first.click()
    person.after_navigation()
    assert page.get_by_label("Summary (required)").input_value() == "Early sepsis detection from routine vitals."

    person.submit("I accept the official rules")
    person.submit("Submit application")
    assert "Receipt: AI-" in page.content()
    assert "deck.pdf" in page.content()

    db.session.expire_all()
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.status == "submitted" and submission.public_code in page.content()
