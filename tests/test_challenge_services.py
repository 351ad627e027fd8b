from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from challenges import services
from challenges.audit import AuditEvent
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.models import Challenge, ChallengeStatus
from tests.factories import make_challenge, make_user


@pytest.fixture
def staff(app, db):
    return make_user(email="author@example.gov", roles=("staff",))


def _fresh(db, challenge) -> Challenge:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Challenge, challenge.id)


def test_vendor_cannot_author(app, db):
    vendor = make_user(email="v@example.com", roles=("vendor",))
    with pytest.raises(PermissionDenied):
        services.create_challenge(actor=vendor, title="X", slug="x-slug")


@pytest.mark.parametrize(("slug", "text"), [
    ("", "Enter a slug"), ("ab", "3 to 80"), ("Has Caps", "lower-case"), ("double--hyphen", "lower-case"),
    ("-leading", "lower-case"), ("x" * 81, "3 to 80"),
])
def test_slug_rules(staff, slug, text):
    with pytest.raises(ValidationFailed) as err:
        services.create_challenge(actor=staff, title="T", slug=slug)
    assert text in err.value.errors["slug"]


def test_rules_version_is_hash_of_normalised_text(staff, db):
    challenge = make_challenge(author=staff)
    services.update_rules(actor=staff, challenge=challenge, eligibility_md="", rules_md="1. Rule  \n2. Two\n")
    first = challenge.rules_version
    services.update_rules(actor=staff, challenge=challenge, eligibility_md="", rules_md="\n1. Rule\n2. Two")
    assert challenge.rules_version == first == services.rules_hash("1. Rule\n2. Two")
    services.update_rules(actor=staff, challenge=challenge, eligibility_md="", rules_md="1. Rule\n2. Changed")
    assert challenge.rules_version != first


def test_failed_save_leaves_previous_values(staff, db):
    challenge = make_challenge(author=staff, title="Original")
    with pytest.raises(ValidationFailed):
        services.update_general(actor=staff, challenge=challenge, title="", slug="ok-slug", agency="",
                                summary="", description_md="", timezone="America/New_York")
    assert _fresh(db, challenge).title == "Original"
    with pytest.raises(ValidationFailed):
        services.update_prizes(actor=staff, challenge=challenge, prize_total=-5, awards_md="new")
    assert _fresh(db, challenge).awards_md == "- First: $100,000"


def test_phase_rules(staff, db):
    challenge = make_challenge(author=staff)
    base = {"actor": staff, "challenge": challenge, "key": "p2", "name": "Two"}
    later = datetime(2031, 1, 1, 9, 0)
    cases = [
        ({"opens_local": later, "closes_local": later - timedelta(days=1)}, "closes_at", "after opening"),
        ({"opens_local": later, "closes_local": later + timedelta(days=1), "grace_seconds": -1},
         "grace_seconds", "between 0"),
        ({"opens_local": later, "closes_local": later + timedelta(days=1), "max_submissions_per_org": 0},
         "max_submissions_per_org", "between 1"),
        ({"opens_local": later, "closes_local": later + timedelta(days=1), "key": "phase-1"}, "key", "already uses"),
        ({"opens_local": None, "closes_local": later}, "opens_at", "Enter a date"),
    ]
    for extra, field, text in cases:
        with pytest.raises(ValidationFailed) as err:
            services.save_phase(**{**base, **extra})
        assert text in err.value.errors[field], (field, err.value.errors)
    assert len(_fresh(db, challenge).phases) == 1


