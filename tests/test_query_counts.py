"""Pages do not issue more SQL as the number of entries grows (no N+1 queries).

Every page that lists rows which grow with the data is fetched, by the role that sees it, in a world built at
two sizes; the statement counts must be equal. Each `page_<name>(size)` below builds its world and returns
(who signs in, or None for a visitor; the URL; texts the page must show, so no case passes vacuously).
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from challenges import audit
from challenges.community.models import (
    Announcement,
    DomainException,
    Event,
    GroupMembership,
    MemberProfile,
    Newsletter,
    Registration,
    Resource,
    SteeringMember,
    Subscription,
    WorkingGroup,
)
from challenges.extensions import db as _db
from challenges.judging import services as judging
from challenges.judging.models import Award, PanelMember
from challenges.submissions import services as applications
from challenges.submissions.models import Invitation, Membership
from challenges.timezones import utcnow
from tests.factories import (
    ZONE,
    close_submissions,
    make_assignment,
    make_challenge,
    make_definition,
    make_judge,
    make_submission,
    make_user,
)


@contextmanager
def counting(app):
    statements: list[str] = []
    with app.app_context():
        engine = _db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def world(size: int):
    phase = make_challenge(publish=True, slug=f"queries-{size}").phases[0]
    entries = []
    for n in range(size):
        vendor = make_user(email=f"q{size}-{n}@v{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, phase, organization_name=f"Q{size} Co {n}", submit=True)
        entries.append(entry)
    close_submissions(phase)
    judges = [make_judge(phase, f"q{size}-judge{j}@agency.gov", max_load=size) for j in range(2)]
    assignments = [make_assignment(judge, entry) for entry in entries for judge in judges]
    for a in assignments[: len(assignments) // 2]:
        judging.save_review(actor=a.panel_member.user, assignment=a, values={"quality": "4", "impact": "3"},
                            comments={}, submit=True)
    _db.session.commit()
    return phase, judges[0], assignments[0]


@pytest.mark.parametrize("page", ["queue", "entry", "leaderboard", "statistics", "progress", "assignments"])
def test_queries_do_not_grow_with_entries(app, db, client, login_as, page):
    counts = []
    for size in (3, 12):
        phase, judge, assignment = world(size)
        staff = make_user(email=f"qstaff{size}@example.gov", roles=("staff",))
        base = f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}"
        url, who = {"queue": ("/judging/", judge.user), "entry": (f"/judging/entries/{assignment.id}", judge.user),
                    "leaderboard": (f"{base}/leaderboard", staff), "statistics": (f"{base}/statistics", staff),
                    "progress": (f"{base}/progress", staff), "assignments": (f"{base}/assignments", staff)}[page]
        login_as(who)
        client.get(url)  # warm caches (the zone list and the like)
        with counting(app) as statements:
            assert client.get(url).status_code == 200
        counts.append(len(statements))
    assert counts[1] == counts[0], f"{page}: {counts[0]} queries with 3 entries, {counts[1]} with 12"


def test_award_report_appendix_reads_reviews_in_one_query_per_chunk(app, db):
    """The appendix's score sheets: one query for all reviews of a chunk, however many entries it holds."""
    from challenges.judging import report

    counts = []
    for size in (3, 12):
        phase, _, _ = world(size)
        db.session.expire_all()
        entries = judging.entries(phase)
        report.appendix_sheets(phase, {}, entries[:1])  # warm the identity map (rubric, criteria)
        with counting(app) as statements:
            sheets = report.appendix_sheets(phase, {}, entries)
        counts.append(len(statements))
        assert len(sheets) == size
        assert sum(len(s["reviews"]) for s in sheets) == size  # half of 2 x size reviews are submitted
        assert all(r["judge"] == "Judge ?" and r["values"] for s in sheets for r in s["reviews"])
    assert counts[0] == counts[1], counts


# --- every other page that lists rows which grow with the data --------------------------------------------

SIZES = (3, 12)  # the audit log shows 50 events a page: its worlds hold 30 and 120 (one page, then three)


def normalised(statement: str) -> str:
    """One form for a statement whatever the length of its IN lists."""
    return re.sub(r"\(\?(, \?)*\)", "(?…)", " ".join(statement.split()))


def growth(small: list[str], large: list[str]) -> str:
    """The statements issued more often at the larger size: where an N+1 query comes from."""
    before, after = Counter(map(normalised, small)), Counter(map(normalised, large))
    grew = [(after[s] - before[s], s) for s in after if after[s] > before[s]]
    return "\n".join(f"  +{n}: {s[:300]}" for n, s in sorted(grew, reverse=True)[:6])


