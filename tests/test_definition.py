"""challenges/definition.py and the CLI: the JSON definition contract.

Every refusal names the JSON path of what is wrong, and a refused import leaves nothing behind.
"""

import copy
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from challenges.accounts.services import SYSTEM_EMAIL
from challenges.audit import AuditEvent
from challenges.definition import build_from_definition, export_definition, import_definition, parse
from challenges.errors import PermissionDenied, ValidationFailed
from challenges.models import Challenge
from tests.factories import make_definition, make_user

# The example from the issue, verbatim.
CONTRACT = {
    "slug": "ai-health-2026", "title": "AI for Health", "agency": "GSA", "summary": "Summary",
    "timezone": "America/New_York",
    "phases": [{"key": "phase-1", "name": "Concept papers",
                "opens_at": "2026-01-05T09:00", "closes_at": "2026-02-05T17:00",
                "fields": [{"key": "summary", "label": "Summary", "type": "textarea", "required": True,
                            "max_length": 2000},
                           {"key": "deck", "label": "Pitch deck", "type": "file", "required": True,
                            "accept": ["application/pdf"], "max_bytes": 26214400}],
                "rubric": {"criteria": [{"key": "quality", "name": "Quality", "weight": 1, "min": 1, "max": 10,
                                         "step": 1}]},
                "judging": {"judges_per_entry": 3, "quorum": 2, "primary_method": "mean", "blind": False}}],
}


@pytest.fixture
def staff(app, db):
    return make_user(email="importer@example.gov", roles=("staff",))


def _count(db) -> int:
    return db.session.execute(select(func.count(Challenge.id))).scalar_one()


def _write(tmp_path, data, name="definition.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _refused(db, staff, data) -> dict[str, str]:
    """Import `data`, expect a refusal, and check nothing was left in the database."""
    with pytest.raises(ValidationFailed) as err:
        import_definition(actor=staff, data=data)
    db.session.rollback()
    assert _count(db) == 0
    return err.value.errors


def _by_slug(db, slug) -> Challenge:
    return db.session.execute(select(Challenge).where(Challenge.slug == slug)).scalar_one()


# --- the contract example -------------------------------------------------------------------


def test_cli_import_contract_example_creates_draft_and_prints_slug(app, db, run_cli, tmp_path):
    result = run_cli("challenges", "import-definition", _write(tmp_path, CONTRACT))

    assert result.exit_code == 0, result.output
    assert result.output == "ai-health-2026\n"
    challenge = db.session.execute(select(Challenge)).scalar_one()
    assert (challenge.slug, challenge.title, challenge.agency, challenge.summary) == (
        "ai-health-2026", "AI for Health", "GSA", "Summary")
    assert challenge.status == "draft" and challenge.created_by.email == SYSTEM_EMAIL
    assert challenge.approved_by_id is None
    [phase] = challenge.phases
    assert (phase.key, phase.name) == ("phase-1", "Concept papers")
    assert phase.opens_at == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)   # 09:00 New York in January
    assert phase.closes_at == datetime(2026, 2, 5, 22, 0, tzinfo=UTC)  # 17:00 New York in February
    summary, deck = phase.fields
    assert (summary.key, summary.type, summary.required, summary.max_length) == ("summary", "textarea", True, 2000)
    assert (deck.key, deck.type, deck.accept, deck.max_bytes) == ("deck", "file", ["application/pdf"], 26214400)
    [quality] = phase.rubric.criteria
    assert (quality.key, quality.weight, quality.scale_min, quality.scale_max, quality.step) == (
        "quality", 1.0, 1.0, 10.0, 1.0)
    assert (phase.judges_per_entry, phase.quorum, phase.primary_method, phase.blind) == (3, 2, "mean", False)


def test_import_contract_example_is_audited(app, db, staff):
    challenge = import_definition(actor=staff, data=copy.deepcopy(CONTRACT))
    db.session.commit()

    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert actions[0] == "challenge.created"
    assert {"phase.created", "field.created", "criterion.created", "phase.judging_saved"} <= set(actions)
    assert challenge.status == "draft"


