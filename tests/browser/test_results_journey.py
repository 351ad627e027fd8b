"""From a judged phase to published winners and released feedback, in the browser, axe on every page."""

from __future__ import annotations

from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user

PASSWORD = "correct horse battery staple"


def test_staff_award_publish_and_vendor_reads_feedback(browse, app):
    from challenges import services as core
    from challenges.extensions import db
    from challenges.judging import services as judging

    author = make_user(email="results.author@example.gov", roles=("staff",), password=PASSWORD)
    approver = make_user(email="results.approver@example.gov", roles=("staff",), password=PASSWORD)
    challenge = make_challenge(author=author, publish=True, slug="results-journey", title="Results Journey")
    phase = challenge.phases[0]
    vendors = []
    for n in range(4):
        vendor = make_user(email=f"team{n}@results{n}.com", roles=("vendor",), password=PASSWORD)
        entry, _ = make_submission(vendor, phase, organization_name=f"Results Co {n}", submit=True)
        vendors.append((vendor, entry))
    phase.public_results = "leaderboard"  # the winners page then shows the whole ranking too
    close_submissions(phase)
    for j in range(3):
        judge = make_judge(phase, f"rj{j}@agency.gov")
        for n, (_, entry) in enumerate(vendors):
            a = make_assignment(judge, entry)
            judging.save_review(actor=judge.user, assignment=a, values={"quality": str(5 - n), "impact": str(5 - n)},
                                comments={"quality": f"Note {j}-{n}"}, submit=True)
    core.transition(actor=author, challenge=challenge, to="closed")
    core.transition(actor=author, challenge=challenge, to="judging")
    db.session.commit()
    winner = vendors[0][1]
    base = f"/staff/challenges/{challenge.slug}/phases/{phase.id}"

    office = browse()
    office.sign_in(author.email, PASSWORD)
    office.visit(f"{base}/leaderboard")
    office.visit(f"{base}/awards")
    page = office.page
    page.get_by_label("Entry", exact=True).select_option(index=1)
    page.get_by_label("Place").fill("1")
    page.get_by_label("Award", exact=True).fill("First place")
    page.get_by_label("Amount in dollars").fill("25000")
    page.get_by_label("Justification").fill("Highest on every method and every judge's first choice.")
    page.get_by_label("Override reason (for a flagged entry)").fill("Reviewed by the full panel.")
    office.submit("Record the award")
    assert "another staff member must approve it" in page.content()

    second = browse()
    second.sign_in(approver.email, PASSWORD)
    second.visit(f"{base}/awards")
    second.submit("Approve")
    assert "Award approved" in second.page.content()
    second.page.on("dialog", lambda dialog: dialog.accept())
    assert "Publish results" not in second.page.content()  # judging is still open: the page says so
    second.visit(f"{base}/progress")
    second.submit("Close judging")
    second.visit(f"{base}/awards")
    second.submit("Publish results")
    assert "Results published" in second.page.content() and "First place" in second.page.content()

    second.visit(f"{base}/feedback")
    second.submit("Release feedback")
    assert "Feedback released" in second.page.content()

    vendor, entry = vendors[0]
    applicant = browse()
    applicant.sign_in(vendor.email, PASSWORD)
    applicant.visit(f"/vendor/applications/{entry.id}")
    with applicant.page.expect_navigation():
        applicant.page.get_by_role("link", name="read your feedback").click()
    applicant.after_navigation()
    assert "Judge A" in applicant.page.content() and "rj0@agency.gov" not in applicant.page.content()
    anonymous = browse()
    anonymous.visit(f"/challenges/{challenge.slug}/winners")
    assert winner.public_code in anonymous.page.content()
    assert "Full ranking" in anonymous.page.content()
    assert all(entry.public_code in anonymous.page.content() for _, entry in vendors)


def test_demo_challenge_report_renders_from_the_leaderboard(browse, app):
    """`make run`'s demo: the challenge in judging has a full leaderboard and its award report downloads."""
    import io
    from pathlib import Path

    from pypdf import PdfReader

    from challenges.demo import load
    from challenges.extensions import db
    from challenges.jobs import dispatch_committed
    from challenges.models import Challenge

    load()
    db.session.commit()
    dispatch_committed()
    phase = db.session.execute(db.select(Challenge).where(Challenge.slug == "doc-ai-2026")).scalar_one().phases[0]
    office = browse()
    office.sign_in("staff@example.gov", app.config["DEMO_PASSWORD"])
    office.visit(f"/staff/challenges/doc-ai-2026/phases/{phase.id}/leaderboard")
    assert office.page.locator("table caption", has_text="Entries in rank order").is_visible()
    office.submit("Award report (PDF)")
    assert "done" in office.page.content()
    with office.page.expect_download() as download_info:
        office.page.get_by_role("link", name="Download").click()
    reader = PdfReader(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Award report" in text and "Applied AI Challenge: Document Understanding" in text
    assert len(reader.pages) >= 4
