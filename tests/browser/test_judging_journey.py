"""A judge's whole journey and the staff side of it, in a real browser, with axe on every page."""

from __future__ import annotations

from tests.browser.conftest import path_of_emailed_link
from tests.factories import close_submissions, make_challenge, make_judge, make_submission, make_user

PASSWORD = "correct horse battery staple"


def test_judge_invitation_attestation_conflict_scoring_and_staff_approval(browse, app, smtp_sink):
    staff = make_user(email="panel.staff@example.gov", roles=("staff",), password=PASSWORD)
    make_user(email="expert@agency.gov", roles=(), password=PASSWORD, name="Ada Expert")
    challenge = make_challenge(author=staff, publish=True, slug="judge-journey", title="Judge Journey Challenge")
    phase = challenge.phases[0]
    entries = []
    for n in range(3):
        vendor = make_user(email=f"team{n}@startup{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, phase, organization_name=f"Startup {n}", submit=True)
        entries.append(entry)
    close_submissions(phase)
    for n in range(2):
        make_judge(phase, f"colleague{n}@agency{n}.gov")
    codes = [e.public_code for e in entries]
    panel = f"/staff/challenges/{challenge.slug}/phases/{phase.id}"

    # Staff invite the judge from the panel page.
    office = browse()
    office.sign_in(staff.email, PASSWORD)
    office.visit(f"{panel}/panel")
    office.page.get_by_label("Email address", exact=True).fill("expert@agency.gov")
    office.page.get_by_label("Expertise tags", exact=True).fill("health, nlp")
    office.submit("Send invitation")
    assert "Invitation sent to expert@agency.gov" in office.page.content()
    invitation = next(m for m in smtp_sink.wait_for(2) if m["To"] == "expert@agency.gov")

    # The judge accepts and signs the attestation.
    judge = browse()
    page = judge.page
    judge.sign_in("expert@agency.gov", PASSWORD)
    judge.visit(path_of_emailed_link(invitation))
    judge.submit("Accept the invitation")
    assert page.get_by_role("heading", name="Non-disclosure and conflict-of-interest attestation").is_visible()
    judge.submit("Sign the attestation")
    assert "Tick the box" in page.content()  # the error is shown, nothing signed
    page.get_by_label("Your current and recent").fill("Agency research office")
    judge.tick("I have read the attestation above and agree to it")
    judge.submit("Sign the attestation")
    assert "No entries are assigned to you yet" in page.content()

    # Staff propose an automatic assignment, look at it, and approve it.
    office.visit(f"{panel}/assignments")
    office.page.get_by_label("Judges per entry (k)").fill("3")
    office.submit("Propose an assignment")
    assert "is ready" in office.page.content() and "9 new pairs" in office.page.content()
    office.submit("Approve and notify judges")
    assert "Approved: 9 assignment(s)" in office.page.content()
    office.visit(f"{panel}/progress")
    assert "0 of 9 reviews submitted" in office.page.content()
    # The ten section tabs wrap: the page never scrolls sideways on a 1280-pixel screen, nor on a phone.
    assert office.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    office.page.set_viewport_size({"width": 390, "height": 800})
    for section in ("progress", "panel", "conflicts", "assignments", "leaderboard", "statistics", "awards"):
        office.visit(f"{panel}/{section}")  # wide tables scroll in their own box, not the page
        assert office.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), section
    office.page.set_viewport_size({"width": 1280, "height": 720})

    # The judge declares a conflict with the first entry: it leaves the queue.
    judge.visit("/judging/")
    assert all(code in page.content() for code in codes)
    with page.expect_navigation():
        page.get_by_role("link", name="Declare a conflict").click()
    judge.after_navigation()
    page.get_by_label("With one entry in your queue").select_option(label=codes[0])
    page.get_by_label("Kind of conflict").select_option("employment")
    page.get_by_label("Reason").fill("I worked there until last spring.")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    judge.submit("Declare the conflict")
    assert asked and "Declare this conflict?" in asked[0]
    assert codes[0] not in page.content() and codes[1] in page.content()

    # Second entry: a draft first, then resumed and submitted.
    with page.expect_navigation():
        page.get_by_role("link", name=codes[1]).click()
    judge.after_navigation()
    page.get_by_label("Score from 1 to 5").first.fill("4")
    judge.submit("Save draft")
    assert "Draft saved" in page.content()
    judge.visit("/judging/")
    assert "Draft" in page.content()
    with page.expect_navigation():
        page.get_by_role("link", name=codes[1]).click()
    judge.after_navigation()
    assert page.get_by_label("Score from 1 to 5").first.input_value() == "4"
    judge.submit("Submit review")
    assert "Score Impact: it is required." in page.content()  # V2, shown on the page
    page.get_by_label("Score from 1 to 5").nth(1).fill("5")
    judge.submit("Submit review")
    assert "Review submitted" in page.content() and "total 85.0 / 100" in page.content()

    # Third entry straight to submitted.
    judge.visit("/judging/")
    with page.expect_navigation():
        page.get_by_role("link", name=codes[2]).click()
    judge.after_navigation()
    page.get_by_label("Score from 1 to 5").first.fill("2")
    # Typing is saved in the background: the status says so and a reload shows the value kept.
    page.wait_for_function("() => document.querySelector('.site-autosave-status').textContent.includes('saved at')")
    judge.visit(page.url)
    assert page.get_by_label("Score from 1 to 5").first.input_value() == "2"
    page.get_by_label("Score from 1 to 5").nth(1).fill("3")
    judge.submit("Submit review")
    judge.visit("/judging/")
    assert "2 of 2 reviews submitted" in page.content()

    # Staff see progress move and the conflict on record.
    office.visit(f"{panel}/progress")
    assert "2 of 8 reviews submitted" in office.page.content()
    office.visit(f"{panel}/conflicts")
    assert "I worked there until last spring." in office.page.content()