def test_build_from_definition_accepts_json_text_and_bytes(app, db, staff):
    first = build_from_definition(actor=staff, data=json.dumps(make_definition(slug="from-text")))
    second = build_from_definition(actor=staff, data=json.dumps(make_definition(slug="from-bytes")).encode())

    assert (first.slug, second.slug) == ("from-text", "from-bytes")


# --- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("opens", "expected"), [
    ("2026-01-05T09:00", datetime(2026, 1, 5, 14, 0, tzinfo=UTC)),          # local, EST
    ("2026-07-06T09:00", datetime(2026, 7, 6, 13, 0, tzinfo=UTC)),          # local, EDT
    ("2026-01-05T09:00:30", datetime(2026, 1, 5, 14, 0, 30, tzinfo=UTC)),   # with seconds
    ("2026-01-05T09:00-08:00", datetime(2026, 1, 5, 17, 0, tzinfo=UTC)),    # explicit offset wins
    ("2026-01-05T14:00Z", datetime(2026, 1, 5, 14, 0, tzinfo=UTC)),
])
def test_import_times_without_offset_are_local_to_timezone(app, db, staff, opens, expected):
    data = copy.deepcopy(CONTRACT)
    data["phases"][0].update(opens_at=opens, closes_at="2026-12-01T17:00")

    challenge = import_definition(actor=staff, data=data)

    assert challenge.phases[0].opens_at == expected


def test_import_times_follow_the_definitions_timezone(app, db, staff):
    data = copy.deepcopy(CONTRACT)
    data["timezone"] = "America/Los_Angeles"

    challenge = import_definition(actor=staff, data=data)

    assert challenge.phases[0].opens_at == datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    assert export_definition(challenge)["phases"][0]["opens_at"] == "2026-01-05T09:00"


# --- --publish ------------------------------------------------------------------------------


def test_cli_import_publish_records_system_approval(app, db, run_cli, tmp_path):
    result = run_cli("challenges", "import-definition", _write(tmp_path, make_definition(slug="pub")), "--publish")

    assert result.exit_code == 0, result.output
    assert result.output == "pub\n"
    challenge = db.session.execute(select(Challenge)).scalar_one()
    assert challenge.status == "published" and challenge.published_at is not None
    assert challenge.approved_by.email == SYSTEM_EMAIL and challenge.approved_at is not None
    assert challenge.approved_by.is_system
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.actor_email)
                                 .where(AuditEvent.object_type == "challenge")
                                 .order_by(AuditEvent.seq)).all()
    assert actions[-2:] == [("challenge.submitted_for_review", SYSTEM_EMAIL),
                            ("challenge.approved_and_published", SYSTEM_EMAIL)]


def test_cli_import_publish_incomplete_definition_refused(app, db, run_cli, tmp_path):
    # The contract example has no rules and closed in February 2026: it may be a draft, never live.
    result = run_cli("challenges", "import-definition", _write(tmp_path, CONTRACT), "--publish")

    assert result.exit_code == 1
    assert "Error: This challenge is not complete yet." in result.output
    assert "Eligibility and rules: add the official rules." in result.output
    assert "Timeline: at least one phase must close in the future." in result.output
    assert _count(db) == 0
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar_one() == 0


def test_import_publish_by_staff_actor_is_approved_by_system(app, db, staff):
    challenge = import_definition(actor=staff, data=make_definition(slug="staff-pub"), publish=True)
    db.session.commit()

    assert challenge.status == "published"
    assert challenge.created_by_id == staff.id and challenge.approved_by.email == SYSTEM_EMAIL


# --- export ---------------------------------------------------------------------------------


def test_cli_export_prints_json_definition(app, db, run_cli, staff):
    import_definition(actor=staff, data=copy.deepcopy(CONTRACT))
    db.session.commit()

    result = run_cli("challenges", "export-definition", "ai-health-2026")

    assert result.exit_code == 0
    exported = json.loads(result.output)
    assert exported["slug"] == "ai-health-2026" and exported["timezone"] == "America/New_York"
    phase = exported["phases"][0]
    assert (phase["opens_at"], phase["closes_at"]) == ("2026-01-05T09:00", "2026-02-05T17:00")
    assert phase["rubric"]["criteria"][0] == {
        "key": "quality", "name": "Quality", "description": "", "weight": 1, "min": 1, "max": 10, "step": 1,
        "anchors": {}, "higher_is_better": True, "required": True, "independent": False,
        "comment_rule": "never", "min_comment_chars": 0,
    }
    assert isinstance(phase["rubric"]["criteria"][0]["weight"], int)  # 1, not 1.0
    parse(exported)  # the export is itself a valid definition


