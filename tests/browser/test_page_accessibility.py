"""Every page that the journeys do not reach, checked with axe in a real browser."""

from __future__ import annotations

from tests.factories import make_challenge, make_user

PASSWORD = "correct horse battery staple"


def test_every_staff_and_admin_page_is_accessible(browse, app):
    admin = make_user(email="admin@example.gov", roles=("admin", "staff"), password=PASSWORD)
    target = make_user(email="someone@example.gov", roles=("vendor",))
    draft = make_challenge(author=admin, slug="a11y-draft")
    make_challenge(author=admin, slug="a11y-published", publish=True)
    phase = draft.phases[0]
    field, criterion = phase.fields[0], phase.rubric.criteria[0]
    person = browse()
    person.sign_in(admin.email, PASSWORD)
    base = f"/staff/challenges/{draft.slug}"
    pages = [
        "/", "/challenges", "/challenges?state=open&agency=GSA&q=test", "/challenges/a11y-published",
        f"/challenges/{draft.slug}", "/account/", "/admin/users", f"/admin/users/{target.id}",
        "/staff/audit/", "/staff/audit/?since=not-a-date", "/staff/challenges", "/staff/challenges/new",
        "/staff/challenges/import", base, f"{base}/general", f"{base}/prizes", f"{base}/rules",
        f"{base}/timeline", f"{base}/phases/{phase.id}", f"{base}/phases/{phase.id}/form",
        f"{base}/phases/{phase.id}/form/{field.id}", f"{base}/phases/{phase.id}/rubric",
        f"{base}/phases/{phase.id}/rubric/{criterion.id}", f"{base}/phases/{phase.id}/judging",
        f"{base}/review", "/staff/challenges/a11y-published", "/challenges/does-not-exist",
    ]
    for path in pages:
        person.visit(path)
    assert len(person.checked) == len(pages) + 2  # plus the sign-in page and where it lands


def test_anonymous_pages_are_accessible(browse, app):
    person = browse()
    for path in ["/account/register", "/account/sign-in", "/account/forgot-password", "/account/verify/resend",
                 "/account/verify/some-token", "/account/reset/bad-token", "/staff/challenges"]:
        person.visit(path)
    assert person.page.url.endswith("/account/sign-in?next=%2Fstaff%2Fchallenges")


def test_error_summary_and_field_errors_are_accessible(browse, app):
    make_user(email="staff@example.gov", roles=("staff",), password=PASSWORD)
    person = browse()
    person.sign_in("staff@example.gov", PASSWORD)
    person.visit("/staff/challenges/new")
    person.submit("Create draft")
    page = person.page
    assert page.get_by_role("alert").filter(has_text="There is a problem").is_visible()
    title = page.get_by_label("Title (required)")
    assert title.get_attribute("aria-invalid") == "true"
    assert "title-error" in (title.get_attribute("aria-describedby") or "")
    assert page.evaluate("document.activeElement.classList.contains('site-error-summary')")


# What sticks out of a phone-width page, for the failure message.
WIDER_THAN_SCREEN = ("Array.from(document.querySelectorAll('body *'))"
                     ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
                     ".map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40))")


def test_application_pages_are_accessible(browse, app):
    from tests.factories import make_submission

    vendor = make_user(email="vendor@example.gov", roles=("vendor",), password=PASSWORD)
    staff = make_user(email="staff@example.gov", roles=("staff",), password=PASSWORD)
    challenge = make_challenge(author=staff, slug="a11y-apply", publish=True)
    phase = challenge.phases[0]
    submission, _ = make_submission(vendor=vendor, phase=phase, submit=True)
    person = browse()
    person.sign_in(vendor.email, PASSWORD)
    for path in ["/vendor/", "/vendor/organizations/new", f"/vendor/organizations/{submission.organization_id}",
                 f"/vendor/apply/{challenge.slug}/{phase.key}", f"/vendor/applications/{submission.id}",
                 f"/vendor/applications/{submission.id}/receipts/{submission.submitted_version}"]:
        person.visit(path)
    # On a phone the vendor's pages and the public community pages never scroll sideways: the
    # applications table stacks into cards, the community tabs wrap (axe runs again at this width).
    person.page.set_viewport_size({"width": 390, "height": 800})
    for path in ["/vendor/", f"/vendor/applications/{submission.id}", f"/challenges/{challenge.slug}",
                 "/community/", "/community/events"]:
        person.visit(path)
        assert person.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            path, person.page.evaluate(WIDER_THAN_SCREEN))
    reviewer = browse()
    reviewer.sign_in(staff.email, PASSWORD)
    for path in [f"/staff/challenges/{challenge.slug}/phases/{phase.id}/applications",
                 f"/staff/applications/{submission.id}"]:
        reviewer.visit(path)
    # A disqualified application: the list filtered (the export links say what they hold), then the
    # Reinstate form, refused without a reason (the error on the field), then done.
    from challenges.extensions import db
    from challenges.submissions import services as subs

    subs.disqualify(actor=staff, submission=submission, reason="Checked in the browser")
    db.session.commit()
    reviewer.visit(f"/staff/challenges/{challenge.slug}/phases/{phase.id}/applications?status=disqualified&q=acme")
    page = reviewer.visit(f"/staff/applications/{submission.id}")
    page.on("dialog", lambda dialog: dialog.accept())  # the form asks "Reinstate …?" first
    reviewer.submit("Reinstate")
    assert "Say why the application is reinstated" in page.content()
    page.fill("#reinstate-reason", "Eligibility confirmed")
    reviewer.submit("Reinstate")
    assert "is reinstated as submitted" in page.content()


