import json

import pytest
from sqlalchemy import func, select

from challenges.accounts.models import User
from challenges.definition import export_definition, import_definition
from challenges.errors import ValidationFailed
from challenges.models import Challenge
from tests.factories import make_definition, make_user

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


def _count(db) -> int:
    return db.session.execute(select(func.count(Challenge.id))).scalar_one()


def _errors(db, data) -> dict[str, str]:
    staff = db.session.execute(select(User).where(User.email == "importer@example.gov")).scalar_one_or_none() \
        or make_user(email="importer@example.gov", roles=("staff",))
    with pytest.raises(ValidationFailed) as err:
        import_definition(actor=staff, data=data)
    db.session.rollback()
    assert _count(db) == 0
    return err.value.errors


def test_contract_example_imports_as_draft_via_cli(app, db, run_cli, tmp_path):
    path = tmp_path / "def.json"
    path.write_text(json.dumps(CONTRACT))
    result = run_cli("challenges", "import-definition", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ai-health-2026"
    challenge = db.session.execute(select(Challenge)).scalar_one()
    assert challenge.status == "draft"
    phase = challenge.phases[0]
    assert phase.opens_at.isoformat() == "2026-01-05T14:00:00+00:00"  # 09:00 New York in January
    assert phase.closes_at.isoformat() == "2026-02-05T22:00:00+00:00"
    assert [f.key for f in phase.fields] == ["summary", "deck"]
    assert phase.fields[1].accept == ["application/pdf"] and phase.fields[1].max_bytes == 26214400
    assert phase.rubric.criteria[0].scale_max == 10 and phase.judges_per_entry == 3


def test_export_prints_json_that_reimports_equal(app, db, run_cli, tmp_path):
    staff = make_user(email="s@example.gov", roles=("staff",))
    import_definition(actor=staff, data=make_definition(slug="first"))
    db.session.commit()
    exported = json.loads(run_cli("challenges", "export-definition", "first").output)
    exported["slug"] = "second"
    path = tmp_path / "second.json"
    path.write_text(json.dumps(exported))
    assert run_cli("challenges", "import-definition", str(path)).exit_code == 0
    again = export_definition(db.session.execute(select(Challenge).where(Challenge.slug == "second")).scalar_one())
    assert again == exported
    missing = run_cli("challenges", "export-definition", "nope")
    assert missing.exit_code == 1 and "No challenge" in missing.output


def test_publish_flag_records_system_approval(app, db, run_cli, tmp_path):
    path = tmp_path / "pub.json"
    path.write_text(json.dumps(make_definition(slug="pub")))
    result = run_cli("challenges", "import-definition", str(path), "--publish")
    assert result.exit_code == 0, result.output
    challenge = db.session.execute(select(Challenge)).scalar_one()
    assert challenge.status == "published"
    assert challenge.approved_by.email == "system@challenges.invalid"


def test_publish_flag_refuses_incomplete_definition(app, db, run_cli, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CONTRACT))  # no rules and a close in the past
    result = run_cli("challenges", "import-definition", str(path), "--publish")
    assert result.exit_code == 1
    assert "official rules" in result.output and "close in the future" in result.output
    assert _count(db) == 0


def test_unknown_key_named_by_path(app, db):
    data = make_definition()
    data["phases"][0]["fields"][0]["colour"] = "red"
    data["sponsor"] = "x"
    errors = _errors(db, data)
    assert errors["phases[0].fields[0].colour"] == "unknown key"
    assert errors["sponsor"] == "unknown key"


def test_negative_weight_message_is_exact(app, db):
    data = make_definition()
    data["phases"][0]["rubric"]["criteria"][1]["weight"] = -1
    errors = _errors(db, data)
    assert f"phases[0].rubric.criteria[1].weight: {errors['phases[0].rubric.criteria[1].weight']}" == \
        "phases[0].rubric.criteria[1].weight: must be >= 0"


def test_cli_prints_path_named_errors(app, db, run_cli, tmp_path):
    data = make_definition()
    data["phases"][0]["rubric"]["criteria"][1]["weight"] = -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = run_cli("challenges", "import-definition", str(path))
    assert result.exit_code == 1
    assert "phases[0].rubric.criteria[1].weight: must be >= 0" in result.output
    assert _count(db) == 0


@pytest.mark.parametrize(("mutate", "path", "text"), [
    (lambda d: d.update(timezone="Mars/Base"), "timezone", "Unknown time zone"),
    (lambda d: d.update(slug="Bad Slug"), "slug", "lower-case"),
    (lambda d: d.update(title=5), "title", "valid string"),
    (lambda d: d["phases"][0].update(closes_at="2020-01-01T00:00"), "phases[0].closes_at", "after opening"),
    (lambda d: d["phases"][0].update(opens_at="soon"), "phases[0].opens_at", "not a date"),
    (lambda d: d["phases"][0].update(opens_at="2030-03-10T02:30", closes_at="2030-04-01T09:00"),
     "phases[0].opens_at", "does not exist"),
    (lambda d: d["phases"][0]["fields"].append(dict(d["phases"][0]["fields"][0])), "phases[0].fields[2].key",
     "already used"),
    (lambda d: d["phases"][0]["fields"][0].update(type="colour"), "phases[0].fields[0].type", "Choose a field type"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(max=1), "phases[0].rubric.criteria[0].max",
     "greater than its minimum"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(step=3), "phases[0].rubric.criteria[0].step",
     "divide the scale"),
    (lambda d: [c.update(weight=0) for c in d["phases"][0]["rubric"]["criteria"]], "phases[0].rubric.criteria",
     "at least one criterion"),
    (lambda d: d["phases"][0]["judging"].update(quorum=9), "phases[0].judging.quorum", "between 1"),
    (lambda d: d["phases"][0].pop("key"), "phases[0].key", "is required"),
])
def test_invalid_values_named_by_path(app, db, mutate, path, text):
    data = make_definition()
    mutate(data)
    errors = _errors(db, data)
    assert path in errors, errors
    assert text in errors[path]


def test_overlapping_phases_refused(app, db):
    data = make_definition()
    second = dict(data["phases"][0], key="phase-2", name="Second")
    data["phases"].append(second)
    errors = _errors(db, data)
    assert "overlap" in errors["phases[1].opens_at"]


def test_malformed_json_and_non_object(app, db):
    assert "not valid JSON" in _errors(db, b"{nope")["(root)"]
    assert "JSON object" in _errors(db, b"[1, 2]")["(root)"]


def test_duplicate_slug_refused(app, db):
    staff = make_user(email="s@example.gov", roles=("staff",))
    import_definition(actor=staff, data=make_definition(slug="twice"))
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        import_definition(actor=staff, data=make_definition(slug="twice"))
    assert "already used" in err.value.errors["slug"]