def test_cli_export_unknown_slug_exits_1(app, db, run_cli):
    result = run_cli("challenges", "export-definition", "nope")

    assert result.exit_code == 1 and "Error: No challenge at this address." in result.output


def test_export_import_export_round_trip_equal_apart_from_slug(app, db, run_cli, tmp_path, staff):
    data = make_definition(slug="first")
    phase = data["phases"][0]
    phase["grace_seconds"] = 900
    phase["fields"].append({"key": "trl", "label": "TRL", "type": "select", "options": ["1", "2"],
                            "help": "Pick", "identifying": True})
    phase["rubric"]["criteria"].append({"key": "ethics", "name": "Ethics", "weight": 5, "min": 0, "max": 1,
                                        "step": 0.25, "independent": True, "anchors": {"0.5": "Half"},
                                        "comment_rule": "below:0.5", "min_comment_chars": 10})
    phase["judging"].update(primary_method="calibrated", blind=True, others_scores_visible="after_own")
    import_definition(actor=staff, data=data)
    db.session.commit()
    exported = json.loads(run_cli("challenges", "export-definition", "first").output)

    exported["slug"] = "second"
    result = run_cli("challenges", "import-definition", _write(tmp_path, exported))
    again = json.loads(run_cli("challenges", "export-definition", "second").output)

    assert result.exit_code == 0, result.output
    assert again == exported
    assert {**exported, "slug": "first"} == json.loads(run_cli("challenges", "export-definition", "first").output)
    assert again["phases"][0]["rubric"]["criteria"][2]["weight"] == 0  # independent forced to 0
    assert [c["key"] for c in again["phases"][0]["rubric"]["criteria"]] == ["quality", "impact", "ethics"]


# --- shape errors (unknown keys, types, required keys, JSON) --------------------------------


def test_import_unknown_keys_named_by_path(app, db, staff):
    data = make_definition()
    data["phases"][0]["fields"][0]["colour"] = "red"
    data["phases"][0]["rubric"]["criteria"][1]["bonus"] = 1
    data["sponsor"] = "x"

    errors = _refused(db, staff, data)

    assert errors == {
        "phases[0].fields[0].colour": "unknown key",
        "phases[0].rubric.criteria[1].bonus": "unknown key",
        "sponsor": "unknown key",
    }


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.update(title=5), "title"),
    (lambda d: d.update(prize_total="lots"), "prize_total"),
    (lambda d: d.update(prize_total=1.5), "prize_total"),
    (lambda d: d.update(phases={"key": "x"}), "phases"),
    (lambda d: d["phases"][0].update(grace_seconds="300"), "phases[0].grace_seconds"),
    (lambda d: d["phases"][0]["fields"][0].update(required="yes"), "phases[0].fields[0].required"),
    (lambda d: d["phases"][0]["fields"][1].update(accept="application/pdf"), "phases[0].fields[1].accept"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(weight="3"),
     "phases[0].rubric.criteria[0].weight"),
    (lambda d: d["phases"][0]["judging"].update(blind=1), "phases[0].judging.blind"),
])
def test_import_wrong_types_named_by_path(app, db, staff, mutate, path):
    data = make_definition()
    mutate(data)

    errors = _refused(db, staff, data)

    assert list(errors) == [path]
    assert errors[path].startswith(("input should be", "input should be a valid"))


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.pop("slug"), "slug"),
    (lambda d: d.pop("title"), "title"),
    (lambda d: d["phases"][0].pop("key"), "phases[0].key"),
    (lambda d: d["phases"][0].pop("closes_at"), "phases[0].closes_at"),
    (lambda d: d["phases"][0]["fields"][0].pop("type"), "phases[0].fields[0].type"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].pop("max"), "phases[0].rubric.criteria[0].max"),
])
def test_import_missing_required_key_named_by_path(app, db, staff, mutate, path):
    data = make_definition()
    mutate(data)

    assert _refused(db, staff, data) == {path: "is required"}