def test_judging_pages_the_journey_does_not_reach(browse, app):
    """Bids, blind entry page, score import with errors, empty states, a proposal table."""
    from tests.factories import close_submissions, make_assignment, make_judge, make_submission

    staff = make_user(email="a11y-staff@example.gov", roles=("staff",), password=PASSWORD)
    challenge = make_challenge(author=staff, slug="a11y-judging", publish=True)
    phase = challenge.phases[0]
    phase.bids_enabled, phase.blind = True, True
    vendor = make_user(email="v@a11y.com", roles=("vendor",), password=PASSWORD)
    entry, _ = make_submission(vendor, phase, submit=True)
    close_submissions(phase)
    judge_user = make_user(email="a11y-judge@agency.gov", roles=("judge",), password=PASSWORD)
    member = make_judge(phase, user=judge_user)
    assignment = make_assignment(member, entry)

    judge = browse()
    judge.sign_in(judge_user.email, PASSWORD)
    for path in ["/judging/", f"/judging/entries/{assignment.id}", f"/judging/panels/{member.id}/attestation",
                 "/judging/invitations/not-a-token", f"/judging/panels/{member.id}/bids"]:
        judge.visit(path)
    judge.page.locator("label.usa-radio__label", has_text="Yes").first.click()
    judge.submit("Save my preferences")
    assert "Your preferences are saved" in judge.page.content()

    office = browse()
    office.sign_in(staff.email, PASSWORD)
    base = f"/staff/challenges/{challenge.slug}/phases/{phase.id}"
    for path in [f"{base}/panel", f"{base}/conflicts", f"{base}/progress", f"{base}/advance", f"{base}/import-scores"]:
        office.visit(path)
    office.page.set_input_files("#file", files=[{"name": "s.csv", "mimeType": "text/csv",
                                                 "buffer": b"entry,judge,criterion,score\nX,y@z.gov,quality,9\n"}])
    office.submit("Import")
    assert "line 2:" in office.page.content()
    office.visit(f"{base}/assignments")
    office.page.get_by_label("Judges per entry (k)").fill("1")
    office.page.get_by_label("Ensure: top up").check()
    office.submit("Propose an assignment")
    assert "Load per judge after this proposal" in office.page.content()

    # The vendor's dashboard with an invitation to the next round.
    from datetime import timedelta

    from challenges.extensions import db
    from challenges.submissions.models import Advancement

    db.session.add(Advancement(from_submission_id=entry.id, to_phase_id=phase.id, organization_id=entry.organization_id,
                               accept_by=phase.closes_at + timedelta(days=2)))
    db.session.commit()
    applicant = browse()
    applicant.sign_in(vendor.email, PASSWORD)
    applicant.visit("/vendor/")
    assert "Invitations to the next round" in applicant.page.content()


def test_leaderboard_and_statistics_pages_are_accessible(browse, app, run_cli, tmp_path):
    """Tables and SVG charts on a judged phase pass axe; the method switch works."""
    from challenges.extensions import db
    from tests.factories import make_definition

    staff = make_user(email="results-staff@example.gov", roles=("staff",), password=PASSWORD)
    definition = make_definition()
    challenge = make_challenge(author=staff, slug="a11y-results", **{k: v for k, v in definition.items()
                                                                     if k != "slug"})
    rows = ["entry,judge,criterion,score"]
    for n, (quality, impact) in enumerate([(5, 4), (3, 3), (4, 5), (2, 2)]):
        for j, delta in enumerate((0, -1, 0)):
            rows += [f"Entry {n},judge{j}@agency.gov,quality,{max(quality + delta, 1)}",
                     f"Entry {n},judge{j}@agency.gov,impact,{impact}"]
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(rows) + "\n")
    assert run_cli("judging", "import-scores", "a11y-results", str(path), "--phase", "phase-1",
                   "--create-missing").exit_code == 0
    db.session.expire_all()
    base = f"/staff/challenges/a11y-results/phases/{challenge.phases[0].id}"
    person = browse()
    person.sign_in(staff.email, PASSWORD)
    person.visit(f"{base}/leaderboard")
    person.page.get_by_label("Rank by").select_option("calibrated")
    with person.page.expect_navigation():
        person.page.get_by_role("button", name="Show").click()
    person.after_navigation()
    assert "method=calibrated" in person.page.url
    person.visit(f"{base}/statistics")
    assert person.page.locator("svg[role=img]").count() >= 3