def test_phase_state_follows_clock_and_grace(staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    phase.grace_seconds = 300
    assert phase.state(phase.opens_at - timedelta(seconds=1)) == "upcoming"
    assert phase.state(phase.opens_at) == "open"
    assert phase.state(phase.closes_at + timedelta(seconds=299)) == "open"
    assert phase.state(phase.closes_at + timedelta(seconds=301)) == "closed"


def test_field_rules(staff, db):
    phase = make_challenge(author=staff).phases[0]
    cases = [
        ({"key": "summary", "label": "Again", "type": "text"}, "key", "already used"),
        ({"key": "pick", "label": "Pick", "type": "select", "options": []}, "options", "at least one option"),
        ({"key": "pick", "label": "Pick", "type": "select", "options": ["a", "a"]}, "options", "different"),
        ({"key": "doc", "label": "Doc", "type": "file", "accept": [], "max_bytes": 10}, "accept", "at least one"),
        ({"key": "doc", "label": "Doc", "type": "file", "accept": ["text/html"], "max_bytes": 10}, "accept",
         "Unknown file type"),
        ({"key": "doc", "label": "Doc", "type": "file", "accept": ["application/pdf"], "max_bytes": 0},
         "max_bytes", "between 1 byte"),
        ({"key": "x", "label": "X", "type": "colour"}, "type", "Choose a field type"),
        ({"key": "9bad", "label": "X", "type": "text"}, "key", "starting with a letter"),
        ({"key": "t", "label": "T", "type": "text", "max_length": 0}, "max_length", "between 1"),
    ]
    for kwargs, field, text in cases:
        with pytest.raises(ValidationFailed) as err:
            services.save_field(actor=staff, phase=phase, **kwargs)
        assert text in err.value.errors[field], (kwargs, err.value.errors)


def test_criterion_rules(staff, db):
    phase = make_challenge(author=staff).phases[0]
    ok = {"key": "c", "name": "C", "weight": 1.0, "scale_min": 1.0, "scale_max": 5.0, "step": 1.0}
    cases = [
        ({"weight": -1.0}, "weight", "must be >= 0"),
        ({"scale_max": 1.0}, "max", "greater than its minimum"),
        ({"step": 3.0}, "step", "divide the scale"),
        ({"step": 0.0}, "step", "greater than 0"),
        ({"anchors": {"6": "Too high"}}, "anchors", "not a value on the scale"),
        ({"anchors": {"2.5": "Off step"}}, "anchors", "not a value on the scale"),
        ({"comment_rule": "sometimes"}, "comment_rule", "never, always"),
        ({"key": "quality"}, "key", "already used"),
    ]
    for extra, field, text in cases:
        with pytest.raises(ValidationFailed) as err:
            services.save_criterion(actor=staff, phase=phase, **{**ok, **extra})
        assert text in err.value.errors[field], (extra, err.value.errors)
    half = services.save_criterion(actor=staff, phase=phase, **{**ok, "key": "half", "step": 0.5,
                                                                "anchors": {"1.5": "Low-ish", "5": "Top"}})
    assert half.anchors == {"1.5": "Low-ish", "5": "Top"}
    independent = services.save_criterion(actor=staff, phase=phase, **{**ok, "key": "ind", "weight": 4.0,
                                                                       "independent": True})
    assert independent.weight == 0.0


def test_rubric_keeps_a_weighted_criterion(staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    quality, impact = phase.rubric.criteria
    services.save_criterion(actor=staff, phase=phase, key="ethics", name="Ethics", weight=0.0, scale_min=1.0,
                            scale_max=5.0, step=1.0, independent=True)
    services.delete_criterion(actor=staff, criterion=impact)
    with pytest.raises(ValidationFailed, match="at least one criterion with a weight"):
        services.delete_criterion(actor=staff, criterion=quality)
    with pytest.raises(ValidationFailed) as err:
        services.save_criterion(actor=staff, phase=phase, criterion=quality, key="quality", name="Q",
                                weight=0.0, scale_min=1.0, scale_max=5.0, step=1.0)
    assert "at least one criterion" in err.value.errors["weight"]


def test_judging_settings_rules(staff, db):
    phase = make_challenge(author=staff).phases[0]
    with pytest.raises(ValidationFailed) as err:
        services.save_judging(actor=staff, phase=phase, judges_per_entry=2, quorum=3, primary_method="vibes",
                              blind=True, others_scores_visible="sometimes")
    assert set(err.value.errors) == {"quorum", "primary_method", "others_scores_visible"}
    services.save_judging(actor=staff, phase=phase, judges_per_entry=4, quorum=3, primary_method="calibrated",
                          blind=True, others_scores_visible="after_own")
    assert (phase.judges_per_entry, phase.quorum, phase.blind) == (4, 3, True)


def test_lifecycle_approval_by_second_person(staff, db):
    reviewer = make_user(email="reviewer@example.gov", roles=("staff",))
    make_user(email="unverified@example.gov", roles=("staff",), verified=False)
    challenge = make_challenge(author=staff)
    asked = services.submit_for_review(actor=staff, challenge=challenge, note="Please look")
    assert [u.email for u in asked] == ["reviewer@example.gov"]
    assert challenge.status == "in_review"
    mail = db.session.execute(select(OutboxMessage)).scalars().all()
    assert [m.to_addr for m in mail] == ["reviewer@example.gov"]
    assert "/staff/challenges/test-challenge/review" in mail[0].body_text
    with pytest.raises(Conflict):
        services.update_prizes(actor=staff, challenge=challenge, prize_total=1, awards_md="")
    with pytest.raises(PermissionDenied, match="cannot be approved by its author"):
        services.approve_and_publish(actor=staff, challenge=challenge)
    with pytest.raises(ValidationFailed):
        services.request_changes(actor=reviewer, challenge=challenge, note="  ")
    services.request_changes(actor=reviewer, challenge=challenge, note="Add a second prize")
    assert challenge.status == "draft" and challenge.review_note == "Add a second prize"
    services.submit_for_review(actor=staff, challenge=challenge)
    services.approve_and_publish(actor=reviewer, challenge=challenge)
    db.session.commit()
    assert challenge.status == "published" and challenge.approved_by_id == reviewer.id
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.object_type == "challenge")
                                 .order_by(AuditEvent.seq)).scalars().all()
    assert actions[-4:] == ["challenge.submitted_for_review", "challenge.changes_requested",
                            "challenge.submitted_for_review", "challenge.approved_and_published"]