@pytest.mark.parametrize(("raw", "text"), [
    (b"{nope", "not valid JSON"),
    ("", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    ('{"slug": "a",}', "not valid JSON"),
])
def test_import_malformed_json_refused(app, db, staff, raw, text):
    errors = _refused(db, staff, raw)

    assert list(errors) == ["(root)"] and errors["(root)"].startswith(text)


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"null", b"42"])
def test_import_non_object_refused(app, db, staff, raw):
    assert _refused(db, staff, raw) == {"(root)": "must be a JSON object"}


# --- value errors ---------------------------------------------------------------------------


def test_import_negative_weight_on_second_criterion_exact_message(app, db, staff, run_cli, tmp_path):
    data = make_definition()
    data["phases"][0]["rubric"]["criteria"][1]["weight"] = -1

    errors = _refused(db, staff, data)
    result = run_cli("challenges", "import-definition", _write(tmp_path, data))

    assert errors == {"phases[0].rubric.criteria[1].weight": "Enter a weight from 0 to 1,000."}
    assert result.exit_code == 1
    assert "  phases[0].rubric.criteria[1].weight: Enter a weight from 0 to 1,000.\n" in result.output
    assert _count(db) == 0


@pytest.mark.parametrize(("mutate", "path", "text"), [
    (lambda d: d.update(timezone="Mars/Base"), "timezone", "Unknown time zone “Mars/Base”"),
    (lambda d: d.update(timezone=""), "timezone", "Unknown time zone"),
    (lambda d: d.update(slug="Bad Slug"), "slug", "lower-case"),
    (lambda d: d.update(slug="ab"), "slug", "3 to 80"),
    (lambda d: d.update(title=" "), "title", "Enter a title."),
    (lambda d: d.update(prize_total=-1), "prize_total", "must be >= 0"),
    (lambda d: d.update(prize_total=2**31), "prize_total", "That prize total is too large"),
    (lambda d: d["phases"][0].update(closes_at="2020-01-01T00:00"), "phases[0].closes_at",
     "Closing time must be after opening time."),
    (lambda d: d["phases"][0].update(opens_at="soon"), "phases[0].opens_at",
     "“soon” is not a date like 2026-01-05T09:00"),
    (lambda d: d["phases"][0].update(opens_at="2030-03-10T02:30", closes_at="2030-04-01T09:00"),
     "phases[0].opens_at", "2030-03-10 02:30 does not exist in America/New_York"),
    (lambda d: d["phases"][0].update(grace_seconds=90000), "phases[0].grace_seconds", "between 0 and 86400"),
    (lambda d: d["phases"][0].update(max_submissions_per_org=0), "phases[0].max_submissions_per_org",
     "between 1 and 100"),
    (lambda d: d["phases"][0].update(key="Phase One"), "phases[0].key", "lower-case letters"),
    (lambda d: d["phases"][0]["fields"].append(dict(d["phases"][0]["fields"][0])), "phases[0].fields[2].key",
     "The key “summary” is already used by another field of this form."),
    (lambda d: d["phases"][0]["fields"][0].update(type="colour"), "phases[0].fields[0].type",
     "Choose a field type"),
    (lambda d: d["phases"][0]["fields"][1].update(accept=[]), "phases[0].fields[1].accept",
     "Choose at least one allowed file type."),
    (lambda d: d["phases"][0]["fields"][1].update(max_bytes=0), "phases[0].fields[1].max_bytes",
     "between 1 byte and 5 GiB"),
    (lambda d: d["phases"][0]["fields"].append({"key": "pick", "label": "Pick", "type": "select"}),
     "phases[0].fields[2].options", "at least one option"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(max=1), "phases[0].rubric.criteria[0].max",
     "greater than its minimum"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(step=3), "phases[0].rubric.criteria[0].step",
     "divide the scale"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(anchors={"9": "High"}),
     "phases[0].rubric.criteria[0].anchors", "Anchor 9 is not a value on the scale."),
    (lambda d: d["phases"][0]["rubric"]["criteria"][1].update(key="quality"), "phases[0].rubric.criteria[1].key",
     "already used"),
    (lambda d: [c.update(weight=0) for c in d["phases"][0]["rubric"]["criteria"]], "phases[0].rubric.criteria",
     "A rubric needs at least one criterion with a weight above 0"),
    (lambda d: [c.update(independent=True) for c in d["phases"][0]["rubric"]["criteria"]],
     "phases[0].rubric.criteria", "A rubric needs at least one criterion with a weight above 0"),
    (lambda d: d["phases"][0]["judging"].update(quorum=9), "phases[0].judging.quorum",
     "must be between 1 and judges_per_entry"),
    (lambda d: d["phases"][0]["judging"].update(judges_per_entry=0, quorum=0), "phases[0].judging.judges_per_entry",
     "must be between 1 and 50"),
    (lambda d: d["phases"][0]["judging"].update(primary_method="vibes"), "phases[0].judging.primary_method",
     "must be one of mean, median"),
    (lambda d: d["phases"][0]["judging"].update(others_scores_visible="x"),
     "phases[0].judging.others_scores_visible", "must be one of never, after_own, always"),
])
def test_import_invalid_values_named_by_path(app, db, staff, mutate, path, text):
    data = make_definition()
    mutate(data)

    errors = _refused(db, staff, data)

    assert path in errors, errors
    assert text in errors[path]


