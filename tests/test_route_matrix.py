"""Every route against every role.

`MATRIX` names, for each endpoint, how to call it and what each role gets. A route added to the
app without a row here fails `test_every_route_is_in_the_matrix`, so permissions are decided
deliberately, not by accident. Later issues add roles (other vendor, conflicted judge) as columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user

ROLES = ("anonymous", "vendor", "other_vendor", "judge", "conflicted_judge", "member", "staff", "admin")
LOGIN = "login"  # redirected to the sign-in page
ALLOWED = "allowed"  # any answer but login/403/404/5xx: the role got through the guard

EVERYONE = dict.fromkeys(ROLES, 200)
VENDOR_GET = {"anonymous": LOGIN, "vendor": 200, "other_vendor": 200, "judge": 403, "member": 403, "staff": 403,
              "admin": 403}
OWNER_GET = {**VENDOR_GET, "other_vendor": 404}  # another organisation's application does not exist for them
OWNER_ACTION = {**OWNER_GET, "vendor": ALLOWED}
STAFF_ONLY = {"anonymous": LOGIN, "vendor": 403, "judge": 403, "member": 403, "staff": 200, "admin": 200}
STAFF_ACTION = {**STAFF_ONLY, "staff": ALLOWED, "admin": ALLOWED}
ADMIN_ONLY = {"anonymous": LOGIN, "vendor": 403, "judge": 403, "member": 403, "staff": 403, "admin": 200}
ADMIN_ACTION = {**ADMIN_ONLY, "admin": ALLOWED}
SIGNED_IN = {**dict.fromkeys(ROLES, 200), "anonymous": LOGIN}
ANON_FORM = {**dict.fromkeys(ROLES, 302), "anonymous": 200}  # signed-in people are sent on


@dataclass
class Route:
    method: str
    url: Callable[[dict[str, Any]], str]
    expect: dict[str, int | str]
    data: dict[str, Any] | None = None


def _draft(ctx: dict[str, Any]) -> str:
    return ctx["draft"].slug


def _app(ctx: dict[str, Any]) -> str:
    return f"/vendor/applications/{ctx['submission'].id}"


MATRIX: dict[str, Route] = {
    "static": Route("GET", lambda c: "/static/css/site.css", EVERYONE),
    "public.home": Route("GET", lambda c: "/", EVERYONE),
    "public.healthz": Route("GET", lambda c: "/healthz", EVERYONE),
    "challenges.index": Route("GET", lambda c: "/challenges", EVERYONE),
    "challenges.detail": Route("GET", lambda c: f"/challenges/{c['published'].slug}", EVERYONE),
    "challenges.rules_version": Route(
        "GET", lambda c: f"/challenges/{c['published'].slug}/rules/{c['published'].rules_version}", EVERYONE),
    # accounts
    "accounts.register": Route("GET", lambda c: "/account/register", ANON_FORM),
    "accounts.sign_in": Route("GET", lambda c: "/account/sign-in", ANON_FORM),
    "accounts.sign_out": Route("POST", lambda c: "/account/sign-out", dict.fromkeys(ROLES, 302)),
    "accounts.forgot_password": Route("GET", lambda c: "/account/forgot-password", EVERYONE),
    "accounts.resend_verification": Route("GET", lambda c: "/account/verify/resend", EVERYONE),
    "accounts.verify": Route("GET", lambda c: "/account/verify/not-a-token", EVERYONE),
    "accounts.reset_password": Route("GET", lambda c: "/account/reset/not-a-token", dict.fromkeys(ROLES, 400)),
    "accounts.profile": Route("GET", lambda c: "/account/", SIGNED_IN),
    # administration
    "admin.users": Route("GET", lambda c: "/admin/users", ADMIN_ONLY),
    "admin.user_detail": Route("GET", lambda c: f"/admin/users/{c['target'].id}", ADMIN_ONLY),
    "admin.user_roles": Route("POST", lambda c: f"/admin/users/{c['target'].id}/roles", ADMIN_ACTION,
                              {"role": "judge", "action": "grant"}),
    "admin.user_active": Route("POST", lambda c: f"/admin/users/{c['target'].id}/active", ADMIN_ACTION,
                               {"active": "y"}),
    "audit.index": Route("GET", lambda c: "/staff/audit/", STAFF_ONLY),
    # staff authoring
    "challenges.manage": Route("GET", lambda c: "/staff/challenges", STAFF_ONLY),
    "challenges.new": Route("GET", lambda c: "/staff/challenges/new", STAFF_ONLY),
    "challenges.import_definition": Route("GET", lambda c: "/staff/challenges/import", STAFF_ONLY),
    "challenges.overview": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}", STAFF_ONLY),
    "challenges.edit_general": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/general", STAFF_ONLY),
    "challenges.edit_prizes": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/prizes", STAFF_ONLY),
    "challenges.edit_rules": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/rules", STAFF_ONLY),
    "challenges.timeline": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/timeline", STAFF_ONLY),
    "challenges.phase_edit": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}",
                                   STAFF_ONLY),
    "challenges.phase_delete": Route(
        "POST", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/delete", STAFF_ACTION),
    "challenges.form_builder": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/form", STAFF_ONLY),
    "challenges.field_edit": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/form/{c['field'].id}", STAFF_ONLY),
    "challenges.field_action": Route(
        "POST", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/form/{c['field'].id}/down",
        STAFF_ACTION),
    "challenges.rubric_builder": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/rubric", STAFF_ONLY),
    "challenges.criterion_edit": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/rubric/{c['criterion'].id}",
        STAFF_ONLY),
    "challenges.criterion_action": Route(
        "POST",
        lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/rubric/{c['criterion'].id}/down",
        STAFF_ACTION),
    "challenges.judging_settings": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/phases/{c['phase'].id}/judging", STAFF_ONLY),
    "challenges.submit_for_review": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/submit", STAFF_ACTION),
    "challenges.withdraw": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/withdraw", STAFF_ACTION),
    "challenges.review": Route("GET", lambda c: f"/staff/challenges/{_draft(c)}/review", STAFF_ONLY),
    "challenges.approve": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/approve", STAFF_ACTION),
    "challenges.request_changes": Route(
        "POST", lambda c: f"/staff/challenges/{_draft(c)}/request-changes", STAFF_ACTION),
    "challenges.change_status": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/status", STAFF_ACTION,
                                      {"to": "closed"}),
    "challenges.delete_draft": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/delete", STAFF_ACTION,
                                     {"confirm": "not-the-slug"}),
    "challenges.clone": Route("POST", lambda c: f"/staff/challenges/{_draft(c)}/clone", STAFF_ACTION,
                              {"title": "Copy", "slug": "matrix-copy"}),
    "challenges.export_definition": Route(
        "GET", lambda c: f"/staff/challenges/{_draft(c)}/definition.json", STAFF_ONLY),
    # vendors
    "submissions.dashboard": Route("GET", lambda c: "/vendor/", SIGNED_IN),  # anyone may become a vendor
    "submissions.organization_new": Route("GET", lambda c: "/vendor/organizations/new", SIGNED_IN),
    "submissions.organization_edit": Route(
        "GET", lambda c: f"/vendor/organizations/{c['submission'].organization_id}", OWNER_GET),
    "submissions.invite": Route("POST", lambda c: f"/vendor/organizations/{c['submission'].organization_id}/invite",
                                OWNER_ACTION, {"email": "new@example.gov", "role": "contributor"}),
    "submissions.accept_invitation": Route("GET", lambda c: "/vendor/invitations/not-a-token", SIGNED_IN),
    # Owners manage members (here: confirm the vendor's own role, a no-op) and revoke invitations.
    "submissions.member": Route(
        "POST", lambda c: f"/vendor/organizations/{c['submission'].organization_id}/members/"
                          f"{c['submission'].created_by_id}", OWNER_ACTION, {"action": "role", "role": "owner"}),
    "submissions.revoke_invitation": Route(
        "POST", lambda c: f"/vendor/organizations/{c['submission'].organization_id}/invitations/"
                          f"{c['org_invitation'].id}/revoke", OWNER_ACTION),
    "submissions.start": Route("GET", lambda c: f"/vendor/apply/{c['published'].slug}/phase-1", SIGNED_IN),
    "submissions.application": Route("GET", _app, OWNER_GET),
    "submissions.upload": Route("POST", lambda c: f"{_app(c)}/files/deck", OWNER_ACTION),
    "submissions.stream_upload": Route("PUT", lambda c: f"{_app(c)}/files/deck/stream", OWNER_ACTION),
    "submissions.direct_upload": Route("POST", lambda c: f"{_app(c)}/files/deck/direct", OWNER_ACTION),
    "submissions.confirm_upload": Route("POST", lambda c: f"{_app(c)}/uploads/{c['file'].id}/confirm", OWNER_ACTION),
    "submissions.download": Route("GET", lambda c: f"{_app(c)}/files/{c['file'].id}/download", OWNER_GET),
    "submissions.accept_rules": Route("POST", lambda c: f"{_app(c)}/rules", OWNER_ACTION,
                                      {"rules_version": "x"}),
    "submissions.submit": Route("POST", lambda c: f"{_app(c)}/submit", OWNER_ACTION),
    "submissions.withdraw": Route("POST", lambda c: f"{_app(c)}/withdraw", OWNER_ACTION),
    "submissions.discard_changes": Route("POST", lambda c: f"{_app(c)}/discard", OWNER_ACTION),
    "submissions.receipt": Route("GET", lambda c: f"{_app(c)}/receipts/{c['submission'].submitted_version}",
                                 OWNER_GET),
    # staff: applications
    "applications.index": Route(
        "GET", lambda c: f"/staff/challenges/{c['published'].slug}/phases/{c['published'].phases[0].id}/applications",
        STAFF_ONLY),
    "applications.entry": Route("GET", lambda c: f"/staff/applications/{c['submission'].id}", STAFF_ONLY),
    "applications.screening": Route("POST", lambda c: f"/staff/applications/{c['submission'].id}/screening",
                                    STAFF_ACTION, {"decision": "pending"}),
    "applications.disqualify": Route("POST", lambda c: f"/staff/applications/{c['submission'].id}/disqualify",
                                     STAFF_ACTION, {"reason": "matrix"}),
    "applications.reinstate": Route("POST", lambda c: f"/staff/applications/{c['submission'].id}/reinstate",
                                    STAFF_ACTION, {"reason": "matrix"}),
    "applications.reopen": Route("POST", lambda c: f"/staff/applications/{c['submission'].id}/reopen",
                                 STAFF_ACTION, {"until": "2099-01-01T09:00", "reason": "matrix"}),
    "applications.export": Route(
        "GET", lambda c: f"/staff/challenges/{c['published'].slug}/phases/{c['published'].phases[0].id}"
                         "/applications.csv", STAFF_ONLY),
    "applications.request_zip": Route(
        "POST", lambda c: f"/staff/challenges/{c['published'].slug}/phases/{c['published'].phases[0].id}"
                          "/applications/zip", STAFF_ACTION),
    "applications.email": Route(
        "GET", lambda c: f"/staff/challenges/{c['published'].slug}/phases/{c['published'].phases[0].id}"
                         "/applications/email", STAFF_ONLY),
    "jobs.show": Route("GET", lambda c: f"/staff/jobs/{c['job'].id}", STAFF_ONLY),
    "jobs.status": Route("GET", lambda c: f"/staff/jobs/{c['job'].id}.json", STAFF_ONLY),
    "jobs.download": Route("GET", lambda c: f"/staff/jobs/{c['job'].id}/download", STAFF_ONLY),
    "applications.download": Route(
        "GET", lambda c: f"/staff/applications/{c['submission'].id}/files/{c['file'].id}", STAFF_ONLY),
}

# Judging. "judge" is on the panel, attested and assigned the matrix entry; "conflicted_judge" is on the
# same panel but declared a conflict with it, so their assignment to it was withdrawn.
NOT_FOUND_BUT = {**dict.fromkeys(ROLES, 404), "anonymous": LOGIN}
JUDGE_OWN = {**NOT_FOUND_BUT, "judge": 200}
JUDGE_ACTION = {**NOT_FOUND_BUT, "judge": ALLOWED}
MEMBER_OWN = {**NOT_FOUND_BUT, "judge": 200, "conflicted_judge": 200}  # their own panel seat


def _stf(ctx: dict[str, Any], tail: str) -> str:
    return f"/staff/challenges/{ctx['published'].slug}/phases/{ctx['published'].phases[0].id}/{tail}"


MATRIX.update({
    "judging.queue": Route("GET", lambda c: "/judging/", SIGNED_IN),
    "judging.accept_invitation": Route("GET", lambda c: "/judging/invitations/not-a-token", SIGNED_IN),
    "judging.attest": Route("GET", lambda c: f"/judging/panels/{c['member'].id}/attestation", JUDGE_OWN),
    "judging.conflicts": Route("GET", lambda c: f"/judging/panels/{c['member'].id}/conflicts", JUDGE_OWN),
    "judging.bids": Route("GET", lambda c: f"/judging/panels/{c['member'].id}/bids", JUDGE_OWN),
    "judging.entry": Route("GET", lambda c: f"/judging/entries/{c['assignment'].id}", JUDGE_OWN),
    # The matrix phase never shows judges the leaderboard (tested open in test_judging_views.py).
    "judging.leaderboard": Route("GET", lambda c: f"/judging/panels/{c['member'].id}/leaderboard", NOT_FOUND_BUT),
    "judging.recuse": Route("POST", lambda c: f"/judging/entries/{c['assignment'].id}/recuse", JUDGE_ACTION,
                            {"reason": "matrix"}),
    "judging.download": Route("GET", lambda c: f"/judging/entries/{c['assignment'].id}/files/{c['file'].id}",
                              JUDGE_OWN),
    "panel.panel": Route("GET", lambda c: _stf(c, "panel"), STAFF_ONLY),
    "panel.conflicts": Route("GET", lambda c: _stf(c, "conflicts"), STAFF_ONLY),
    "panel.assignments": Route("GET", lambda c: _stf(c, "assignments"), STAFF_ONLY),
    "panel.export_assignments": Route("GET", lambda c: _stf(c, "assignments.csv"), STAFF_ONLY),
    "panel.progress": Route("GET", lambda c: _stf(c, "progress"), STAFF_ONLY),
    "panel.import_scores": Route("GET", lambda c: _stf(c, "import-scores"), STAFF_ONLY),
    "panel.score_sheets": Route("POST", lambda c: _stf(c, "score-sheets"), STAFF_ACTION),
    "panel.advance": Route("GET", lambda c: _stf(c, "advance"), STAFF_ONLY),
    "panel.leaderboard": Route("GET", lambda c: _stf(c, "leaderboard"), STAFF_ONLY),
    "panel.statistics": Route("GET", lambda c: _stf(c, "statistics"), STAFF_ONLY),
    "panel.export": Route("GET", lambda c: _stf(c, "exports/scores.csv"), STAFF_ONLY),
    "panel.awards": Route("GET", lambda c: _stf(c, "awards"), STAFF_ONLY),
    "panel.feedback": Route("GET", lambda c: _stf(c, "feedback"), STAFF_ONLY),
    "panel.award_report": Route("POST", lambda c: _stf(c, "award-report"), STAFF_ACTION),
    # Feedback is not released for the matrix phase: 404 for everyone, the owner included (tested released
    # in test_feedback.py).
    "results.feedback": Route("GET", lambda c: f"{_app(c)}/feedback", NOT_FOUND_BUT),
    "results.feedback_pdf": Route("GET", lambda c: f"{_app(c)}/feedback.pdf", NOT_FOUND_BUT),
    "panel.decide_award": Route("POST", lambda c: f"/staff/awards/{c['award'].id}", STAFF_ACTION,
                                {"decision": "withdraw", "reason": "matrix"}),
    "panel.publish_results": Route("POST", lambda c: f"/staff/challenges/{c['published'].slug}/publish-results",
                                   STAFF_ACTION),
    # Results are not published for the matrix challenge: its winners page does not exist for anyone yet.
    "results.winners": Route("GET", lambda c: f"/challenges/{c['published'].slug}/winners", dict.fromkeys(ROLES, 404)),
    # Rounds: only members of the advanced organisation may answer its invitation.
    "submissions.respond_to_advancement": Route(
        "POST", lambda c: f"/vendor/advancements/{c['advancement'].id}",
        {**NOT_FOUND_BUT, "vendor": ALLOWED}, {"decision": "decline"}),
    "panel.update_member": Route("POST", lambda c: f"/staff/panel-members/{c['member'].id}", STAFF_ACTION,
                                 {"action": "update", "max_load": "5", "min_load": "0"}),
    "panel.decide_conflict": Route("POST", lambda c: f"/staff/conflicts/{c['conflict'].id}/decide", STAFF_ACTION,
                                   {"decision": "confirm"}),
    "panel.decide_run": Route("POST", lambda c: f"/staff/assignment-runs/{c['run'].id}", STAFF_ACTION,
                              {"decision": "discard"}),
    "panel.remove_assignment": Route("POST", lambda c: f"/staff/assignments/{c['assignment'].id}/remove",
                                     STAFF_ACTION, {"reason": "matrix"}),
})
_ = MEMBER_OWN

# Community. "member" holds the member role; staff and admins see members-only things too (participants).
PARTICIPANT_GET = {"anonymous": LOGIN, "vendor": 403, "judge": 403, "member": 200, "staff": 200, "admin": 200}
PARTICIPANT_ACTION = {**PARTICIPANT_GET, "member": ALLOWED, "staff": ALLOWED, "admin": ALLOWED}
MEMBER_ROLE_GET = {"anonymous": LOGIN, "vendor": 403, "judge": 403, "member": 200, "staff": 403, "admin": 403}
MEMBER_ROLE_ACTION = {**MEMBER_ROLE_GET, "member": ALLOWED}
# A members-only link resource: members go to it; for others it does not exist (404), and anonymous
# visitors are asked to sign in.
MEMBERS_LINK = {**PARTICIPANT_GET, "vendor": 404, "judge": 404, "member": 302, "staff": 302, "admin": 302}


def _cm(ctx: dict[str, Any], key: str) -> Any:
    return ctx["community"][key]


MATRIX.update({
    "community.home": Route("GET", lambda c: "/community/", EVERYONE),
    "community.about": Route("GET", lambda c: "/community/about", EVERYONE),
    "community.contact": Route("GET", lambda c: "/community/contact", EVERYONE),
    "community.subscribe": Route("GET", lambda c: "/community/subscribe", EVERYONE),
    "community.confirm_subscription": Route(
        "GET", lambda c: f"/community/subscribe/confirm/{_cm(c, 'confirm_token')}", EVERYONE),
    "community.unsubscribe": Route("GET", lambda c: f"/community/unsubscribe/{_cm(c, 'unsubscribe_token')}", EVERYONE),
    "community.join": Route("GET", lambda c: "/community/join", {**EVERYONE, "member": 302}),  # members go on
    "community.profile": Route("GET", lambda c: "/community/profile", MEMBER_ROLE_GET),
    "community.subscribe_me": Route("POST", lambda c: "/community/profile/subscribe", MEMBER_ROLE_ACTION),
    "community.directory": Route("GET", lambda c: "/community/directory", PARTICIPANT_GET),
    "community.groups": Route("GET", lambda c: "/community/groups", EVERYONE),
    "community.group": Route("GET", lambda c: f"/community/groups/{_cm(c, 'group').slug}", EVERYONE),
    "community.group_membership": Route(
        "POST", lambda c: f"/community/groups/{_cm(c, 'group').slug}/membership", MEMBER_ROLE_ACTION,
        {"action": "join"}),
    # Only the group's leads and staff post; the matrix member is not a lead (a lead posts in test_community).
    "community.announce": Route("POST", lambda c: f"/community/groups/{_cm(c, 'group').slug}/announcements",
                                {**PARTICIPANT_ACTION, "member": 403}, {"title": "Matrix", "body_md": "Hello"}),
    "community.events": Route("GET", lambda c: "/community/events", EVERYONE),
    "community.event": Route("GET", lambda c: f"/community/events/{_cm(c, 'event').id}", EVERYONE),
    "community.event_ics": Route("GET", lambda c: f"/community/events/{_cm(c, 'event').id}/event.ics", EVERYONE),
    "community.calendar": Route("GET", lambda c: "/community/calendar.ics", EVERYONE),
    "community.registration": Route("POST", lambda c: f"/community/events/{_cm(c, 'event').id}/registration",
                                    PARTICIPANT_ACTION, {"action": "register"}),
    "community.resources": Route("GET", lambda c: "/community/resources", EVERYONE),
    "community.resource": Route("GET", lambda c: f"/community/resources/{_cm(c, 'resource').id}", MEMBERS_LINK),
    # staff
    "community_staff.index": Route("GET", lambda c: "/staff/community/", STAFF_ONLY),
    "community_staff.subscribers": Route("GET", lambda c: "/staff/community/subscribers", STAFF_ONLY),
    "community_staff.subscribers_csv": Route("GET", lambda c: "/staff/community/subscribers.csv", STAFF_ONLY),
    "community_staff.judge_pool": Route("GET", lambda c: "/staff/community/judge-pool", STAFF_ONLY),
    "community_staff.grant_exception": Route("POST", lambda c: "/staff/community/exceptions", STAFF_ACTION,
                                             {"email": "contractor@example.com", "reason": "Matrix"}),
    "community_staff.newsletters": Route("GET", lambda c: "/staff/community/newsletters", STAFF_ONLY),
    "community_staff.newsletter": Route(
        "GET", lambda c: f"/staff/community/newsletters/{_cm(c, 'newsletter').id}", STAFF_ONLY),
    "community_staff.send_newsletter": Route(
        "POST", lambda c: f"/staff/community/newsletters/{_cm(c, 'newsletter').id}/send", STAFF_ACTION),
    "community_staff.group": Route("GET", lambda c: f"/staff/community/groups/{_cm(c, 'group').id}", STAFF_ONLY),
    "community_staff.group_lead": Route(
        "POST", lambda c: f"/staff/community/groups/{_cm(c, 'group').id}/leads", STAFF_ACTION,
        {"user_id": "0", "lead": "1"}),  # user_id filled in by the fixture
    "community_staff.events": Route("GET", lambda c: "/staff/community/events", STAFF_ONLY),
    "community_staff.event": Route("GET", lambda c: f"/staff/community/events/{_cm(c, 'event').id}", STAFF_ONLY),
    "community_staff.cancel_event": Route(
        "POST", lambda c: f"/staff/community/events/{_cm(c, 'event').id}/cancel", STAFF_ACTION, {"reason": "Matrix"}),
    "community_staff.schedule_meetings": Route("POST", lambda c: "/staff/community/events/schedule", STAFF_ACTION,
                                               {"months": "2"}),
    "community_staff.resources": Route("GET", lambda c: "/staff/community/resources", STAFF_ONLY),
    "community_staff.delete_resource": Route(
        "POST", lambda c: f"/staff/community/resources/{_cm(c, 'resource').id}/delete", STAFF_ACTION),
    "community_staff.about": Route("GET", lambda c: "/staff/community/about", STAFF_ONLY),
    "community_staff.page": Route("GET", lambda c: "/staff/community/pages/mission", STAFF_ONLY),
    "community_staff.steering": Route(
        "GET", lambda c: f"/staff/community/steering/{_cm(c, 'steering').id}", STAFF_ONLY),
    "community_staff.delete_steering": Route(
        "POST", lambda c: f"/staff/community/steering/{_cm(c, 'steering').id}/delete", STAFF_ACTION),
})

# Columns added by later issues default to an older column's expectation on routes that predate them:
# another vendor to the vendor's, a conflicted judge to the judge's.
for _route in MATRIX.values():
    _route.expect.setdefault("other_vendor", _route.expect["vendor"])
    _route.expect.setdefault("conflicted_judge", _route.expect["judge"])

# Pages that must not even admit a draft exists to people who may not see it.
HIDDEN_DRAFT = {
    "anonymous": 404, "vendor": 404, "other_vendor": 404, "judge": 404, "conflicted_judge": 404, "member": 404,
    "staff": 200, "admin": 200,
}


@pytest.fixture
def ctx(app, db):
    author = make_user(email="author@example.gov", roles=("staff",))
    published = make_challenge(author=author, publish=True, slug="matrix-published")
    draft = make_challenge(author=author, slug="matrix-draft")
    phase = draft.phases[0]
    vendor = make_user(email="vendor@example.gov", roles=("vendor",))
    submission, stored = make_submission(vendor=vendor, phase=published.phases[0], submit=True)
    from challenges import jobs
    from challenges.submissions.exports import request_zip

    job = request_zip(actor=author, phase=published.phases[0])
    db.session.commit()
    jobs.dispatch_committed()
    judged = published.phases[0]
    judged.bids_enabled = True
    close_submissions(judged)
    judge_user = make_user(email="judge@example.gov", roles=("judge",))
    conflicted_user = make_user(email="conflicted_judge@example.gov", roles=("judge",))
    member = make_judge(judged, user=judge_user)
    conflicted = make_judge(judged, user=conflicted_user)
    assignment = make_assignment(member, submission)
    withdrawn = make_assignment(conflicted, submission)
    from challenges.judging import services as judging
    from challenges.judging.models import AssignmentRun

    conflict = judging.declare_conflict(actor=conflicted_user, member=conflicted, type_="employment",
                                        reason="Former employer", submission=submission)
    run = AssignmentRun(phase_id=judged.id, mode="ensure", inputs_hash="matrix", result={"pairs": [], "loads": {}})
    db.session.add(run)
    from challenges.judging.models import Award
    from challenges.submissions.models import Advancement

    award = Award(phase_id=judged.id, submission_id=submission.id, place=1, title="Matrix prize", amount=1,
                  justification="matrix", created_by_id=author.id)
    db.session.add(award)

    advancement = Advancement(from_submission_id=submission.id, to_phase_id=draft.phases[0].id,
                              organization_id=submission.organization_id, accept_by=judged.closes_at + (
                                  judged.closes_at - judged.opens_at))
    db.session.add(advancement)
    from challenges.submissions.models import Invitation

    org_invitation = Invitation(organization_id=submission.organization_id, email="invited@example.gov",
                                role="contributor", invited_by_id=vendor.id)
    db.session.add(org_invitation)
    db.session.commit()
    assert withdrawn.status == "removed"
    return {
        "member": member,
        "assignment": assignment,
        "withdrawn": withdrawn,
        "conflict": conflict,
        "run": run,
        "advancement": advancement,
        "org_invitation": org_invitation,
        "award": award,
        "job": job,
        "submission": submission,
        "file": stored,
        "published": published,
        "draft": draft,
        "phase": phase,
        "field": phase.fields[0],
        "criterion": phase.rubric.criteria[0],
        "target": make_user(email="target@example.gov", roles=("vendor",)),
        "community": _community_world(author),
    }


def _community_world(author) -> dict[str, Any]:
    """A group with one member, a public event, a members-only link, a draft newsletter, a subscriber."""
    from datetime import timedelta

    from challenges.community import services as community
    from challenges.community.models import Resource, SteeringMember
    from challenges.extensions import db
    from challenges.timezones import format_local_iso, utcnow

    group = community.save_group(actor=author, name="Matrix group", slug="matrix-group", summary="", description_md="")
    joined = make_user(email="grouped@example.gov", roles=("member",))
    community.join_group(actor=joined, group=group)
    start = utcnow() + timedelta(days=10)
    event = community.save_event(actor=author, title="Matrix meeting", summary="", agenda_md="", speakers="",
                                 starts=format_local_iso(start, "UTC"),
                                 ends=format_local_iso(start + timedelta(hours=1), "UTC"),
                                 timezone="UTC", location="Online", join_url="https://meet.example.gov/matrix",
                                 capacity=5, public=True)
    resource = Resource(title="Members recording", kind="recording", url="https://video.example.gov/1",
                        members_only=True, topics=[])
    steering = SteeringMember(name="Matrix Chair", position=1)
    db.session.add_all([resource, steering])
    community.confirm_subscription(token=community.make_list_token("reader@example.gov", "confirm"))
    newsletter = community.save_newsletter(actor=author, subject="Matrix news", body_md="Hello", audience="subscribers")
    db.session.commit()
    MATRIX["community_staff.group_lead"].data = {"user_id": str(joined.id), "lead": "1"}
    return {"group": group, "event": event, "resource": resource, "steering": steering, "newsletter": newsletter,
            "confirm_token": community.make_list_token("new@example.gov", "confirm"),
            "unsubscribe_token": community.make_list_token("reader@example.gov", "unsubscribe")}


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(MATRIX))
    stale = sorted(set(MATRIX) - endpoints)
    assert not missing, f"routes without a permission row in MATRIX: {missing}"
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


def _check(response, expected: int | str, role: str, endpoint: str) -> None:
    where = f"{endpoint} as {role}: got {response.status_code}"
    location = response.headers.get("Location", "")
    if expected == LOGIN:
        assert response.status_code == 302 and "/account/sign-in" in location, where
    elif expected == ALLOWED:
        assert response.status_code not in (401, 403, 404) and response.status_code < 500, where
        assert "/account/sign-in" not in location, where
    else:
        assert response.status_code == expected, where


def _batches() -> list[tuple[str, str]]:
    """How the rows are run. A GET changes nothing, so one world serves every role of the row. For an
    action, the refused roles share a world (a refused request is turned away before anything is written) and
    each role that gets through has a fresh world of its own (it may delete what the next would use)."""
    out = []
    for endpoint in sorted(MATRIX):
        route = MATRIX[endpoint]
        if route.method == "GET":
            out.append((endpoint, "every role"))
            continue
        out.append((endpoint, "refused roles"))
        out += [(endpoint, role) for role in ROLES if route.expect[role] == ALLOWED or
                route.expect[role] not in (LOGIN, 403, 404)]
    return out


def _roles(route: Route, batch: str) -> list[str]:
    if batch == "every role":
        return list(ROLES)
    if batch == "refused roles":
        return [r for r in ROLES if route.expect[r] in (LOGIN, 403, 404)]
    return [batch]


@pytest.mark.parametrize(("endpoint", "batch"), _batches())
def test_route_permissions(endpoint, batch, client, ctx, login_as):
    """Every role against one route; all failures of the batch are reported together."""
    route = MATRIX[endpoint]
    url = route.url(ctx)
    failures = []
    for role in _roles(route, batch):
        login_as(role)
        if route.method == "GET":
            response = client.get(url)
        else:
            response = client.open(url, method=route.method, data=route.data or {})
        try:
            _check(response, route.expect[role], role, endpoint)
            if response.status_code == 403:
                assert b"Not allowed" in response.data, f"{endpoint} as {role}: 403 without the page"
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_draft_challenge_page_is_hidden(role, client, ctx, login_as):
    login_as(role)
    response = client.get(f"/challenges/{ctx['draft'].slug}")
    assert response.status_code == HIDDEN_DRAFT[role]
    if response.status_code == 404:
        assert ctx["draft"].title.encode() not in response.data


@pytest.mark.parametrize("path", ["", "/files/{file}"])
def test_conflicted_judge_never_reaches_the_entry(path, client, ctx, login_as):
    """Their own (withdrawn) assignment to the conflicted entry is 404 like any stranger's, also for a POST."""
    login_as("conflicted_judge")
    url = f"/judging/entries/{ctx['withdrawn'].id}" + path.format(file=ctx["file"].id)
    assert client.get(url).status_code == 404
    posted = client.post(f"/judging/entries/{ctx['withdrawn'].id}", data={"score-quality": "5", "action": "submit"})
    assert posted.status_code == 404
    queue = client.get("/judging/")
    assert ctx["submission"].public_code not in queue.text


def test_scoring_someone_elses_assignment_is_404(client, ctx, login_as):
    login_as("conflicted_judge")
    response = client.post(f"/judging/entries/{ctx['assignment'].id}",
                           data={"score-quality": "5", "score-impact": "5", "action": "submit"})
    assert response.status_code == 404
    from challenges.judging.models import Review

    assert ctx["assignment"].review is None and Review.query.count() == 0


def test_vendor_never_learns_who_judged_them(client, ctx, login_as):
    login_as("judge")
    client.post(f"/judging/entries/{ctx['assignment'].id}",
                data={"score-quality": "5", "score-impact": "4", "action": "submit"})
    from challenges.judging.models import Review

    assert Review.query.filter_by(status="submitted").count() == 1
    login_as(ctx["submission"].organization.memberships[0].user)
    for url in ("/vendor/", f"/vendor/applications/{ctx['submission'].id}",
                f"/vendor/applications/{ctx['submission'].id}/receipts/{ctx['submission'].submitted_version}"):
        page = client.get(url)
        assert page.status_code == 200
        assert "judge@example.gov" not in page.text and "conflicted_judge" not in page.text
