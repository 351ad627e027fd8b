"""Authoring and public pages over HTTP: what staff and the public see, and bad input."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from challenges.audit import AuditEvent
from challenges.models import Challenge, ChallengeStatus
from tests.factories import make_challenge, make_definition, make_user


def _challenge(db, slug: str) -> Challenge:
    db.session.expire_all()
    return db.session.execute(select(Challenge).where(Challenge.slug == slug)).scalar_one()


def test_create_challenge_with_bad_slug_shows_message_and_saves_nothing(client, db, login_as):
    login_as("staff")
    response = client.post("/staff/challenges/new", data={"title": "T", "slug": "Has Spaces", "timezone": "UTC"})
    assert response.status_code == 400
    assert b"Use only lower-case letters" in response.data
    assert db.session.execute(select(func.count(Challenge.id))).scalar_one() == 0


def test_create_challenge_with_unknown_timezone(client, db, login_as):
    login_as("staff")
    response = client.post("/staff/challenges/new",
                           data={"title": "T", "slug": "good-slug", "timezone": "Mars/Olympus"})
    assert response.status_code == 400
    assert b"Unknown time zone" in response.data


def test_duplicate_slug_is_refused(client, db, login_as):
    make_challenge(slug="taken-slug")
    login_as("staff")
    response = client.post("/staff/challenges/new", data={"title": "T", "slug": "taken-slug",
                                                          "timezone": "America/New_York"})
    assert response.status_code == 400
    assert b"already used by another challenge" in response.data


def test_failed_section_save_keeps_previous_version(client, db, login_as):
    challenge = make_challenge(slug="keep-me")
    login_as("staff")
    before = challenge.title
    response = client.post("/staff/challenges/keep-me/general", data={
        "title": "New title", "slug": "BAD slug", "agency": "X", "summary": "s", "description_md": "d",
        "timezone": "America/New_York"})
    assert response.status_code == 400
    assert _challenge(db, "keep-me").title == before


def test_phase_closing_before_opening_is_refused(client, db, login_as):
    make_challenge(slug="dates")
    login_as("staff")
    response = client.post("/staff/challenges/dates/timeline", data={
        "key": "later", "name": "Later", "opens_at": "2031-02-01T09:00", "closes_at": "2031-01-01T09:00",
        "grace_seconds": "0", "max_submissions_per_org": "1"})
    assert response.status_code == 400
    assert b"Closing time must be after opening time" in response.data
    assert len(_challenge(db, "dates").phases) == 1


def test_overlapping_phase_is_refused(client, db, login_as):
    challenge = make_challenge(slug="overlap")
    existing = challenge.phases[0]
    login_as("staff")
    opens = (existing.opens_at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    closes = (existing.closes_at + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/staff/challenges/overlap/timeline", data={
        "key": "two", "name": "Two", "opens_at": opens, "closes_at": closes, "grace_seconds": "0",
        "max_submissions_per_org": "1"})
    assert response.status_code == 400
    assert b"overlap" in response.data


def test_phase_time_in_dst_gap_is_refused(client, db, login_as):
    make_challenge(slug="dst")
    login_as("staff")
    response = client.post("/staff/challenges/dst/timeline", data={
        "key": "gap", "name": "Gap", "opens_at": "2030-03-10T02:30", "closes_at": "2030-04-01T09:00",
        "grace_seconds": "0", "max_submissions_per_org": "1"})
    assert response.status_code == 400
    assert b"does not exist in America/New_York" in response.data


def test_phase_times_are_entered_in_challenge_zone(client, db, login_as):
    make_challenge(slug="zone")
    login_as("staff")
    response = client.post("/staff/challenges/zone/timeline", data={
        "key": "winter", "name": "Winter", "opens_at": "2031-01-05T09:00", "closes_at": "2031-01-20T17:00",
        "grace_seconds": "0", "max_submissions_per_org": "1"})
    assert response.status_code == 302
    phase = _challenge(db, "zone").phase_by_key("winter")
    assert phase.opens_at.isoformat() == "2031-01-05T14:00:00+00:00"
    assert phase.closes_at.isoformat() == "2031-01-20T22:00:00+00:00"


def test_duplicate_field_key_and_bad_criterion(client, db, login_as):
    challenge = make_challenge(slug="builder")
    phase = challenge.phases[0]
    existing_key = phase.fields[0].key
    login_as("staff")
    response = client.post(f"/staff/challenges/builder/phases/{phase.id}/form", data={
        "key": existing_key, "label": "Again", "type": "text"})
    assert response.status_code == 400
    assert b"already used by another field" in response.data
    bad = client.post(f"/staff/challenges/builder/phases/{phase.id}/rubric", data={
        "key": "scale", "name": "Scale", "weight": "1", "scale_min": "5", "scale_max": "5", "step": "1",
        "comment_rule": "never", "min_comment_chars": "0"})
    assert bad.status_code == 400
    assert b"maximum must be greater than its minimum" in bad.data
    negative = client.post(f"/staff/challenges/builder/phases/{phase.id}/rubric", data={
        "key": "neg", "name": "Neg", "weight": "-2", "scale_min": "1", "scale_max": "5", "step": "1",
        "comment_rule": "never", "min_comment_chars": "0"})
    assert negative.status_code == 400
    assert b"Enter a weight from 0 to 1,000." in negative.data


def test_markdown_script_is_inert_on_public_page(client, db):
    make_challenge(slug="xss", publish=True,
                   description='Hello <script>alert("x")</script> [click](javascript:alert(1)) **bold**')
    response = client.get("/challenges/xss")
    assert response.status_code == 200
    assert b"<script>alert" not in response.data
    assert b'href="javascript:' not in response.data
    assert b"<strong>bold</strong>" in response.data


def test_public_list_filters_and_search(client, db):
    make_challenge(slug="open-one", publish=True, title="Open Health AI", agency="HHS")
    make_challenge(slug="draft-one", title="Secret Draft")
    future = date.today() + timedelta(days=60)
    later_phase = make_definition()["phases"][0] | {
        "opens_at": f"{future}T09:00", "closes_at": f"{future + timedelta(days=30)}T17:00"}
    make_challenge(slug="later-one", publish=True, title="Later LLM", agency="GSA", phases=[later_phase])
    everything = client.get("/challenges").data
    assert b"Open Health AI" in everything and b"Later LLM" in everything
    assert b"Secret Draft" not in everything
    assert b"Later LLM" not in client.get("/challenges?state=open").data
    assert b"Later LLM" in client.get("/challenges?state=upcoming").data
    assert b"Open Health AI" not in client.get("/challenges?agency=GSA").data
    assert b"Later LLM" not in client.get("/challenges?q=health").data


def test_deadlines_shown_in_zone_with_machine_readable_time(client, db):
    make_challenge(slug="times", publish=True)
    page = client.get("/challenges/times").data.decode()
    assert 'class="js-local-time"' in page and 'data-zone="America/New_York"' in page
    assert " EST" in page or " EDT" in page


def test_approval_by_author_is_refused_over_http(client, db, login_as):
    author = make_user(email="writer@example.gov", roles=("staff",))
    challenge = make_challenge(author=author, slug="self-approve")
    login_as(author)
    assert client.post("/staff/challenges/self-approve/submit", data={"note": ""}).status_code == 302
    response = client.post("/staff/challenges/self-approve/approve")
    assert response.status_code == 403
    assert _challenge(db, "self-approve").status == ChallengeStatus.IN_REVIEW.value
    login_as("admin")
    assert client.post("/staff/challenges/self-approve/approve").status_code == 302
    assert _challenge(db, "self-approve").status == ChallengeStatus.PUBLISHED.value
    assert challenge.id


def test_incomplete_challenge_cannot_be_sent_for_review(client, db, login_as):
    login_as("staff")
    client.post("/staff/challenges/new", data={"title": "Bare", "slug": "bare-bones", "timezone": "UTC"})
    response = client.post("/staff/challenges/bare-bones/submit", data={"note": ""})
    assert response.status_code == 400
    assert b"add at least one phase" in response.data
    assert _challenge(db, "bare-bones").status == "draft"


def test_import_and_export_definition_over_http(client, db, login_as):
    login_as("staff")
    definition = make_definition(slug="via-web")
    response = client.post("/staff/challenges/import", data={
        "file": (io.BytesIO(json.dumps(definition).encode()), "def.json")}, content_type="multipart/form-data")
    assert response.status_code == 302
    exported = client.get("/staff/challenges/via-web/definition.json")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert exported.get_json()["slug"] == "via-web"
    broken = dict(definition, slug="bad-import", colour="red")
    response = client.post("/staff/challenges/import", data={
        "file": (io.BytesIO(json.dumps(broken).encode()), "def.json")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert b"colour" in response.data and b"unknown key" in response.data
    assert db.session.execute(select(func.count(Challenge.id)).where(Challenge.slug == "bad-import")).scalar_one() == 0


def test_clone_over_http(client, db, login_as):
    make_challenge(slug="original")
    login_as("staff")
    response = client.post("/staff/challenges/original/clone", data={"title": "The copy", "slug": "the-copy"})
    assert response.status_code == 302
    copy = _challenge(db, "the-copy")
    assert copy.status == "draft" and copy.title == "The copy"
    assert len(copy.phases[0].fields) == len(_challenge(db, "original").phases[0].fields)


def test_status_changes_are_audited(client, db, login_as):
    make_challenge(slug="lifecycle", publish=True)
    login_as("staff")
    assert client.post("/staff/challenges/lifecycle/status", data={"to": "closed"}).status_code == 302
    back = client.post("/staff/challenges/lifecycle/status", data={"to": "published", "reason": ""})
    assert back.status_code == 400 and b"reason" in back.data.lower()
    jump = client.post("/staff/challenges/lifecycle/status", data={"to": "archived"})
    assert jump.status_code == 409
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert "challenge.closed" in actions


def test_audit_log_filters(client, db, login_as):
    make_challenge(slug="audited")
    login_as("staff")
    page = client.get("/staff/audit/?action=challenge.created").data
    assert b"challenge.created" in page and b"phase.created" not in page
    bad = client.get("/staff/audit/?since=yesterday")
    assert bad.status_code == 400 and b"YYYY-MM-DD" in bad.data


def test_admin_grants_role_and_deactivates(client, db, login_as):
    target = make_user(email="target@example.gov", roles=("vendor",))
    login_as("admin")
    page = client.get(f"/admin/users/{target.id}").text
    assert 'id="role" name="role" required><option value="">- Choose a role -</option>' in page
    unchosen = client.post(f"/admin/users/{target.id}/roles", data={"role": "", "action": "grant"})
    assert unchosen.status_code == 400 and "Choose a role." in unchosen.text
    client.post(f"/admin/users/{target.id}/roles", data={"role": "judge", "action": "grant"})
    db.session.expire_all()
    assert target.has_role("judge") and not target.has_role("admin")
    refused = client.post(f"/admin/users/{target.id}/active", data={"reason": "  "})
    # The account page again, the message on the Reason field and in the summary, not a bare error page.
    assert refused.status_code == 400 and "Say why this account is deactivated." in refused.text
    assert "There is a problem" in refused.text and "Account status" in refused.text
    client.post(f"/admin/users/{target.id}/active", data={"reason": "Left the company"})
    db.session.expire_all()
    assert target.active is False
    page = client.get(f"/admin/users/{target.id}").data
    assert b"User: deactivated" in page and b"User: role granted" in page


def test_public_pages_after_results_point_to_the_winners(client, db):
    """Once results are out the challenge page and its card say so and link to the winners; no phase is
    'upcoming' and no deadline is advertised any more."""
    challenge = make_challenge(publish=True, slug="ended", title="Ended Challenge")
    assert "Next deadline" in client.get("/challenges/ended").text
    challenge.status = "results_published"
    db.session.commit()
    page = client.get("/challenges/ended").text
    assert "Results are out" in page and 'href="/challenges/ended/winners"' in page
    assert "Next deadline" not in page and "(upcoming)" not in page and "(open)" not in page
    listing = client.get("/challenges?state=closed").text
    assert "See the winners<span class=\"usa-sr-only\"> of Ended Challenge" in listing
    assert "results published" in listing


def test_stored_codes_are_shown_as_words():
    from challenges.templating import file_kinds, human

    assert human("results_published") == "Results published"
    assert human("community.group_joined") == "Community: group joined"
    assert human("auto") == "Automatic" and human("submitted") == "Submitted" and human(None) == ""
    assert file_kinds(["application/pdf"]) == "PDF"
    assert file_kinds(["application/pdf", "image/png", "image/jpeg"]) == "PDF, PNG or JPG"
    assert file_kinds([]) == "any listed type"


def test_the_apply_button_comes_before_the_long_text(client, db):
    make_challenge(publish=True, slug="apply-first")
    page = client.get("/challenges/apply-first").text
    assert page.count('href="/vendor/apply/apply-first/phase-1"') == 1
    assert page.index('href="/vendor/apply/apply-first/phase-1"') < page.index("Official rules")


def test_overview_says_a_later_round_can_still_be_built(client, db, login_as):
    from datetime import datetime

    from challenges import services

    staff = login_as("staff")
    challenge = make_challenge(author=make_user(email="writer@example.gov", roles=("staff",)), publish=True,
                               slug="two-rounds")
    services.save_phase(actor=staff, challenge=challenge, key="pilots", name="Pilots",
                        opens_local=datetime(2031, 1, 6, 9, 0), closes_local=datetime(2031, 2, 6, 17, 0))
    db.session.commit()
    page = client.get("/staff/challenges/two-rounds").text
    first_row = page[page.index(f"{challenge.phases[0].name}: <a"):]
    later_row = page[page.index("Pilots: <a"):]
    assert first_row.split("</tr>")[0].endswith("<td>Dates and judging only</td>")
    assert later_row.split("</tr>")[0].endswith("<td>Yes</td>")


@pytest.mark.parametrize(("raw", "message"), [("inf", "Enter a number of MB"), ("nan", "Enter a number of MB"),
                                              ("1e999", "Enter a number of MB")])
def test_file_size_must_be_a_real_number_of_megabytes(client, db, login_as, raw, message):
    challenge = make_challenge(slug="sizes")
    login_as("staff")
    page = client.post(f"/staff/challenges/sizes/phases/{challenge.phases[0].id}/form", data={
        "key": "video", "label": "Video", "type": "file", "accept": ["video/mp4"], "max_mb": raw})
    assert page.status_code == 400 and message in page.text