def test_import_overlapping_phases_refused(app, db, staff):
    data = make_definition()
    data["phases"].append(dict(copy.deepcopy(data["phases"][0]), key="phase-2", name="Second"))

    errors = _refused(db, staff, data)

    assert list(errors) == ["phases[1].opens_at"]
    assert errors["phases[1].opens_at"].startswith("These dates overlap the phase “Concept papers”.")


def test_import_duplicate_phase_keys_refused(app, db, staff):
    data = make_definition()
    later = dict(copy.deepcopy(data["phases"][0]), opens_at="2040-01-02T09:00", closes_at="2040-02-01T09:00")
    data["phases"].append(later)

    assert _refused(db, staff, data) == {"phases[1].key": "Another phase already uses the key “phase-1”."}


def test_import_reports_every_problem_at_once(app, db, staff):
    data = make_definition(slug="NO", timezone="Nowhere/Else")
    data["phases"][0]["rubric"]["criteria"][1]["weight"] = -1
    data["phases"][0]["fields"][1]["accept"] = ["text/html"]

    errors = _refused(db, staff, data)

    assert set(errors) == {"slug", "timezone", "phases[0].rubric.criteria[1].weight", "phases[0].fields[1].accept"}


def test_import_duplicate_slug_refused(app, db, staff):
    import_definition(actor=staff, data=make_definition(slug="twice"))
    db.session.commit()

    with pytest.raises(ValidationFailed) as err:
        import_definition(actor=staff, data=make_definition(slug="twice", title="Another"))
    db.session.rollback()

    assert err.value.errors == {"slug": "The slug “twice” is already used by another challenge. Choose another."}
    assert [c.title for c in db.session.execute(select(Challenge)).scalars()] == ["Test Challenge"]


def test_import_non_staff_actor_refused(app, db):
    vendor = make_user(email="vendor@example.gov", roles=("vendor",))

    with pytest.raises(PermissionDenied):
        import_definition(actor=vendor, data=make_definition())
    db.session.rollback()
    assert _count(db) == 0


def test_cli_import_invalid_definition_exits_non_zero_with_paths(app, db, run_cli, tmp_path):
    data = make_definition()
    data["phases"][0]["fields"][0]["colour"] = "red"
    data["phases"][0]["closes_at"] = "2000-01-01T00:00"

    shape = run_cli("challenges", "import-definition", _write(tmp_path, data, "shape.json"))
    del data["phases"][0]["fields"][0]["colour"]
    values = run_cli("challenges", "import-definition", _write(tmp_path, data, "values.json"))
    broken = run_cli("challenges", "import-definition", _write(tmp_path, "{nope", "broken.json"))
    missing = run_cli("challenges", "import-definition", str(tmp_path / "absent.json"))

    assert shape.exit_code == 1
    assert "Error: The definition has errors." in shape.output
    assert "  phases[0].fields[0].colour: unknown key" in shape.output
    assert values.exit_code == 1
    assert "  phases[0].closes_at: Closing time must be after opening time." in values.output
    assert broken.exit_code == 1 and "Error: The file is not valid JSON." in broken.output
    assert "(root): not valid JSON" in broken.output
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert _count(db) == 0
