"""A vendor applies in a real browser: organisation, draft, upload with progress, submit, receipt."""

from __future__ import annotations

from sqlalchemy import select

from challenges.extensions import db
from challenges.submissions.models import Submission
from tests.factories import PDF_BYTES, make_challenge, make_user

PASSWORD = "correct horse battery staple"


def test_vendor_applies_with_upload_progress(browse, app, smtp_sink):
    """From nothing: register, confirm the email, add the organisation (which makes them a vendor), apply."""
    challenge = make_challenge(publish=True, slug="browser-apply", title="Browser Apply Challenge")
    person = browse()
    page = person.page
    person.register(smtp_sink, name="Val Vendor", email="vendor@example.com", password=PASSWORD)
    person.sign_in("vendor@example.com", PASSWORD)
    assert "My applications" not in page.content()  # not a vendor yet

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
    assert page.get_by_role("link", name="My applications").is_visible()  # adding it made them a vendor

    person.visit(f"/vendor/apply/{challenge.slug}/phase-1")
    person.submit("Start application")
    assert "Complete: 0%" in page.content()
    # Autosave: typing alone saves the draft in the background.
    page.get_by_label("Summary (required)").fill("Early sepsis detection")
    page.wait_for_function("() => document.querySelector('.site-autosave-status').textContent.includes('saved')")
    person.visit(page.url)
    assert page.get_by_label("Summary (required)").input_value() == "Early sepsis detection"
    page.get_by_label("Summary (required)").fill("Early sepsis detection from routine vitals.")
    person.submit("Save draft")
    assert "Draft saved" in page.content()

    # Upload: hold the request so the progress bar can be seen, then let it through.
    held = []
    page.route("**/files/deck/stream", lambda route: held.append(route))
    page.set_input_files("#file-deck", files=[{"name": "deck.pdf", "mimeType": "application/pdf",
                                               "buffer": PDF_BYTES + b"x" * 200_000}])  # uploads at once
    page.wait_for_selector(".site-upload-progress:not([hidden])")  # the bar shows while the upload runs
    page.get_by_role("button", name="Upload", exact=True).click()  # pressing Upload as well sends nothing twice
    assert len(held) == 1, "the upload request was sent, once"
    with page.expect_navigation():
        held[0].continue_()
    person.after_navigation()
    page.unroute("**/files/deck/stream")
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


def test_staff_screens_entry_and_downloads_zip(browse, app):
    import io
    import zipfile

    from tests.factories import make_submission

    staff = make_user(email="screener@example.gov", roles=("staff",), password=PASSWORD)
    vendor = make_user(email="applicant@example.com", roles=("vendor",), password=PASSWORD)
    challenge = make_challenge(author=staff, publish=True, slug="screen-me")
    phase = challenge.phases[0]
    submission, _ = make_submission(vendor=vendor, phase=phase, submit=True)

    person = browse()
    page = person.page
    person.sign_in(staff.email, PASSWORD)
    person.visit(f"/staff/challenges/{challenge.slug}/phases/{phase.id}/applications")
    with page.expect_navigation():
        page.get_by_role("link", name=submission.public_code).click()
    person.after_navigation()
    page.get_by_role("group", name="Eligible entity (U.S. organisation, not a federal entity)").get_by_text(
        "Pass").click()
    page.get_by_role("group", name="Active SAM.gov registration and UEI").get_by_text("Fail").click()
    page.locator("#sam-reason").fill("SAM registration expired in 2025")
    page.get_by_label("Decision", exact=True).select_option("ineligible")
    page.get_by_label("Reason for the decision").fill("No active SAM.gov registration")
    person.submit("Save screening")
    assert "Screening saved" in page.content() and "ineligible" in page.content()

    person.visit(f"/staff/challenges/{challenge.slug}/phases/{phase.id}/applications")
    person.submit("Download all submitted files (ZIP)")
    assert "Status: <strong>done</strong>" in page.content()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    from pathlib import Path

    archive = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert f"{submission.public_code}/deck-deck.pdf" in archive.namelist() and "manifest.csv" in archive.namelist()