def fetch(app, client, url: str) -> tuple[list[str], str]:
    """The statements of one GET of `url` (after a warming GET), and its HTML; the page must answer 200."""
    response = client.get(url)  # warm caches (the zone list, cached leaderboards and the like)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    with counting(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return statements, response.get_data(as_text=True)


def two_phase_definition() -> dict:
    """Phase 1 as usual, then a second round opening once the first has closed."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    first = make_definition()["phases"][0]
    second = {**first, "key": "phase-2", "name": "Final round",
              "opens_at": f"{today + timedelta(days=40)}T09:00", "closes_at": f"{today + timedelta(days=80)}T17:00"}
    return {"phases": [first, second]}


def judged_world(size: int, *, vendor=None, two_phases: bool = False):
    """`size` submitted entries (each its own organisation; all one vendor's when `vendor` is given), two
    judges assigned to every entry and half of the reviews submitted."""
    overrides = two_phase_definition() if two_phases else {}
    phase = make_challenge(publish=True, slug=f"queries-{size}", title=f"Queries {size}", **overrides).phases[0]
    entries = []
    for n in range(size):
        owner = vendor or make_user(email=f"q{size}-{n}@v{n}.com", roles=("vendor",))
        entry, _ = make_submission(owner, phase, organization_name=f"Q{size} Co {n}", submit=True)
        entries.append(entry)
    close_submissions(phase)
    judges = [make_judge(phase, f"q{size}-judge{j}@agency.gov", max_load=size) for j in range(2)]
    assignments = [make_assignment(judge, entry) for entry in entries for judge in judges]
    for a in assignments[::2]:
        judging.save_review(actor=a.panel_member.user, assignment=a, values={"quality": "4", "impact": "3"},
                            comments={"quality": f"Clear {a.id}"}, overall_comment=f"Overall {a.id}", submit=True)
    _db.session.commit()
    return phase, judges, entries


def staff_user(size: int):
    return make_user(email=f"qstaff{size}@example.gov", roles=("staff",))


def phase_url(phase, page: str) -> str:
    return f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/{page}"


def page_applications(size):
    phase, _, entries = judged_world(size)
    return staff_user(size), phase_url(phase, "applications"), [e.public_code for e in entries] + [
        f"Q{size} Co {n}" for n in range(size)]


def page_panel(size):
    phase, _, _ = judged_world(size)
    emails = []
    for n in range(size):  # judges who accepted, and invitations nobody has answered yet
        email = f"q{size}-panel{n}@agency.gov"
        if n % 2:
            make_judge(phase, email, attested=False)
        else:
            _db.session.add(PanelMember(phase_id=phase.id, email=email, status="invited", agency="agency.gov"))
        emails.append(email)
    _db.session.commit()
    return staff_user(size), phase_url(phase, "panel"), emails


def page_conflicts(size):
    phase, _, entries = judged_world(size)
    staff = staff_user(size)
    judge = make_judge(phase, f"q{size}-conflicted@agency.gov")
    for entry in entries:  # one conflict per entry, with its organisation
        judging.pin_conflict(actor=staff, member=judge, type_="financial", reason=f"Owns shares in {entry.id}",
                             organization=entry.organization)
    _db.session.commit()
    return staff, phase_url(phase, "conflicts"), [f"Owns shares in {e.id}" for e in entries]


def page_awards(size):
    phase, _, entries = judged_world(size)
    record_awards(phase, entries, size)
    return staff_user(size), phase_url(phase, "awards"), [f"Place {n + 1}" for n in range(size)] + [
        f"Recorded by q{size}-recorder{n}@example.gov" for n in range(size)]


def page_advance(size):
    phase, _, entries = judged_world(size, two_phases=True)
    staff = staff_user(size)
    later = phase.challenge.phases[1]
    applications.advance(actor=staff, phase=phase, submissions=entries[::2], to_phase=later,
                         accept_by=later.opens_at - timedelta(days=1))
    _db.session.commit()
    return staff, phase_url(phase, "advance"), [e.public_code for e in entries]


def page_staff_challenges(size):
    for n in range(size):
        make_challenge(publish=bool(n % 2), slug=f"list-{size}-{n}", title=f"Listed {size} number {n}",
                       agency=f"Agency {n}")
    return staff_user(size), "/staff/challenges", [f"Listed {size} number {n}" for n in range(size)]


def page_public_challenges(size):
    for n in range(size):
        make_challenge(publish=True, slug=f"list-{size}-{n}", title=f"Listed {size} number {n}", agency=f"Agency {n}")
    return None, "/challenges", [f"Listed {size} number {n}" for n in range(size)]


def many_phases(size: int) -> dict:
    """A definition with `size` rounds, one after the other."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    first = make_definition()["phases"][0]
    return {"phases": [{**first, "key": f"round-{n}", "name": f"Round {size}-{n}",
                        "opens_at": f"{today + timedelta(days=40 * n - 1)}T09:00",
                        "closes_at": f"{today + timedelta(days=40 * n + 30)}T17:00"} for n in range(size)]}


def page_staff_overview(size):
    challenge = make_challenge(publish=True, slug=f"rounds-{size}", **many_phases(size))
    return staff_user(size), f"/staff/challenges/{challenge.slug}", [f"Round {size}-{n}" for n in range(size)] + [
        "Dates and judging only"]


def page_public_detail(size):
    challenge = make_challenge(publish=True, slug=f"rounds-{size}", **many_phases(size))
    return None, f"/challenges/{challenge.slug}", [f"Round {size}-{n}" for n in range(size)]


def page_home(size):
    return None, "/", page_public_challenges(size)[2]


def page_vendor_dashboard(size):
    vendor = make_user(email=f"qvendor{size}@vendor.com", roles=("vendor",))
    phase, _, entries = judged_world(size, vendor=vendor, two_phases=True)
    later = phase.challenge.phases[1]
    applications.advance(actor=staff_user(size), phase=phase, submissions=entries[::2], to_phase=later,
                         accept_by=later.opens_at - timedelta(days=1))
    _db.session.commit()
    return vendor, "/vendor/", [f"Q{size} Co {n}" for n in range(size)] + [e.public_code for e in entries]


def page_audit(size):
    staff = staff_user(size)
    for n in range(size * 10):  # 30 events fit on one page, 120 need three
        audit.record(actor=staff, action="test.event", object_type="test", object_id=f"row-{size}-{n}")
    _db.session.commit()
    return staff, "/staff/audit/", [f"row-{size}-{size * 10 - 1}"]


def page_admin_users(size):
    for n in range(size):
        make_user(email=f"q{size}-user{n}@example.gov", roles=("vendor", "member") if n % 2 else ("judge",))
    admin = make_user(email=f"qadmin{size}@example.gov", roles=("admin",))
    return admin, "/admin/users", [f"q{size}-user{n}@example.gov" for n in range(size)]


def page_feedback(size):
    phase, judges, entries = judged_world(size)
    return staff_user(size), phase_url(phase, "feedback"), [e.public_code for e in entries] + [
        f"Overall ({judges[0].email})", f"Quality ({judges[0].email})"]


def page_applications_csv(size):
    phase, _, entries = judged_world(size)
    return staff_user(size), phase_url(phase, "applications.csv"), [e.public_code for e in entries]


def page_assignments_csv(size):
    phase, judges, entries = judged_world(size)
    return staff_user(size), phase_url(phase, "assignments.csv"), [e.public_code for e in entries] + [
        j.email for j in judges]


def page_winners(size):
    phase, _, entries = judged_world(size)
    record_awards(phase, entries, size)
    phase.public_results = "leaderboard"  # the whole ranking too
    phase.challenge.status = "results_published"
    _db.session.commit()
    return None, f"/challenges/{phase.challenge.slug}/winners", [f"Place {n + 1}" for n in range(1, size, 2)] + [
        e.public_code for e in entries[::2]]  # reviewed entries are ranked


def record_awards(phase, entries, size):
    approver = make_user(email=f"qapprover{size}@example.gov", roles=("staff",))
    for n, entry in enumerate(entries):  # recorded by different people, half of them approved
        recorder = make_user(email=f"q{size}-recorder{n}@example.gov", roles=("staff",))
        _db.session.add(Award(phase_id=phase.id, submission_id=entry.id, place=n + 1, title=f"Place {n + 1}",
                              amount=0, justification="Strong.", created_by_id=recorder.id,
                              status="approved" if n % 2 else "proposed",
                              approved_by_id=approver.id if n % 2 else None))
    _db.session.commit()


def page_judge_bids(size):
    phase, judges, entries = judged_world(size)
    phase.bids_enabled = True
    _db.session.commit()
    return judges[0].user, f"/judging/panels/{judges[0].id}/bids", [e.public_code for e in entries]


def page_judge_conflicts(size):
    _, judges, entries = judged_world(size)
    return judges[0].user, f"/judging/panels/{judges[0].id}/conflicts", [e.public_code for e in entries]


def page_judge_leaderboard(size):
    phase, judges, entries = judged_world(size)
    phase.others_scores_visible = "always"
    _db.session.commit()
    return judges[0].user, f"/judging/panels/{judges[0].id}/leaderboard", [e.public_code for e in entries[::2]]


def page_vendor_organization(size):
    owner = make_user(email=f"qowner{size}@vendor.com", roles=("vendor",))
    organization = applications.save_organization(actor=owner, legal_name=f"Big Team {size}")
    for n in range(size):
        colleague = make_user(email=f"q{size}-colleague{n}@vendor.com", roles=("vendor",), name=f"Colleague {n}")
        organization.memberships.append(Membership(user_id=colleague.id, role="contributor"))
        _db.session.add(Invitation(organization_id=organization.id, email=f"q{size}-invited{n}@vendor.com",
                                   invited_by_id=owner.id))
    _db.session.commit()
    return owner, f"/vendor/organizations/{organization.id}", [f"q{size}-colleague{n}@vendor.com" for n in range(
        size)] + [f"q{size}-invited{n}@vendor.com" for n in range(size)]


# --- the community -----------------------------------------------------------------------------------------


def community_world(size: int):
    """`size` of everything: members (judge volunteers), subscribers, groups, newsletters (each to its own
    group), exceptions (each granted by its own staff member), events (upcoming and past, with registrations)
    and resources (each from its own event), steering committee members."""
    now = utcnow()
    staff = staff_user(size)
    members = []
    for n in range(size):
        member = make_user(email=f"q{size}-member{n}@agency.gov", roles=("member",), name=f"Member {size}-{n}")
        _db.session.add(MemberProfile(user_id=member.id, organization=f"Agency {n}", role_category="developer",
                                      judge_volunteer=True, judge_expertise=[f"skill-{n}"]))
        members.append(member)
    for n in range(size):
        _db.session.add(Subscription(email=f"q{size}-subscriber{n}@example.com", confirmed_at=now))
        granter = make_user(email=f"q{size}-granter{n}@example.gov", roles=("staff",), name=f"Granter {size}-{n}")
        _db.session.add(DomainException(email=f"q{size}-excepted{n}@example.com", reason="Contractor",
                                        granted_by_id=granter.id))
        group = WorkingGroup(slug=f"group-{size}-{n}", name=f"Group {size}-{n}", summary="A group.")
        group.memberships.append(GroupMembership(user_id=members[n].id, is_lead=n == 0))
        _db.session.add(group)
        _db.session.flush()
        _db.session.add(Newsletter(subject=f"Letter {size}-{n}", body_md="Hello", audience="group",
                                   group_id=group.id, created_by_id=staff.id))
        _db.session.add(SteeringMember(name=f"Steerer {size}-{n}", title="Chair", organization="GSA", position=n))
        for when, label in ((now + timedelta(days=n + 1), "Upcoming"), (now - timedelta(days=n + 1), "Past")):
            event = Event(uid=f"q{size}-{label}-{n}@localhost", title=f"{label} event {size}-{n}",
                          starts_at=when, ends_at=when + timedelta(hours=1), public=True, capacity=50)
            event.registrations.append(Registration(user_id=members[n].id, status="registered"))
            _db.session.add(event)
            _db.session.flush()
            _db.session.add(Resource(title=f"{label} slides {size}-{n}", kind="link", url="https://example.gov/s",
                                     topics=[f"topic-{n}"], event_id=event.id))
    _db.session.commit()
    return staff, members


def page_community_staff_index(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/", [f"q{size}-excepted{n}@example.com" for n in range(size)] + [
        f"Granter {size}-{n}" for n in range(size)] + [f"Group {size}-{n}</a> — 1 member<" for n in range(size)]


def page_community_subscribers(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/subscribers", [f"q{size}-subscriber{n}@example.com" for n in range(size)]


def page_community_judge_pool(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/judge-pool", [f"Member {size}-{n}" for n in range(size)]


def page_community_newsletters(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/newsletters", [f"Letter {size}-{n}" for n in range(size)] + [
        f"Group {size}-{n}" for n in range(size)]


def page_community_staff_events(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/events", [f"Upcoming event {size}-{n}" for n in range(size)] + [
        f"Past event {size}-{n}" for n in range(size)]


def page_community_staff_resources(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/resources", [f"Past slides {size}-{n}" for n in range(size)]


def page_community_about(size):
    staff, _ = community_world(size)
    return staff, "/staff/community/about", [f"Steerer {size}-{n}" for n in range(size)]


def page_community_events(size):
    community_world(size)
    return None, "/community/events", [f"Upcoming event {size}-{n}" for n in range(size)]


def page_community_events_member(size):
    _, members = community_world(size)
    return members[0], "/community/events", [f"Upcoming event {size}-{n}" for n in range(size)]


def page_community_resources(size):
    community_world(size)
    return None, "/community/resources", [f"Upcoming slides {size}-{n}" for n in range(size)]


def page_community_resources_member(size):
    _, members = community_world(size)
    return members[0], "/community/resources", [f"Past slides {size}-{n}" for n in range(size)]


def page_community_home(size):
    community_world(size)
    return None, "/community/", [f"Upcoming event {size}-0", f"Group {size}-0"]


def big_group(size):
    """Group 0 with every member (the first one its lead) and an announcement by each."""
    staff, members = community_world(size)
    group = _db.session.execute(select(WorkingGroup).where(WorkingGroup.slug == f"group-{size}-0")).scalar_one()
    for n, member in enumerate(members):
        if n:
            group.memberships.append(GroupMembership(user_id=member.id))
        _db.session.add(Announcement(group_id=group.id, author_id=member.id, title=f"News {size}-{n}", body_md="Hi"))
    _db.session.commit()
    return staff, members, group


def page_community_group(size):
    _, members, group = big_group(size)
    return members[1], f"/community/groups/{group.slug}", [f"News {size}-{n}" for n in range(size)] + [
        f"Member {size}-{n}" for n in range(size)] + [f"Members ({size})"]


def page_community_staff_group(size):
    staff, _, group = big_group(size)
    return staff, f"/staff/community/groups/{group.id}", [f"q{size}-member{n}@agency.gov" for n in range(size)]


def page_community_event(size):
    _, members, event = crowded_event(size)
    return members[-1], f"/community/events/{event.id}", [f"Extra slides {size}-{n}" for n in range(1, size)] + [
        f"You are number {size - 1} on the waitlist"]


def page_community_staff_event(size):
    staff, _, event = crowded_event(size)
    return staff, f"/staff/community/events/{event.id}", [f"Member {size}-{n} (q{size}-member{n}@agency.gov)"
                                                          for n in range(size)]


def crowded_event(size):
    """The first upcoming event with one seat, taken by the first member; the others on its waitlist."""
    staff, members = community_world(size)
    event = _db.session.execute(select(Event).where(Event.title == f"Upcoming event {size}-0")).scalar_one()
    event.capacity = 1
    for n, member in enumerate(members[1:], 1):  # the rest wait for a seat; the last one asks for the page
        event.registrations.append(Registration(user_id=member.id, status="waitlisted",
                                                queued_at=utcnow() - timedelta(minutes=size - n)))
        _db.session.add(Resource(title=f"Extra slides {size}-{n}", kind="link", url="https://example.gov/x",
                                 event_id=event.id))
    _db.session.commit()
    return staff, members, event


def page_community_groups(size):
    _, members = community_world(size)
    return members[0], "/community/groups", [f"Group {size}-{n}" for n in range(size)] + ["You are a member"]


def page_community_directory(size):
    _, members = community_world(size)
    return members[0], "/community/directory", [f"Member {size}-{n}" for n in range(size)]


PAGES = {name[len("page_"):]: build for name, build in dict(globals()).items() if name.startswith("page_")}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_queries_do_not_grow_with_rows(app, db, client, login_as, page):
    """The page answers 200 showing its rows at both sizes, with as many statements at 12 rows as at 3."""
    counts, seen = [], []
    for size in SIZES:
        who, url, expected = PAGES[page](size)
        login_as(who if who is not None else "anonymous")
        statements, html = fetch(app, client, url)
        missing = [text for text in expected if text not in html]
        assert not missing, f"{page} at {size} rows: {url} does not show {missing[:5]}"
        counts.append(len(statements))
        seen.append(statements)
    assert counts[1] == counts[0], (f"{page}: {counts[0]} queries with {SIZES[0]} rows, {counts[1]} with {SIZES[1]}"
                                    f"\n{growth(*seen)}")
