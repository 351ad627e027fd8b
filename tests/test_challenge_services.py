"""challenges/services.py: authoring rules, lifecycle, approval, clone and public listings."""

import hashlib
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from challenges import services
from challenges.audit import AuditEvent, verify
from challenges.definition import export_definition
from challenges.errors import Conflict, PermissionDenied, ValidationFailed
from challenges.mail import OutboxMessage
from challenges.models import Challenge, ChallengeStatus, Criterion, FormField, Phase
from tests.factories import ZONE, make_challenge, make_user

NOW = datetime.now(UTC)
FUTURE = datetime(2031, 1, 6, 9, 0)  # a Monday in winter, far from any other phase


def _today() -> date:
    """Today in New York, the zone the factories' definitions use."""
    return NOW.astimezone(ZoneInfo(ZONE)).date()


@pytest.fixture
def staff(app, db):
    return make_user(email="author@example.gov", roles=("staff",))


@pytest.fixture
def reviewer(app, db):
    return make_user(email="reviewer@example.gov", roles=("staff",))


def _reload(db, model, obj_id):
    """The row as the database has it, after throwing away whatever the session held."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, obj_id)


def _actions(db, object_type: str | None = None) -> list[str]:
    stmt = select(AuditEvent.action).order_by(AuditEvent.seq)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.execute(stmt).scalars())


def _last_event(db) -> AuditEvent:
    return db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()


def _phase_def(key: str, opens: date, closes: date, name: str | None = None) -> dict:
    return {
        "key": key, "name": name or key.title(), "opens_at": f"{opens}T09:00", "closes_at": f"{closes}T17:00",
        "fields": [{"key": "summary", "label": "Summary", "type": "textarea", "required": True}],
        "rubric": {"criteria": [{"key": "quality", "name": "Quality", "weight": 1, "min": 1, "max": 5}]},
    }


def _set_status(db, challenge: Challenge, status: ChallengeStatus) -> Challenge:
    challenge.status = status.value
    db.session.commit()
    return challenge


def _general(challenge: Challenge, **changes) -> dict:
    values = {"title": challenge.title, "slug": challenge.slug, "agency": challenge.agency,
              "summary": challenge.summary, "description_md": challenge.description_md,
              "timezone": challenge.timezone}
    return {**values, **changes}


# --- creating and general details -----------------------------------------------------------


def test_create_challenge_makes_audited_draft(staff, db):
    challenge = services.create_challenge(actor=staff, title=" Space AI ", slug="space-ai", agency=" NASA ",
                                          summary=" Find things. ")
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert (stored.title, stored.slug, stored.agency, stored.summary) == ("Space AI", "space-ai", "NASA",
                                                                          "Find things.")
    assert stored.status == "draft" and stored.created_by_id == staff.id and stored.timezone == "America/New_York"
    assert stored.rules_version == hashlib.sha256(b"").hexdigest()
    event = _last_event(db)
    assert (event.action, event.object_id, event.details) == ("challenge.created", str(stored.id),
                                                              {"slug": "space-ai"})


@pytest.mark.parametrize("roles", [("vendor",), ("judge",), ("member",)])
def test_create_challenge_non_staff_refused(app, db, roles):
    outsider = make_user(email="outsider@example.gov", roles=roles)

    with pytest.raises(PermissionDenied, match="Only program staff"):
        services.create_challenge(actor=outsider, title="X", slug="x-slug")

    assert db.session.execute(select(Challenge)).first() is None


def test_create_challenge_admin_allowed(app, db):
    admin = make_user(email="admin@example.gov", roles=("admin",))

    assert services.create_challenge(actor=admin, title="By admin", slug="by-admin").status == "draft"


@pytest.mark.parametrize(("slug", "text"), [
    ("", "Enter a slug"),
    ("ab", "A slug must be 3 to 80 characters long."),
    ("x" * 81, "A slug must be 3 to 80 characters long."),
    ("Has Caps", "Use only lower-case letters, digits and single hyphens"),
    ("with space", "Use only lower-case letters"),
    ("double--hyphen", "Use only lower-case letters"),
    ("-leading", "Use only lower-case letters"),
    ("trailing-", "Use only lower-case letters"),
    ("under_score", "Use only lower-case letters"),
    ("ümlaut", "Use only lower-case letters"),
])
def test_create_challenge_malformed_slug_refused(staff, db, slug, text):
    with pytest.raises(ValidationFailed) as err:
        services.create_challenge(actor=staff, title="T", slug=slug)

    assert text in err.value.errors["slug"]


@pytest.mark.parametrize("slug", ["abc", "ai-health-2026", "x" * 80, "a1-b2-c3"])
def test_create_challenge_good_slug_accepted(staff, db, slug):
    assert services.create_challenge(actor=staff, title="T", slug=slug).slug == slug


def test_create_challenge_duplicate_slug_refused(staff, db):
    services.create_challenge(actor=staff, title="First", slug="taken")
    db.session.commit()

    with pytest.raises(ValidationFailed) as err:
        services.create_challenge(actor=staff, title="Second", slug="taken")

    assert err.value.errors["slug"] == "The slug “taken” is already used by another challenge. Choose another."
    db.session.rollback()
    assert [c.title for c in db.session.execute(select(Challenge)).scalars()] == ["First"]


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"title": "  "}, "title", "Enter a title."),
    ({"title": "x" * 201}, "title", "200 characters or fewer"),
    ({"summary": "x" * 601}, "summary", "600 characters or fewer"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
    ({"slug": "Bad Slug"}, "slug", "lower-case"),
])
def test_create_challenge_bad_general_fields_refused(staff, db, changes, field, text):
    kwargs = {"title": "Title", "slug": "good-slug", "summary": "", "timezone": "America/New_York", **changes}

    with pytest.raises(ValidationFailed) as err:
        services.create_challenge(actor=staff, **kwargs)

    assert text in err.value.errors[field]


def test_update_general_saves_and_audits_before_after(staff, db):
    challenge = make_challenge(author=staff, title="Original")

    services.update_general(actor=staff, challenge=challenge,
                            **_general(challenge, title="Renamed", slug="renamed", agency="NASA",
                                       timezone="America/Chicago", description_md="## New"))
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert (stored.title, stored.slug, stored.agency, stored.timezone) == ("Renamed", "renamed", "NASA",
                                                                           "America/Chicago")
    assert stored.description_md == "## New"
    event = _last_event(db)
    assert event.action == "challenge.general_saved"
    assert event.details["before"]["title"] == "Original" and event.details["after"]["slug"] == "renamed"


def test_update_general_keeps_own_slug_and_refuses_another(staff, db):
    make_challenge(author=staff, slug="other-one")
    challenge = make_challenge(author=staff, slug="mine")

    services.update_general(actor=staff, challenge=challenge, **_general(challenge, title="Same slug ok"))
    with pytest.raises(ValidationFailed) as err:
        services.update_general(actor=staff, challenge=challenge, **_general(challenge, slug="other-one"))

    assert "already used" in err.value.errors["slug"]


def test_update_general_refused_save_leaves_previous_values(staff, db):
    challenge = make_challenge(author=staff, title="Original", summary="Kept")

    with pytest.raises(ValidationFailed) as err:
        services.update_general(actor=staff, challenge=challenge,
                                **_general(challenge, title="", summary="Changed", slug="x"))

    assert set(err.value.errors) == {"title", "slug"}
    stored = _reload(db, Challenge, challenge.id)
    assert (stored.title, stored.summary, stored.slug) == ("Original", "Kept", "test-challenge")
    assert "challenge.general_saved" not in _actions(db)


def test_update_general_published_keeps_slug_and_timezone(staff, db):
    challenge = make_challenge(author=staff, publish=True)

    with pytest.raises(ValidationFailed) as err:
        services.update_general(actor=staff, challenge=challenge,
                                **_general(challenge, slug="moved", timezone="America/Denver"))

    assert err.value.errors["slug"] == "A published challenge keeps its address; the slug cannot change now."
    assert err.value.errors["timezone"] == "The time zone can change only while the challenge is a draft."
    services.update_general(actor=staff, challenge=challenge, **_general(challenge, title="Title fix"))
    assert challenge.title == "Title fix"


def test_update_prizes_saves_and_audits(staff, db):
    challenge = make_challenge(author=staff)

    services.update_prizes(actor=staff, challenge=challenge, prize_total=250_000, awards_md="- One prize")
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert (stored.prize_total, stored.awards_md) == (250_000, "- One prize")
    assert _last_event(db).details == {"before": {"prize_total": 100000}, "after": {"prize_total": 250000}}


def test_update_prizes_largest_amount_is_stored(staff, db):
    challenge = make_challenge(author=staff)

    services.update_prizes(actor=staff, challenge=challenge, prize_total=2_147_483_647, awards_md="")
    db.session.commit()

    assert _reload(db, Challenge, challenge.id).prize_total == 2_147_483_647


@pytest.mark.parametrize(("amount", "text"), [(-5, "0 or more"), (None, "0 or more"), (2**31, "too large")])
def test_update_prizes_bad_amount_leaves_previous_values(staff, db, amount, text):
    challenge = make_challenge(author=staff)

    with pytest.raises(ValidationFailed) as err:
        services.update_prizes(actor=staff, challenge=challenge, prize_total=amount, awards_md="new")

    assert text in err.value.errors["prize_total"]
    stored = _reload(db, Challenge, challenge.id)
    assert (stored.prize_total, stored.awards_md) == (100000, "- First: $100,000")


def test_update_rules_version_is_sha256_of_normalised_text(staff, db):
    challenge = make_challenge(author=staff)
    expected = hashlib.sha256(b"1. Rule\n2. Two").hexdigest()

    services.update_rules(actor=staff, challenge=challenge, eligibility_md="US only",
                          rules_md="\n\n1. Rule   \n2. Two\t\n\n")
    first = challenge.rules_version
    services.update_rules(actor=staff, challenge=challenge, eligibility_md="US only", rules_md="1. Rule\n2. Two")
    second = challenge.rules_version
    services.update_rules(actor=staff, challenge=challenge, eligibility_md="US only", rules_md="1. Rule\n2. Changed")
    db.session.commit()

    assert first == second == expected == services.rules_hash("1. Rule\n2. Two")
    assert challenge.rules_version == hashlib.sha256(b"1. Rule\n2. Changed").hexdigest()
    stored = _reload(db, Challenge, challenge.id)
    assert (stored.eligibility_md, stored.rules_md) == ("US only", "1. Rule\n2. Changed")
    event = _last_event(db)
    assert event.action == "challenge.rules_saved"
    assert event.details == {"before": {"rules_version": expected},
                             "after": {"rules_version": stored.rules_version}}


# --- phases ---------------------------------------------------------------------------------


def _save_phase(staff, challenge, **changes):
    kwargs = {"actor": staff, "challenge": challenge, "key": "phase-2", "name": "Finals",
              "opens_local": FUTURE, "closes_local": FUTURE + timedelta(days=10), **changes}
    return services.save_phase(**kwargs)


def test_save_phase_converts_local_times_and_audits(staff, db):
    challenge = make_challenge(author=staff)

    phase = _save_phase(staff, challenge, opens_local=datetime(2031, 1, 6, 9, 0),
                        closes_local=datetime(2031, 7, 7, 17, 0), grace_seconds=600, max_submissions_per_org=3)
    db.session.commit()

    stored = _reload(db, Phase, phase.id)
    assert stored.opens_at == datetime(2031, 1, 6, 14, 0, tzinfo=UTC)  # EST
    assert stored.closes_at == datetime(2031, 7, 7, 21, 0, tzinfo=UTC)  # EDT
    assert (stored.grace_seconds, stored.max_submissions_per_org, stored.order) == (600, 3, 2)
    assert stored.hard_close == datetime(2031, 7, 7, 21, 10, tzinfo=UTC)
    event = _last_event(db)
    assert (event.action, event.object_type) == ("phase.created", "phase")
    assert event.details["after"]["opens_at"] == "2031-01-06 14:00:00+00:00"


def test_save_phase_orders_phases_by_opening_time(staff, db):
    challenge = make_challenge(author=staff)
    earlier = challenge.phases[0].opens_at.replace(tzinfo=None) - timedelta(days=60)

    _save_phase(staff, challenge, key="pre", opens_local=earlier, closes_local=earlier + timedelta(days=5))
    db.session.commit()

    assert [(p.key, p.order) for p in _reload(db, Challenge, challenge.id).phases] == [("pre", 1), ("phase-1", 2)]


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"closes_local": FUTURE - timedelta(days=1)}, "closes_at", "Closing time must be after opening time."),
    ({"closes_local": FUTURE}, "closes_at", "Closing time must be after opening time."),
    ({"opens_local": None}, "opens_at", "Enter a date and time."),
    ({"closes_local": None}, "closes_at", "Enter a date and time."),
    ({"opens_local": datetime(2031, 3, 9, 2, 30), "closes_local": datetime(2031, 4, 1)}, "opens_at",
     "2031-03-09 02:30 does not exist in America/New_York"),
    ({"grace_seconds": -1}, "grace_seconds", "between 0 and 86400 seconds"),
    ({"grace_seconds": 86401}, "grace_seconds", "between 0 and 86400 seconds"),
    ({"grace_seconds": None}, "grace_seconds", "between 0 and 86400 seconds"),
    ({"max_submissions_per_org": 0}, "max_submissions_per_org", "between 1 and 100"),
    ({"max_submissions_per_org": 101}, "max_submissions_per_org", "between 1 and 100"),
    ({"key": "phase-1"}, "key", "Another phase already uses the key “phase-1”."),
    ({"key": "Phase 2"}, "key", "lower-case letters"),
    ({"key": ""}, "key", "lower-case letters"),
    ({"name": "  "}, "name", "Enter a phase name"),
])
def test_save_phase_bad_values_refused(staff, db, changes, field, text):
    challenge = make_challenge(author=staff)

    with pytest.raises(ValidationFailed) as err:
        _save_phase(staff, challenge, **changes)

    assert text in err.value.errors[field], err.value.errors
    assert [p.key for p in _reload(db, Challenge, challenge.id).phases] == ["phase-1"]


@pytest.mark.parametrize(("grace", "submissions"), [(0, 1), (86400, 100)])
def test_save_phase_bounds_accepted(staff, db, grace, submissions):
    phase = _save_phase(staff, make_challenge(author=staff), grace_seconds=grace,
                        max_submissions_per_org=submissions)

    assert (phase.grace_seconds, phase.max_submissions_per_org) == (grace, submissions)


def test_save_phase_overlapping_phase_refused(staff, db):
    challenge = make_challenge(author=staff)
    existing = challenge.phases[0]
    inside = existing.opens_at.astimezone(UTC).replace(tzinfo=None) + timedelta(days=2)

    with pytest.raises(ValidationFailed) as err:
        _save_phase(staff, challenge, opens_local=inside, closes_local=inside + timedelta(days=60))

    assert err.value.errors["opens_at"].startswith("These dates overlap the phase “Concept papers”.")


def test_save_phase_grace_window_counts_as_overlap(staff, db):
    challenge = make_challenge(author=staff)
    first = _save_phase(staff, challenge, key="first", opens_local=FUTURE,
                        closes_local=FUTURE + timedelta(days=10), grace_seconds=3600)
    close_local = FUTURE + timedelta(days=10)

    with pytest.raises(ValidationFailed) as err:
        _save_phase(staff, challenge, key="second", opens_local=close_local + timedelta(minutes=30),
                    closes_local=close_local + timedelta(days=5))
    adjacent = _save_phase(staff, challenge, key="second", opens_local=close_local + timedelta(hours=1),
                           closes_local=close_local + timedelta(days=5))

    assert "overlap the phase “Finals”" in err.value.errors["opens_at"]
    assert adjacent.opens_at == first.hard_close


def test_save_phase_refused_edit_leaves_previous_values(staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    before = (phase.name, phase.opens_at, phase.closes_at, phase.grace_seconds)

    with pytest.raises(ValidationFailed):
        services.save_phase(actor=staff, challenge=challenge, phase=phase, key="phase-1", name="Renamed",
                            opens_local=FUTURE, closes_local=FUTURE - timedelta(hours=1), grace_seconds=60)

    stored = _reload(db, Phase, phase.id)
    assert (stored.name, stored.opens_at, stored.closes_at, stored.grace_seconds) == before


def test_save_phase_edit_own_dates_is_not_an_overlap(staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    opens = phase.opens_at.astimezone(UTC).replace(tzinfo=None)

    services.save_phase(actor=staff, challenge=challenge, phase=phase, key="phase-1", name="Moved",
                        opens_local=opens - timedelta(hours=1), closes_local=opens + timedelta(days=40))

    assert phase.name == "Moved" and len(challenge.phases) == 1
    assert _last_event(db).action == "phase.saved"


def test_save_phase_published_keeps_key(staff, db):
    challenge = make_challenge(author=staff, publish=True)
    phase = challenge.phases[0]
    opens = phase.opens_at.astimezone(UTC).replace(tzinfo=None)

    with pytest.raises(ValidationFailed) as err:
        services.save_phase(actor=staff, challenge=challenge, phase=phase, key="renamed", name=phase.name,
                            opens_local=opens, closes_local=opens + timedelta(days=5))

    assert err.value.errors["key"] == "A published phase keeps its key."


def test_delete_phase_draft_audits_and_published_refused(staff, db):
    draft = make_challenge(author=staff, slug="draft-one")
    published = make_challenge(author=staff, slug="pub-one", publish=True)
    spare = _save_phase(staff, draft)

    services.delete_phase(actor=staff, phase=spare)
    db.session.commit()
    with pytest.raises(Conflict, match="form section cannot be changed while the challenge is published"):
        services.delete_phase(actor=staff, phase=published.phases[0])

    assert [p.key for p in _reload(db, Challenge, draft.id).phases] == ["phase-1"]
    assert "phase.deleted" in _actions(db)


# --- phase state by the clock ---------------------------------------------------------------


def test_phase_state_upcoming_open_closed_with_grace(staff, db):
    phase = make_challenge(author=staff).phases[0]
    phase.grace_seconds = 300

    assert phase.state(phase.opens_at - timedelta(microseconds=1)) == "upcoming"
    assert phase.state(phase.opens_at) == "open"
    assert phase.state(phase.closes_at) == "open"
    # The public sees the published deadline; the grace window only lets applications under way finish.
    assert phase.state(phase.closes_at + timedelta(microseconds=1)) == "closed"
    assert phase.state(phase.closes_at + timedelta(seconds=300)) == "closed"
    assert phase.hard_close == phase.closes_at + timedelta(seconds=300)  # what submitting is held to


def test_phase_state_without_grace_closes_at_deadline(staff, db):
    phase = make_challenge(author=staff).phases[0]

    assert phase.grace_seconds == 0
    assert phase.state(phase.closes_at) == "open"
    assert phase.state(phase.closes_at + timedelta(microseconds=1)) == "closed"


# --- application form -----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field", "text"), [
    ({"key": "summary", "label": "Again", "type": "text"}, "key", "The key “summary” is already used"),
    ({"key": "9bad", "label": "X", "type": "text"}, "key", "starting with a letter"),
    ({"key": "ok", "label": " ", "type": "text"}, "label", "Enter the question or label"),
    ({"key": "x", "label": "X", "type": "colour"}, "type", "Choose a field type: text, textarea"),
    ({"key": "t", "label": "T", "type": "text", "max_length": 0}, "max_length", "between 1 and 100000"),
    ({"key": "t", "label": "T", "type": "text", "max_length": 100_001}, "max_length", "between 1 and 100000"),
    ({"key": "pick", "label": "Pick", "type": "select", "options": []}, "options", "at least one option"),
    ({"key": "pick", "label": "Pick", "type": "multiselect", "options": [" ", ""]}, "options",
     "at least one option"),
    ({"key": "pick", "label": "Pick", "type": "select", "options": ["a", " a "]}, "options", "must be different"),
    ({"key": "doc", "label": "Doc", "type": "file", "accept": [], "max_bytes": 10}, "accept",
     "Choose at least one allowed file type."),
    ({"key": "doc", "label": "Doc", "type": "file", "accept": ["text/html"], "max_bytes": 10}, "accept",
     "Unknown file type: text/html."),
    ({"key": "doc", "label": "Doc", "type": "file", "accept": ["application/pdf"]}, "max_bytes",
     "between 1 byte and 5 GiB"),
    ({"key": "doc", "label": "Doc", "type": "file", "accept": ["application/pdf"], "max_bytes": 0},
     "max_bytes", "between 1 byte and 5 GiB"),
    ({"key": "doc", "label": "Doc", "type": "file", "accept": ["application/pdf"], "max_bytes": 5 * 1024**3 + 1},
     "max_bytes", "between 1 byte and 5 GiB"),
])
def test_save_field_bad_values_refused(staff, db, kwargs, field, text):
    phase = make_challenge(author=staff).phases[0]

    with pytest.raises(ValidationFailed) as err:
        services.save_field(actor=staff, phase=phase, **kwargs)

    assert text in err.value.errors[field], err.value.errors
    assert [f.key for f in _reload(db, Phase, phase.id).fields] == ["summary", "deck"]


def test_save_field_creates_field_keeping_only_what_its_type_uses(staff, db):
    phase = make_challenge(author=staff).phases[0]
    version = phase.form_version

    field = services.save_field(actor=staff, phase=phase, key="trl", label=" Readiness ", type="select",
                                options=[" TRL 1 ", "TRL 2", " "], accept=["application/pdf"], max_bytes=99,
                                max_length=50, required=True, help_text="Pick one")
    db.session.commit()

    stored = _reload(db, FormField, field.id)
    assert (stored.label, stored.options, stored.order, stored.required) == ("Readiness", ["TRL 1", "TRL 2"], 3,
                                                                             True)
    assert stored.accept == [] and stored.max_bytes is None and stored.max_length is None
    assert stored.phase.form_version == version + 1
    event = _last_event(db)
    assert (event.action, event.object_type, event.details) == (
        "field.created", "form_field", {"phase": "phase-1", "key": "trl", "type": "select"})


def test_save_field_file_with_accept_and_size_accepted(staff, db):
    phase = make_challenge(author=staff).phases[0]

    field = services.save_field(actor=staff, phase=phase, key="video", label="Video", type="file",
                                accept=["video/mp4", "application/pdf"], max_bytes=2 * 1024**3 - 1)
    db.session.commit()

    stored = _reload(db, FormField, field.id)
    assert stored.accept == ["video/mp4", "application/pdf"] and stored.max_bytes == 2 * 1024**3 - 1


def test_save_field_largest_allowed_file_size_is_stored(staff, db):
    phase = make_challenge(author=staff).phases[0]

    field = services.save_field(actor=staff, phase=phase, key="video", label="Video", type="file",
                                accept=["video/mp4"], max_bytes=services.MAX_FILE_BYTES)
    db.session.commit()

    assert _reload(db, FormField, field.id).max_bytes == 5 * 1024**3


def test_save_field_refused_edit_leaves_previous_values(staff, db):
    phase = make_challenge(author=staff).phases[0]
    deck = phase.fields[1]

    with pytest.raises(ValidationFailed):
        services.save_field(actor=staff, phase=phase, field=deck, key="deck", label="Deck v2", type="file",
                            accept=[], max_bytes=10)

    stored = _reload(db, FormField, deck.id)
    assert (stored.label, stored.accept, stored.max_bytes) == ("Pitch deck", ["application/pdf"], 26214400)


def test_save_field_locked_after_publication(staff, db):
    phase = make_challenge(author=staff, publish=True).phases[0]

    with pytest.raises(Conflict, match=r"The form section cannot be changed while the challenge is published\."):
        services.save_field(actor=staff, phase=phase, key="new", label="New", type="text")
    with pytest.raises(Conflict):
        services.delete_field(actor=staff, field=phase.fields[0])


def test_delete_field_bumps_form_version_and_audits(staff, db):
    phase = make_challenge(author=staff).phases[0]
    version = phase.form_version

    services.delete_field(actor=staff, field=phase.fields[0])
    db.session.commit()

    stored = _reload(db, Phase, phase.id)
    assert [f.key for f in stored.fields] == ["deck"] and stored.form_version == version + 1
    assert _last_event(db).details == {"phase": "phase-1", "key": "summary"}


def test_move_field_swaps_order(staff, db):
    phase = make_challenge(author=staff).phases[0]
    _summary, deck = phase.fields

    services.move_field(actor=staff, field=deck, direction="up")
    services.move_field(actor=staff, field=deck, direction="up")  # already first: no change
    db.session.commit()

    assert [f.key for f in _reload(db, Phase, phase.id).fields] == ["deck", "summary"]


# --- rubric ---------------------------------------------------------------------------------

CRITERION = {"key": "extra", "name": "Extra", "weight": 1.0, "scale_min": 1.0, "scale_max": 5.0, "step": 1.0}


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"weight": -1.0}, "weight", "Enter a weight from 0 to 1,000."),
    ({"weight": -0.001}, "weight", "Enter a weight from 0 to 1,000."),
    ({"weight": math.nan}, "weight", "Enter a weight from 0 to 1,000."),
    ({"weight": None}, "weight", "Enter a weight from 0 to 1,000."),
    ({"scale_max": 1.0}, "max", "The scale maximum must be greater than its minimum."),
    ({"scale_max": 0.0}, "max", "The scale maximum must be greater than its minimum."),
    ({"scale_min": None}, "min", "Enter a number."),
    ({"step": 0.0}, "step", "The step must be greater than 0."),
    ({"step": -1.0}, "step", "The step must be greater than 0."),
    ({"step": 3.0}, "step", "The step must divide the scale evenly"),
    ({"scale_max": 10.0, "step": 4.0}, "step", "The step must divide the scale evenly"),
    ({"anchors": {"6": "Too high"}}, "anchors", "Anchor 6 is not a value on the scale."),
    ({"anchors": {"0": "Too low"}}, "anchors", "Anchor 0 is not a value on the scale."),
    ({"anchors": {"2.5": "Off step"}}, "anchors", "Anchor 2.5 is not a value on the scale."),
    ({"anchors": {"high": "Words"}}, "anchors", "Anchor “high” is not a number on the scale."),
    ({"comment_rule": "sometimes"}, "comment_rule", "never, always, extremes or below:<0..1>"),
    ({"comment_rule": "below:1.5"}, "comment_rule", "never, always, extremes or below:<0..1>"),
    ({"min_comment_chars": -1}, "min_comment_chars", "between 0 and 10000"),
    ({"key": "quality"}, "key", "The key “quality” is already used by another criterion."),
    ({"key": "Bad Key"}, "key", "lower-case letters"),
    ({"name": ""}, "name", "Enter the criterion name"),
])
def test_save_criterion_bad_values_refused(staff, db, changes, field, text):
    phase = make_challenge(author=staff).phases[0]

    with pytest.raises(ValidationFailed) as err:
        services.save_criterion(actor=staff, phase=phase, **{**CRITERION, **changes})

    assert text in err.value.errors[field], err.value.errors
    assert [c.key for c in _reload(db, Phase, phase.id).rubric.criteria] == ["quality", "impact"]


def test_save_criterion_fractional_step_and_anchors_canonicalised(staff, db):
    phase = make_challenge(author=staff).phases[0]

    criterion = services.save_criterion(
        actor=staff, phase=phase, **{**CRITERION, "step": 0.5, "scale_min": 0.0, "scale_max": 2.0,
                                     "anchors": {"2.0": "Top", "0.50": "Low-ish", "1": " ", "0": "None"},
                                     "comment_rule": "below:0.25", "min_comment_chars": 20})
    db.session.commit()

    stored = _reload(db, Criterion, criterion.id)
    assert stored.anchors == {"0": "None", "0.5": "Low-ish", "2": "Top"}  # blank labels dropped
    assert list(stored.anchors) == ["0", "0.5", "2"]
    assert (stored.step, stored.comment_rule, stored.min_comment_chars, stored.order) == (0.5, "below:0.25", 20, 3)
    event = _last_event(db)
    assert event.action == "criterion.created"
    assert event.details["after"] == {"weight": 1.0, "min": 0.0, "max": 2.0, "step": 0.5}


def test_save_criterion_independent_forces_weight_zero(staff, db):
    phase = make_challenge(author=staff).phases[0]

    criterion = services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "weight": 4.0,
                                                                     "independent": True})
    db.session.commit()

    stored = _reload(db, Criterion, criterion.id)
    assert stored.independent and stored.weight == 0.0


def test_save_criterion_zero_weight_only_rubric_refused(staff, db):
    challenge = make_challenge(author=staff)
    phase = _save_phase(staff, challenge)
    db.session.commit()

    with pytest.raises(ValidationFailed) as zero:
        services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "weight": 0.0})
    with pytest.raises(ValidationFailed) as independent:
        services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "independent": True})

    message = "A rubric needs at least one criterion with a weight above 0 that is not independent."
    assert zero.value.errors == {"weight": message} and independent.value.errors == {"weight": message}
    stored = _reload(db, Phase, phase.id)
    assert stored.rubric is None or stored.rubric.criteria == []


def test_save_criterion_last_weighted_cannot_drop_to_zero(staff, db):
    phase = make_challenge(author=staff).phases[0]
    quality, impact = phase.rubric.criteria
    services.save_criterion(actor=staff, phase=phase, criterion=impact, key="impact", name="Impact", weight=0.0,
                            scale_min=1.0, scale_max=5.0, step=1.0)

    with pytest.raises(ValidationFailed) as err:
        services.save_criterion(actor=staff, phase=phase, criterion=quality, key="quality", name="Quality",
                                weight=0.0, scale_min=1.0, scale_max=5.0, step=1.0)

    assert "at least one criterion with a weight above 0" in err.value.errors["weight"]
    assert _reload(db, Criterion, quality.id).weight == 3.0


def test_save_criterion_refused_edit_leaves_previous_values(staff, db):
    phase = make_challenge(author=staff).phases[0]
    quality = phase.rubric.criteria[0]

    with pytest.raises(ValidationFailed):
        services.save_criterion(actor=staff, phase=phase, criterion=quality, key="quality", name="Renamed",
                                weight=2.0, scale_min=1.0, scale_max=10.0, step=4.0)

    stored = _reload(db, Criterion, quality.id)
    assert (stored.name, stored.weight, stored.scale_max, stored.step) == ("Quality", 3.0, 5.0, 1.0)


def test_save_criterion_frozen_rubric_refused(staff, db):
    phase = make_challenge(author=staff).phases[0]
    phase.rubric.frozen_at = NOW
    db.session.commit()

    with pytest.raises(Conflict, match="frozen"):
        services.save_criterion(actor=staff, phase=phase, **CRITERION)
    with pytest.raises(Conflict, match="frozen"):
        services.delete_criterion(actor=staff, criterion=phase.rubric.criteria[0])


def test_delete_criterion_last_weighted_refused(staff, db):
    phase = make_challenge(author=staff).phases[0]
    quality, impact = phase.rubric.criteria
    services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "key": "ethics", "independent": True})

    services.delete_criterion(actor=staff, criterion=impact)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="at least one criterion with a weight above 0"):
        services.delete_criterion(actor=staff, criterion=quality)

    assert [c.key for c in _reload(db, Phase, phase.id).rubric.criteria] == ["quality", "ethics"]
    assert _actions(db, "criterion")[-1] == "criterion.deleted"


def test_save_criterion_locked_after_publication(staff, db):
    phase = make_challenge(author=staff, publish=True).phases[0]

    with pytest.raises(Conflict, match=r"The rubric section cannot be changed while the challenge is published\."):
        services.save_criterion(actor=staff, phase=phase, **CRITERION)


# --- judging settings -----------------------------------------------------------------------

JUDGING = {"judges_per_entry": 3, "quorum": 2, "primary_method": "mean", "blind": False,
           "others_scores_visible": "never"}


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"judges_per_entry": 2, "quorum": 3}, "quorum", "Quorum cannot exceed the number of judges per entry."),
    ({"quorum": 0}, "quorum", "Quorum must be at least 1 review."),
    ({"judges_per_entry": 0, "quorum": 1}, "judges_per_entry", "between 1 and 50"),
    ({"judges_per_entry": 51}, "judges_per_entry", "between 1 and 50"),
    ({"primary_method": "vibes"}, "primary_method", "Choose one of: mean, median"),
    ({"others_scores_visible": "sometimes"}, "others_scores_visible", "Choose one of: never, after_own, always"),
])
def test_save_judging_bad_values_refused_and_previous_kept(staff, db, changes, field, text):
    phase = make_challenge(author=staff).phases[0]

    with pytest.raises(ValidationFailed) as err:
        services.save_judging(actor=staff, phase=phase, **{**JUDGING, **changes})

    assert text in err.value.errors[field], err.value.errors
    stored = _reload(db, Phase, phase.id)
    assert (stored.judges_per_entry, stored.quorum, stored.primary_method) == (3, 2, "mean")


def test_save_judging_saves_and_audits_before_after(staff, db):
    phase = make_challenge(author=staff).phases[0]

    services.save_judging(actor=staff, phase=phase, judges_per_entry=4, quorum=4, primary_method="calibrated",
                          blind=True, others_scores_visible="after_own", bids_enabled=True)
    db.session.commit()

    stored = _reload(db, Phase, phase.id)
    assert (stored.judges_per_entry, stored.quorum, stored.primary_method, stored.blind,
            stored.others_scores_visible, stored.bids_enabled) == (4, 4, "calibrated", True, "after_own", True)
    event = _last_event(db)
    assert event.action == "phase.judging_saved"
    assert event.details["before"]["quorum"] == 2 and event.details["after"]["quorum"] == 4


def test_save_judging_allowed_while_judging_but_not_after_results(staff, db):
    challenge = make_challenge(author=staff, publish=True)
    phase = challenge.phases[0]
    _set_status(db, challenge, ChallengeStatus.JUDGING)

    services.save_judging(actor=staff, phase=phase, **{**JUDGING, "blind": True})
    _set_status(db, challenge, ChallengeStatus.RESULTS_PUBLISHED)
    with pytest.raises(Conflict, match="judging section cannot be changed while the challenge is results published"):
        services.save_judging(actor=staff, phase=phase, **JUDGING)


# --- locked sections by status --------------------------------------------------------------


def _edit(section: str, staff, challenge: Challenge):
    phase = challenge.phases[0]
    opens = phase.opens_at.astimezone(UTC).replace(tzinfo=None)
    return {
        "general": lambda: services.update_general(actor=staff, challenge=challenge, **_general(challenge)),
        "prizes": lambda: services.update_prizes(actor=staff, challenge=challenge, prize_total=1, awards_md=""),
        "rules": lambda: services.update_rules(actor=staff, challenge=challenge, eligibility_md="", rules_md="R"),
        "timeline": lambda: services.save_phase(actor=staff, challenge=challenge, phase=phase, key=phase.key,
                                                name=phase.name, opens_local=opens,
                                                closes_local=opens + timedelta(days=40)),
        "form": lambda: services.save_field(actor=staff, phase=phase, key="new", label="New", type="text"),
        "rubric": lambda: services.save_criterion(actor=staff, phase=phase, **CRITERION),
        "judging": lambda: services.save_judging(actor=staff, phase=phase, **JUDGING),
    }[section]


@pytest.mark.parametrize("status", list(ChallengeStatus))
def test_sections_editable_only_in_allowed_statuses(staff, db, status):
    challenge = _set_status(db, make_challenge(author=staff, publish=status is not ChallengeStatus.DRAFT), status)

    for section in services.SECTIONS:
        save = _edit(section, staff, challenge)
        if section in services.EDITABLE[status]:
            save()
        else:
            with pytest.raises(Conflict) as err:
                save()
            if status is ChallengeStatus.IN_REVIEW:
                assert "waiting for approval" in err.value.message
            else:
                assert err.value.message == (f"The {section} section cannot be changed while the challenge is "
                                             f"{status.label.lower()}.")
        db.session.rollback()


def test_sections_locking_table_matches_the_lifecycle():
    assert services.EDITABLE[ChallengeStatus.DRAFT] == set(services.SECTIONS)
    assert services.EDITABLE[ChallengeStatus.IN_REVIEW] == set()
    assert {"form", "rubric"}.isdisjoint(services.EDITABLE[ChallengeStatus.PUBLISHED])
    assert services.EDITABLE[ChallengeStatus.ARCHIVED] == set()


# --- lifecycle ------------------------------------------------------------------------------


def test_submit_for_review_incomplete_lists_problems(staff, db):
    challenge = services.create_challenge(actor=staff, title="Bare", slug="bare")
    db.session.commit()

    with pytest.raises(ValidationFailed) as err:
        services.submit_for_review(actor=staff, challenge=challenge)

    assert err.value.message == "This challenge is not complete yet."
    assert list(err.value.errors.values()) == [
        "General: add a summary.",
        "Eligibility and rules: add the official rules.",
        "Timeline: add at least one phase.",
    ]
    assert _reload(db, Challenge, challenge.id).status == "draft"


def test_submit_for_review_phase_without_form_or_rubric_listed(staff, db):
    challenge = make_challenge(author=staff)
    _save_phase(staff, challenge, name="Finals")

    problems = services.completeness_problems(challenge)

    assert problems == ["Application form: phase “Finals” has no fields.", "Rubric: phase “Finals” has no criteria."]
    with pytest.raises(ValidationFailed):
        services.submit_for_review(actor=staff, challenge=challenge)


def test_submit_for_review_past_close_refused(staff, db):
    challenge = make_challenge(author=staff, phases=[_phase_def("old", date(2020, 1, 1), date(2020, 2, 1))])

    with pytest.raises(ValidationFailed) as err:
        services.submit_for_review(actor=staff, challenge=challenge)

    assert list(err.value.errors.values()) == ["Timeline: at least one phase must close in the future."]


def test_submit_for_review_moves_to_in_review_and_audits(staff, reviewer, db):
    challenge = make_challenge(author=staff)

    services.submit_for_review(actor=staff, challenge=challenge, note="  Please look ")
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert stored.status == "in_review" and stored.review_note == "Please look"
    event = _last_event(db)
    assert event.action == "challenge.submitted_for_review"
    assert event.details == {"from": "draft", "to": "in_review", "note": "Please look"}
    with pytest.raises(Conflict, match=r"Only a draft can be sent for approval\."):
        services.submit_for_review(actor=staff, challenge=stored)


def test_submit_for_review_emails_other_verified_staff_not_author(staff, db):
    make_user(email="reviewer@example.gov", roles=("staff",))
    make_user(email="boss@example.gov", roles=("admin",))
    make_user(email="unverified@example.gov", roles=("staff",), verified=False)
    make_user(email="gone@example.gov", roles=("staff",), active=False)
    make_user(email="vendor@example.gov", roles=("vendor",))
    challenge = make_challenge(author=staff)

    asked = services.submit_for_review(actor=staff, challenge=challenge)
    db.session.commit()

    assert [u.email for u in asked] == ["boss@example.gov", "reviewer@example.gov"]
    mail = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.to_addr)).scalars().all()
    assert [m.to_addr for m in mail] == ["boss@example.gov", "reviewer@example.gov"]
    assert all(m.subject == "Approval requested: Test Challenge" for m in mail)
    assert "http://localhost/staff/challenges/test-challenge/review" in mail[0].body_text
    assert "author@example.gov" in mail[0].body_text


def test_approve_and_publish_by_author_refused(staff, reviewer, db):
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge)
    db.session.commit()

    with pytest.raises(PermissionDenied, match="You wrote or changed this challenge"):
        services.approve_and_publish(actor=staff, challenge=challenge)

    stored = _reload(db, Challenge, challenge.id)
    assert stored.status == "in_review" and stored.approved_by_id is None


def test_approve_and_publish_by_second_staff_publishes(staff, reviewer, db):
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge, note="Ready")

    services.approve_and_publish(actor=reviewer, challenge=challenge)
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert stored.status == "published" and stored.is_public
    assert stored.approved_by_id == reviewer.id and stored.approved_by.email == "reviewer@example.gov"
    assert stored.approved_at is not None and stored.published_at == stored.approved_at
    assert stored.review_note == ""
    event = _last_event(db)
    assert (event.action, event.actor_id) == ("challenge.approved_and_published", reviewer.id)
    assert event.details == {"from": "in_review", "to": "published"}


@pytest.mark.parametrize("roles", [("vendor",), ("judge",)])
def test_approve_and_publish_non_staff_refused(staff, db, roles):
    outsider = make_user(email="outsider@example.gov", roles=roles)
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge)

    with pytest.raises(PermissionDenied, match="Only program staff"):
        services.approve_and_publish(actor=outsider, challenge=challenge)


def test_approve_and_publish_draft_refused(staff, reviewer, db):
    challenge = make_challenge(author=staff)

    with pytest.raises(Conflict, match=r"Only a challenge waiting for approval can be approved\."):
        services.approve_and_publish(actor=reviewer, challenge=challenge)


def test_approve_and_publish_rechecks_completeness(staff, reviewer, db):
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge)

    with pytest.raises(ValidationFailed) as err:
        services.approve_and_publish(actor=reviewer, challenge=challenge, now=NOW + timedelta(days=400))

    assert "Timeline: at least one phase must close in the future." in err.value.errors.values()


def test_request_changes_needs_note_and_returns_to_draft(staff, reviewer, db):
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge)
    db.session.commit()

    with pytest.raises(ValidationFailed) as err:
        services.request_changes(actor=reviewer, challenge=challenge, note="   ")
    assert err.value.errors == {"note": "Say what the author needs to change."}
    assert _reload(db, Challenge, challenge.id).status == "in_review"

    services.request_changes(actor=reviewer, challenge=challenge, note=" Add a second prize ")
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert stored.status == "draft" and stored.review_note == "Add a second prize"
    assert _last_event(db).details == {"from": "in_review", "to": "draft", "note": "Add a second prize"}


def test_request_changes_by_author_or_on_draft_refused(staff, reviewer, db):
    challenge = make_challenge(author=staff)

    with pytest.raises(Conflict, match=r"Only a challenge waiting for approval can be sent back\."):
        services.request_changes(actor=reviewer, challenge=challenge, note="x")
    services.submit_for_review(actor=staff, challenge=challenge)
    with pytest.raises(PermissionDenied, match="Ask another staff member"):
        services.request_changes(actor=staff, challenge=challenge, note="x")


def test_withdraw_to_draft_only_from_review(staff, db):
    challenge = make_challenge(author=staff)

    with pytest.raises(Conflict, match="Only a challenge waiting for approval can be withdrawn"):
        services.withdraw_to_draft(actor=staff, challenge=challenge)
    services.submit_for_review(actor=staff, challenge=challenge)
    services.withdraw_to_draft(actor=staff, challenge=challenge)
    db.session.commit()

    assert _reload(db, Challenge, challenge.id).status == "draft"
    assert _last_event(db).action == "challenge.withdrawn_to_draft"


def test_lifecycle_full_path_audits_every_change(staff, reviewer, db):
    challenge = make_challenge(author=staff)
    services.submit_for_review(actor=staff, challenge=challenge)
    services.request_changes(actor=reviewer, challenge=challenge, note="Fix it")
    services.submit_for_review(actor=staff, challenge=challenge)
    services.approve_and_publish(actor=reviewer, challenge=challenge)
    for target in ("closed", "judging", "results_published", "archived"):
        services.transition(actor=staff, challenge=challenge, to=target, results_checked=True)
    db.session.commit()

    stored = _reload(db, Challenge, challenge.id)
    assert stored.status_enum is ChallengeStatus.ARCHIVED
    transitions = db.session.execute(
        select(AuditEvent.action, AuditEvent.details).where(AuditEvent.action.in_([
            "challenge.submitted_for_review", "challenge.changes_requested", "challenge.approved_and_published",
            "challenge.closed", "challenge.judging", "challenge.results_published", "challenge.archived",
        ])).order_by(AuditEvent.seq)).all()
    assert [(action, d["from"], d["to"]) for action, d in transitions] == [
        ("challenge.submitted_for_review", "draft", "in_review"),
        ("challenge.changes_requested", "in_review", "draft"),
        ("challenge.submitted_for_review", "draft", "in_review"),
        ("challenge.approved_and_published", "in_review", "published"),
        ("challenge.closed", "published", "closed"),
        ("challenge.judging", "closed", "judging"),
        ("challenge.results_published", "judging", "results_published"),
        ("challenge.archived", "results_published", "archived"),
    ]
    assert verify().ok


@pytest.mark.parametrize(("start", "target"), [
    (ChallengeStatus.PUBLISHED, ChallengeStatus.CLOSED),
    (ChallengeStatus.CLOSED, ChallengeStatus.JUDGING),
    (ChallengeStatus.JUDGING, ChallengeStatus.RESULTS_PUBLISHED),
    (ChallengeStatus.RESULTS_PUBLISHED, ChallengeStatus.ARCHIVED),
])
def test_transition_forward_needs_no_reason(staff, db, start, target):
    challenge = _set_status(db, make_challenge(author=staff, publish=True), start)

    services.transition(actor=staff, challenge=challenge, to=target.value, results_checked=True)
    db.session.commit()

    assert _reload(db, Challenge, challenge.id).status == target.value
    assert _last_event(db).details == {"from": start.value, "to": target.value, "reason": ""}


@pytest.mark.parametrize(("start", "target"), [
    (ChallengeStatus.CLOSED, ChallengeStatus.PUBLISHED),
    (ChallengeStatus.JUDGING, ChallengeStatus.CLOSED),
])
def test_transition_backwards_needs_reason(staff, db, start, target):
    challenge = _set_status(db, make_challenge(author=staff, publish=True), start)

    with pytest.raises(ValidationFailed) as err:
        services.transition(actor=staff, challenge=challenge, to=target, reason="  ")
    assert err.value.errors == {"reason": "Say why the challenge moves back."}
    assert _reload(db, Challenge, challenge.id).status == start.value

    services.transition(actor=staff, challenge=challenge, to=target, reason=" Deadline extended ")
    db.session.commit()

    assert _reload(db, Challenge, challenge.id).status == target.value
    assert _last_event(db).details == {"from": start.value, "to": target.value, "reason": "Deadline extended"}


@pytest.mark.parametrize(("start", "target"), [
    (ChallengeStatus.DRAFT, ChallengeStatus.PUBLISHED),
    (ChallengeStatus.DRAFT, ChallengeStatus.CLOSED),
    (ChallengeStatus.IN_REVIEW, ChallengeStatus.PUBLISHED),
    (ChallengeStatus.PUBLISHED, ChallengeStatus.JUDGING),
    (ChallengeStatus.PUBLISHED, ChallengeStatus.ARCHIVED),
    (ChallengeStatus.PUBLISHED, ChallengeStatus.DRAFT),
    (ChallengeStatus.CLOSED, ChallengeStatus.RESULTS_PUBLISHED),
    (ChallengeStatus.JUDGING, ChallengeStatus.PUBLISHED),
    (ChallengeStatus.RESULTS_PUBLISHED, ChallengeStatus.JUDGING),
    (ChallengeStatus.ARCHIVED, ChallengeStatus.RESULTS_PUBLISHED),
    (ChallengeStatus.ARCHIVED, ChallengeStatus.PUBLISHED),
])
def test_transition_illegal_jump_refused(staff, db, start, target):
    challenge = _set_status(db, make_challenge(author=staff, publish=start is not ChallengeStatus.DRAFT), start)
    events = len(_actions(db))

    with pytest.raises(Conflict) as err:
        services.transition(actor=staff, challenge=challenge, to=target, reason="Because")

    assert err.value.message == (f"A challenge that is {start.label.lower()} cannot move to "
                                 f"{target.label.lower()}.")
    assert _reload(db, Challenge, challenge.id).status == start.value
    assert len(_actions(db)) == events


def test_transition_unknown_status_refused(staff, db):
    challenge = make_challenge(author=staff, publish=True)

    with pytest.raises(ValueError, match="'finished' is not a valid ChallengeStatus"):
        services.transition(actor=staff, challenge=challenge, to="finished")


def test_transition_non_staff_refused(staff, db):
    vendor = make_user(email="vendor@example.gov", roles=("vendor",))
    challenge = make_challenge(author=staff, publish=True)

    with pytest.raises(PermissionDenied):
        services.transition(actor=vendor, challenge=challenge, to="closed")


# --- clone ----------------------------------------------------------------------------------


def test_clone_challenge_equal_definition_under_new_slug_and_title(staff, reviewer, db):
    original = make_challenge(author=staff, publish=True, description="Long *text*",
                              phases=[_phase_def("one", _today(), _today() + timedelta(days=20)),
                                      _phase_def("two", _today() + timedelta(days=30),
                                                 _today() + timedelta(days=60))])

    copy = services.clone_challenge(actor=reviewer, challenge=original, slug=" copy-slug ", title=" Copy ")
    db.session.commit()

    stored = _reload(db, Challenge, copy.id)
    assert (stored.slug, stored.title, stored.status) == ("copy-slug", "Copy", "draft")
    assert stored.created_by_id == reviewer.id and stored.approved_by_id is None
    a, b = export_definition(_reload(db, Challenge, original.id)), export_definition(stored)
    assert b["slug"] == "copy-slug" and b["title"] == "Copy"
    assert {**a, "slug": None, "title": None} == {**b, "slug": None, "title": None}
    assert [p["key"] for p in b["phases"]] == ["one", "two"]
    cloned = _last_event(db)
    assert (cloned.action, cloned.object_id, cloned.details) == ("challenge.cloned", str(stored.id),
                                                                 {"from": "test-challenge"})


def test_clone_challenge_taken_slug_refused(staff, db):
    original = make_challenge(author=staff)

    with pytest.raises(ValidationFailed) as err:
        services.clone_challenge(actor=staff, challenge=original, slug="test-challenge", title="Copy")

    assert "already used" in err.value.errors["slug"]


# --- public listings ------------------------------------------------------------------------


def test_public_state_follows_status_and_clock(staff, db):
    challenge = make_challenge(author=staff, publish=True)
    phase = challenge.phases[0]

    assert services.public_state(challenge, NOW) == "open"
    assert services.public_state(challenge, phase.opens_at - timedelta(seconds=1)) == "upcoming"
    assert services.public_state(challenge, phase.hard_close + timedelta(seconds=1)) == "closed"
    services.transition(actor=staff, challenge=challenge, to="closed")
    assert services.public_state(challenge, NOW) == "closed"  # closed by staff before the deadline


def test_public_state_open_when_any_phase_open(staff, db):
    today = _today()
    challenge = make_challenge(author=staff, publish=True,
                               phases=[_phase_def("early", today - timedelta(days=40), today - timedelta(days=10)),
                                       _phase_def("now", today - timedelta(days=1), today + timedelta(days=5)),
                                       _phase_def("late", today + timedelta(days=30), today + timedelta(days=40))])

    assert [p.state(NOW) for p in challenge.phases] == ["closed", "open", "upcoming"]
    assert services.public_state(challenge, NOW) == "open"
    assert services.next_deadline(challenge, NOW).key == "now"


@pytest.fixture
def listing(staff, reviewer, db):
    today = _today()
    open_one = make_challenge(author=staff, publish=True, slug="open-one", agency="HHS", title="Health AI",
                              summary="Shorter waits in clinics.")
    upcoming = make_challenge(author=staff, publish=True, slug="upcoming-one", agency="GSA", title="Forms",
                              summary="Fewer forms.",
                              phases=[_phase_def("later", today + timedelta(days=10), today + timedelta(days=40))])
    closed = make_challenge(author=staff, publish=True, slug="closed-one", agency="GSA", title="Archive search",
                            summary="Find records.")
    services.transition(actor=staff, challenge=closed, to="closed")
    make_challenge(author=staff, slug="draft-one", agency="HHS", title="Health draft")
    in_review = make_challenge(author=staff, slug="review-one", agency="HHS", title="Health review")
    services.submit_for_review(actor=staff, challenge=in_review)
    db.session.commit()
    return {"open": open_one, "upcoming": upcoming, "closed": closed}


def _slugs(challenges) -> list[str]:
    return [c.slug for c in challenges]


def test_list_public_challenges_never_lists_drafts_or_in_review(listing, db):
    assert _slugs(services.list_public_challenges(now=NOW)) == ["open-one", "upcoming-one", "closed-one"]
    assert _slugs(services.list_public_challenges(query="health", now=NOW)) == ["open-one"]
    assert services.public_agencies() == ["GSA", "HHS"]


@pytest.mark.parametrize(("state", "expected"), [
    ("open", ["open-one"]), ("upcoming", ["upcoming-one"]), ("closed", ["closed-one"]), ("", None),
])
def test_list_public_challenges_state_filter(listing, db, state, expected):
    found = _slugs(services.list_public_challenges(state=state, now=NOW))

    assert found == (expected or ["open-one", "upcoming-one", "closed-one"])


@pytest.mark.parametrize(("query", "expected"), [
    ("HEALTH", ["open-one"]),          # title, any case
    ("clinics", ["open-one"]),         # summary
    ("gsa", ["upcoming-one", "closed-one"]),  # agency
    ("  forms  ", ["upcoming-one"]),   # trimmed
    ("nothing-matches", []),
])
def test_list_public_challenges_query_filter(listing, db, query, expected):
    assert _slugs(services.list_public_challenges(query=query, now=NOW)) == expected


def test_list_public_challenges_agency_filter(listing, db):
    assert _slugs(services.list_public_challenges(agency="GSA", now=NOW)) == ["upcoming-one", "closed-one"]
    assert _slugs(services.list_public_challenges(agency="HHS", state="closed", now=NOW)) == []
    assert services.list_public_challenges(agency="NASA", now=NOW) == []


def test_list_public_challenges_clock_moves_states(listing, db):
    later = NOW + timedelta(days=20)

    assert _slugs(services.list_public_challenges(state="open", now=later)) == ["open-one", "upcoming-one"]
    assert _slugs(services.list_public_challenges(state="upcoming", now=later)) == []


def test_list_for_staff_lists_every_status(listing, db):
    assert sorted(_slugs(services.list_for_staff())) == ["closed-one", "draft-one", "open-one", "review-one",
                                                         "upcoming-one"]
    assert _slugs(services.list_for_staff(status="in_review")) == ["review-one"]
    assert _slugs(services.list_for_staff(query="DRAFT")) == ["draft-one"]


def test_get_challenge_unknown_slug_is_not_found(app, db):
    from challenges.errors import NotFound

    with pytest.raises(NotFound, match=r"No challenge at this address\."):
        services.get_challenge("missing")


def test_a_round_added_after_publication_is_built_until_it_opens(staff, db):
    """Staff add a later phase to a published challenge and give it its own form and rubric; once it
    opens or anyone applies, that form and rubric lock like the others. Earlier phases stay locked."""
    from challenges.errors import Conflict

    challenge = make_challenge(author=staff, publish=True, slug="later-round")
    first = challenge.phases[0]
    later = _save_phase(staff, challenge, key="pilots", name="Pilots")
    db.session.commit()
    assert services.can_edit(challenge, "form", later) and not services.can_edit(challenge, "form", first)
    assert services.phases_editable(challenge, "form") == {later.id}  # the overview's answer for every phase
    assert services.phases_editable(challenge, "judging") == {first.id, later.id}
    field = services.save_field(actor=staff, phase=later, key="plan", label="Pilot plan", type="textarea")
    services.save_criterion(actor=staff, phase=later, **CRITERION)
    with pytest.raises(Conflict, match="form section cannot be changed"):
        services.save_field(actor=staff, phase=first, key="late", label="Late", type="text")
    services.delete_field(actor=staff, field=field)
    db.session.commit()
    assert [f.key for f in later.fields] == []

    later.opens_at = NOW - timedelta(minutes=1)  # it opened
    with pytest.raises(Conflict, match="form section cannot be changed"):
        services.save_field(actor=staff, phase=later, key="plan", label="Pilot plan", type="textarea")
    later.opens_at = NOW + timedelta(days=30)
    vendor = make_user(email="early.bird@vendor.com", roles=("vendor",))
    from challenges.submissions.models import Organization, Submission

    org = Organization(legal_name="Early Bird", created_by_id=vendor.id)
    db.session.add(org)
    db.session.flush()
    db.session.add(Submission(phase_id=later.id, organization_id=org.id, answers={}))
    db.session.commit()
    assert services.phases_editable(challenge, "form") == set()
    with pytest.raises(Conflict, match="form section cannot be changed"):
        services.delete_phase(actor=staff, phase=later)
    spare = _save_phase(staff, challenge, key="spare", name="Spare", opens_local=FUTURE + timedelta(days=40),
                        closes_local=FUTURE + timedelta(days=50))
    services.delete_phase(actor=staff, phase=spare)  # added by mistake, nobody applied: it can go
    assert [p.key for p in challenge.phases] == [first.key, "pilots"]


def test_only_a_round_added_after_approval_unlocks(staff, db):
    """A phase that was part of what was approved stays locked even before it opens (moving its date
    does not unlock it), and a challenge never loses its last phase."""
    from challenges.errors import Conflict

    challenge = make_challenge(author=staff, publish=True, slug="approved-early")
    first = challenge.phases[0]
    first.opens_at = NOW + timedelta(days=60)  # published ahead of its opening, or its date moved
    db.session.commit()
    assert not services.can_edit(challenge, "form", first)
    assert services.phases_editable(challenge, "form") == set()
    with pytest.raises(Conflict, match="form section cannot be changed"):
        services.save_field(actor=staff, phase=first, key="late", label="Late", type="text")
    with pytest.raises(Conflict):
        services.delete_phase(actor=staff, phase=first)
    draft = make_challenge(author=staff, slug="lonely")
    with pytest.raises(Conflict, match="at least one phase"):
        services.delete_phase(actor=staff, phase=draft.phases[0])