# Text with no place to break, as people paste it (a URL-like title, an agency's full name run together).
UNBROKEN = "ArtificialIntelligenceForFederalAcquisitionAndProcurementModernisationPilotProgramme" * 2


def test_staff_pages_fit_a_phone(browse, app):
    """At 390 px the staff tables scroll inside their own box or stack, long words wrap, the page itself never
    scrolls sideways; the search buttons keep a visible, named button; the page heading comes before the
    section navigation's links."""
    from tests.factories import make_definition, make_submission

    staff = make_user(email="phone-staff@example.gov", roles=("admin", "staff"), password=PASSWORD)
    vendor = make_user(email="phone-vendor@example.gov", roles=("vendor",), password=PASSWORD)
    definition = make_definition()
    phase_def = definition["phases"][0]
    phase_def["name"] = f"Concept papers {UNBROKEN}"
    phase_def["fields"][0]["label"] = f"Summary {UNBROKEN}"
    phase_def["rubric"]["criteria"][0]["name"] = f"Quality {UNBROKEN}"
    challenge = make_challenge(author=staff, publish=True, slug="phone-width", title=f"Phone {UNBROKEN}",
                               agency=UNBROKEN, phases=definition["phases"])
    phase = challenge.phases[0]
    make_submission(vendor=vendor, phase=phase, organization_name=f"Org {UNBROKEN}", submit=True)

    person = browse()
    person.sign_in(staff.email, PASSWORD)
    person.page.set_viewport_size({"width": 390, "height": 800})
    base = f"/staff/challenges/{challenge.slug}"
    applications = f"{base}/phases/{phase.id}/applications"
    with_sections = [base, f"{base}/timeline", f"{base}/phases/{phase.id}/form", f"{base}/phases/{phase.id}/rubric",
                     applications]
    pages = ["/staff/challenges", *with_sections, "/staff/audit/", "/admin/users", f"/admin/users/{staff.id}"]
    for path in pages:
        person.visit(path)
        assert person.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            path, person.page.evaluate(WIDER_THAN_SCREEN))
        if path in with_sections:
            # The heading is on the first screen; the 25 section links wait behind one "Challenge sections" control.
            heading = person.page.locator("h1").bounding_box()
            assert heading and heading["y"] < 800, (path, heading)
            links = person.page.get_by_role("navigation", name="Challenge sections", include_hidden=True).get_by_role(
                "link", include_hidden=True)
            assert links.count() > 5 and not any(link.is_visible() for link in links.all()), path

    # Keyboard: the skip link lands in the main content, the next stop is the sections control, Enter opens it.
    page = person.visit(applications)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName + ' ' + document.activeElement.textContent") == (
        "SUMMARY Challenge sections")
    page.keyboard.press("Enter")
    assert page.get_by_role("navigation", name="Challenge sections").get_by_role(
        "link", name="Timeline and phases").is_visible()

    # The search button is visible and named ("Search", from its icon's alternative text at this width).
    search = page.get_by_role("search").get_by_role("button", name="Search", exact=True)
    assert search.is_visible()
    box = search.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24, box
    page.get_by_label("Search by organisation or entry code").fill("Org")
    with page.expect_navigation():
        search.click()
    person.after_navigation()
    assert "q=Org" in page.url and "1 application" in page.content()

    # On a desktop the same pages fit too, and show the section links beside the content with no control.
    page.set_viewport_size({"width": 1280, "height": 800})
    for path in pages:
        person.visit(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            path, page.evaluate(WIDER_THAN_SCREEN))
        if path == applications:
            assert page.get_by_role("search").get_by_role("button", name="Search", exact=True).is_visible()
    person.visit(f"{base}/timeline")
    assert page.get_by_role("navigation", name="Challenge sections").get_by_role(
        "link", name="Timeline and phases").is_visible()
    assert page.get_by_text("Challenge sections", exact=True).is_hidden()