def test_incomplete_challenge_lists_problems(staff, db):
    challenge = services.create_challenge(actor=staff, title="Bare", slug="bare")
    with pytest.raises(ValidationFailed) as err:
        services.submit_for_review(actor=staff, challenge=challenge)
    problems = " ".join(err.value.errors.values())
    assert "add a summary" in problems and "official rules" in problems and "at least one phase" in problems


def test_past_close_blocks_publication(staff, db):
    challenge = make_challenge(author=staff, phases=[{
        "key": "old", "name": "Old", "opens_at": "2020-01-01T09:00", "closes_at": "2020-02-01T09:00",
        "fields": [{"key": "a", "label": "A", "type": "text"}],
        "rubric": {"criteria": [{"key": "q", "name": "Q", "weight": 1, "min": 1, "max": 5}]}}])
    assert "Timeline: at least one phase must close in the future." in services.completeness_problems(challenge)


def test_transitions(staff, db):
    challenge = make_challenge(author=staff, publish=True)
    with pytest.raises(Conflict):
        services.transition(actor=staff, challenge=challenge, to="archived")
    services.transition(actor=staff, challenge=challenge, to="closed")
    with pytest.raises(ValidationFailed, match="reason"):
        services.transition(actor=staff, challenge=challenge, to="published")
    services.transition(actor=staff, challenge=challenge, to="judging")
    services.transition(actor=staff, challenge=challenge, to="results_published")
    services.transition(actor=staff, challenge=challenge, to="archived")
    assert challenge.status_enum is ChallengeStatus.ARCHIVED
    for section in services.SECTIONS:
        assert not services.can_edit(challenge, section)


def test_published_keeps_form_and_slug(staff, db):
    challenge = make_challenge(author=staff, publish=True)
    phase = challenge.phases[0]
    with pytest.raises(Conflict, match="form section cannot be changed"):
        services.save_field(actor=staff, phase=phase, key="new", label="New", type="text")
    with pytest.raises(ValidationFailed) as err:
        services.update_general(actor=staff, challenge=challenge, title="T", slug="moved", agency="",
                                summary="s", description_md="", timezone="America/New_York")
    assert "keeps its address" in err.value.errors["slug"]


def test_clone_copies_definition(staff, db):
    from challenges.definition import export_definition

    original = make_challenge(author=staff, publish=True)
    copy = services.clone_challenge(actor=staff, challenge=original, slug="copy-slug", title="Copy")
    assert copy.status == "draft"
    a, b = export_definition(original), export_definition(copy)
    assert {**a, "slug": "", "title": ""} == {**b, "slug": "", "title": ""}


def test_public_listing(staff, db):
    now = datetime.now(UTC)
    open_one = make_challenge(author=staff, publish=True, slug="open-one", agency="HHS", title="Health")
    make_challenge(author=staff, slug="draft-one")
    assert services.public_state(open_one, now) == "open"
    assert [c.slug for c in services.list_public_challenges(now=now)] == ["open-one"]
    assert services.list_public_challenges(agency="GSA", now=now) == []
    assert services.list_public_challenges(query="HEALTH", now=now) == [open_one]
    assert services.list_public_challenges(state="closed", now=now) == []
    later = now + timedelta(days=400)
    assert services.public_state(open_one, later) == "closed"
    assert services.public_agencies() == ["HHS"]
