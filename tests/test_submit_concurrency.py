"""200 applications submitted at the deadline, each twice at once, on PostgreSQL: none lost, none doubled."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from challenges.accounts.models import User
from challenges.audit import verify
from challenges.extensions import db as _db
from challenges.submissions import services as subs
from challenges.submissions.models import Receipt, Submission
from tests.factories import make_challenge, make_submission, make_user

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="concurrency is measured on PostgreSQL (TEST_DATABASE_URL)")
COUNT = 200


def test_two_hundred_simultaneous_submissions(app, db):
    phase = make_challenge(publish=True, slug="burst").phases[0]
    pairs = []
    for n in range(COUNT):
        vendor = make_user(email=f"v{n}@example.com", roles=("vendor",))
        submission, _ = make_submission(vendor, phase, organization_name=f"Vendor {n}", accept_rules=True)
        pairs.append((vendor.id, submission.id))
    db.session.commit()
    db.session.remove()

    def submit(pair):
        user_id, submission_id = pair
        with app.app_context():
            try:
                user = _db.session.get(User, user_id)
                submission = _db.session.get(Submission, submission_id)
                receipt = subs.submit(actor=user, submission=submission)
                _db.session.commit()
                return receipt.id
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        receipt_ids = list(pool.map(submit, pairs + pairs))  # every application twice, interleaved

    assert len(receipt_ids) == 2 * COUNT
    assert db.session.execute(select(func.count(Receipt.id))).scalar_one() == COUNT
    assert db.session.execute(select(func.count(Submission.id)).where(Submission.status == "submitted")
                              ).scalar_one() == COUNT
    codes = db.session.execute(select(Submission.public_code)).scalars().all()
    assert len(set(codes)) == COUNT and None not in codes
    assert verify().ok  # the audit chain stayed linear under contention


def test_simultaneous_starts_respect_the_per_organisation_limit(app, db):
    """Twelve members of one organisation start at once with a limit of one: exactly one succeeds."""
    from challenges.errors import Conflict
    from challenges.submissions.models import Membership, Organization

    phase = make_challenge(publish=True, slug="race").phases[0]
    phase.max_submissions_per_org = 1
    owner = make_user(email="owner@example.com", roles=("vendor",))
    org = subs.save_organization(actor=owner, legal_name="Race Co")
    members = [owner.id]
    for n in range(11):
        member = make_user(email=f"m{n}@example.com", roles=("vendor",))
        db.session.add(Membership(organization_id=org.id, user_id=member.id, role="contributor"))
        members.append(member.id)
    db.session.commit()
    org_id, phase_id = org.id, phase.id
    db.session.remove()

    def start(user_id):
        with app.app_context():
            try:
                from challenges.models import Phase
                subs.start_application(actor=_db.session.get(User, user_id),
                                       phase=_db.session.get(Phase, phase_id),
                                       organization=_db.session.get(Organization, org_id))
                _db.session.commit()
                return "started"
            except Conflict:
                _db.session.rollback()
                return "refused"
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(start, members))

    assert sorted(outcomes).count("started") == 1 and outcomes.count("refused") == 11
    assert db.session.execute(select(func.count(Submission.id)).where(Submission.organization_id == org_id)
                              ).scalar_one() == 1


def test_judge_submitting_twice_at_once_gives_one_review(app, db):
    """Double click or two tabs: eight simultaneous submits of one review leave one review, one score per
    criterion, and one 'submitted' audit event."""
    from challenges.audit import AuditEvent
    from challenges.judging import services as judging
    from challenges.judging.models import Assignment, Review, Score
    from tests.factories import close_submissions, make_assignment, make_judge

    phase = make_challenge(publish=True, slug="double").phases[0]
    vendor = make_user(email="double@vendor.com", roles=("vendor",))
    submission, _ = make_submission(vendor, phase, submit=True)
    close_submissions(phase)
    judge = make_judge(phase, "double@agency.gov")
    assignment_id, user_id = make_assignment(judge, submission).id, judge.user_id
    db.session.remove()

    def save(_):
        with app.app_context():
            try:
                judging.save_review(actor=_db.session.get(User, user_id),
                                    assignment=_db.session.get(Assignment, assignment_id),
                                    values={"quality": "4", "impact": "5"}, comments={}, submit=True,
                                    reason="double")
                _db.session.commit()
                return "ok"
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(save, range(8))) == ["ok"] * 8
    assert db.session.execute(select(func.count(Review.id))).scalar_one() == 1
    assert db.session.execute(select(func.count(Score.id))).scalar_one() == 2
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "review.submitted")
                              ).scalar_one() == 1


def test_fifty_simultaneous_registrations_for_the_last_ten_seats(app, db):
    """Exactly 10 get the seats and 40 join the waitlist in order; nobody is registered twice."""
    from datetime import timedelta

    from challenges.community import services as community
    from challenges.community.models import Event, Registration
    from challenges.timezones import format_local_iso, utcnow

    staff = make_user(email="events@example.gov", roles=("staff",))
    start = utcnow() + timedelta(days=7)
    event = community.save_event(actor=staff, title="Popular", summary="", agenda_md="", speakers="",
                                 starts=format_local_iso(start, "UTC"),
                                 ends=format_local_iso(start + timedelta(hours=1), "UTC"), timezone="UTC",
                                 location="", join_url="", capacity=12, public=True)
    for n in range(2):
        community.register(actor=make_user(email=f"early{n}@nih.gov", roles=("member",)), event=event)
    people = [make_user(email=f"p{n}@nih.gov", roles=("member",)).id for n in range(50)]
    db.session.commit()
    event_id = event.id
    db.session.remove()

    def register(user_id):
        with app.app_context():
            try:
                reg = community.register(actor=_db.session.get(User, user_id), event=_db.session.get(Event, event_id))
                _db.session.commit()
                return reg.status
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(register, people + people[:10]))  # ten of them press twice

    assert db.session.execute(select(func.count(Registration.id)).where(Registration.status == "registered")
                              ).scalar_one() == 12
    assert db.session.execute(select(func.count(Registration.id)).where(Registration.status == "waitlisted")
                              ).scalar_one() == 40
    assert db.session.execute(select(func.count(Registration.id))).scalar_one() == 52
    assert outcomes[:50].count("registered") == 10
    assert verify().ok


def test_simultaneous_awards_keep_one_per_entry_and_the_prize_total(app, db):
    """Two staff members record awards at the same moment: an entry gets one award, and the awards
    never add up to more than the prize total (100,000 here), whatever the interleaving."""
    from challenges import services as core
    from challenges.errors import ValidationFailed
    from challenges.judging import awards
    from challenges.judging import services as judging
    from challenges.judging.models import Award
    from challenges.models import Challenge, Phase

    staff = [make_user(email=f"awarder{n}@example.gov", roles=("staff",)) for n in range(8)]
    challenge = make_challenge(author=staff[0], publish=True, slug="award-race")
    phase = challenge.phases[0]
    rows = ["entry,judge,criterion,score"] + [
        f"Race entry {e},j{j}@agency.gov,{c},{1 + (e * 3 + j + len(c)) % 5}"
        for e in range(4) for j in range(3) for c in ("quality", "impact")]
    judging.import_scores(actor=staff[0], challenge=challenge, phase=phase, text="\n".join(rows) + "\n",
                          create_missing=True)
    core.transition(actor=staff[0], challenge=challenge, to="closed")
    core.transition(actor=staff[0], challenge=challenge, to="judging")
    db.session.commit()
    entry_ids = db.session.execute(select(Submission.id).where(Submission.phase_id == phase.id)
                                   .order_by(Submission.id)).scalars().all()
    phase_id, staff_ids, challenge_id = phase.id, [s.id for s in staff], challenge.id
    db.session.remove()

    def record(job):
        n, entry_id, amount = job
        with app.app_context():
            try:
                awards.record_award(actor=_db.session.get(User, staff_ids[n]),
                                    phase=_db.session.get(Phase, phase_id),
                                    submission=_db.session.get(Submission, entry_id), place=1 + n % 4,
                                    title=f"Award {n}", amount=amount, justification="race",
                                    override_reason="the panel decided")
                _db.session.commit()
                return "recorded"
            except ValidationFailed:
                _db.session.rollback()
                return "refused"
            finally:
                _db.session.remove()

    # Four press "record" for the first entry at once; four others each award 40,000 to other entries.
    jobs = [(n, entry_ids[0], 10_000) for n in range(4)] + [(n, entry_ids[1 + n % 3], 40_000) for n in range(4, 8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(record, jobs))
    recorded = db.session.execute(select(Award)).scalars().all()
    assert outcomes.count("recorded") == len(recorded)
    assert sum(1 for a in recorded if a.submission_id == entry_ids[0]) == 1
    assert len({a.submission_id for a in recorded}) == len(recorded)  # never two awards for one entry
    assert sum(a.amount for a in recorded) <= 100_000
    assert len(recorded) == 3  # 10,000 + two of the 40,000 awards fit; the third would pass the total
    assert db.session.get(Challenge, challenge_id).prize_total == 100_000
    assert verify().ok


def test_simultaneous_suspicion_checks_record_each_suspicion_once(app, db):
    """Two staff pressing "check for suspected conflicts" (or a check while judges attest): every
    suspected judge-organisation pair is recorded, and audited, once."""
    from challenges.audit import AuditEvent
    from challenges.judging import services as judging
    from challenges.judging.models import Conflict
    from challenges.models import Phase
    from tests.factories import close_submissions, make_judge

    phase = make_challenge(publish=True, slug="suspicions").phases[0]
    for n in range(6):
        vendor = make_user(email=f"owner@vendor{n}.com", roles=("vendor",))
        make_submission(vendor, phase, organization_name=f"Vendor {n}", submit=True)
    close_submissions(phase)
    for n in range(4):  # judge n shares vendor n's email domain
        make_judge(phase, f"judge@vendor{n}.com")
    phase_id = phase.id
    db.session.remove()

    def check(_):
        with app.app_context():
            try:
                found = judging.detect_suspected(_db.session.get(Phase, phase_id))
                _db.session.commit()
                return len(found)
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(check, range(8)))
    assert sum(created) == 4  # what one check finds, split however the race went
    pairs = db.session.execute(select(Conflict.panel_member_id, Conflict.organization_id)
                               .where(Conflict.status == "suspected")).all()
    assert len(pairs) == len(set(pairs)) == 4
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "conflict.suspected")
                              ).scalar_one() == 4
