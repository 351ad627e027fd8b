"""The judging CLI contracts: import-scores (all or nothing, idempotent, any status but archived) and assign."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from challenges.accounts.models import User
from challenges.judging.models import Assignment, PanelMember, Review
from challenges.models import Challenge
from challenges.submissions.models import Submission
from tests.factories import close_submissions, make_challenge, make_judge, make_submission, make_user


@pytest.fixture
def setup(db):
    challenge = make_challenge(publish=True, slug="offline")
    phase = challenge.phases[0]
    subs = []
    for n in range(2):
        vendor = make_user(email=f"v{n}@co{n}.com", roles=("vendor",))
        sub, _ = make_submission(vendor, phase, organization_name=f"Co {n}", submit=True)
        subs.append(sub)
    close_submissions(phase)
    judges = [make_judge(phase, f"judge{n}@agency.gov") for n in range(2)]
    return challenge, phase, subs, judges


def write(tmp_path, text: str):
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def counts(db):
    return (db.session.execute(select(func.count(Review.id))).scalar_one(),
            db.session.execute(select(func.count(Assignment.id))).scalar_one(),
            db.session.execute(select(func.count(Submission.id))).scalar_one(),
            db.session.execute(select(func.count(PanelMember.id))).scalar_one())


def test_import_creates_submitted_reviews_and_reimport_changes_nothing(run_cli, db, setup, tmp_path):
    _, _, subs, _ = setup
    a, b = subs[0].public_code, subs[1].public_code
    path = write(tmp_path, "entry,judge,criterion,score,comment\n"
                           f"{a},judge0@agency.gov,quality,4,Clear plan\n{a},judge0@agency.gov,impact,5,\n"
                           f"{b},JUDGE1@agency.gov,quality,2,\n{b},judge1@agency.gov,impact,3,\n")
    result = run_cli("judging", "import-scores", "offline", path, "--phase", "phase-1")
    assert result.exit_code == 0, result.output
    assert "reviews: 2 created, 0 updated, 0 unchanged" in result.output
    reviews = db.session.execute(select(Review)).scalars().all()
    assert {r.status for r in reviews} == {"submitted"}
    first = next(r for r in reviews if r.assignment.submission_id == subs[0].id)
    assert first.values() == {"quality": 4.0, "impact": 5.0} and first.comments()["quality"] == "Clear plan"
    before = counts(db)
    again = run_cli("judging", "import-scores", "offline", path, "--phase", "phase-1")
    assert again.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in again.output
    assert counts(db) == before


def test_one_bad_row_rejects_the_whole_file_with_line_numbers(run_cli, db, setup, tmp_path):
    _, _, subs, _ = setup
    a = subs[0].public_code
    path = write(tmp_path, "entry,judge,criterion,score\n"
                           f"{a},judge0@agency.gov,quality,4\n"
                           f"{a},judge0@agency.gov,impact,9\n"
                           f"{a},judge1@agency.gov,quality,2.5\n"
                           f"{a},judge1@agency.gov,novelty,3\n"
                           f"NOPE-1,judge1@agency.gov,quality,3\n"
                           f"{a},stranger@agency.gov,quality,3\n"
                           f"{a},not-an-email,quality,3\n"
                           f"{subs[1].public_code},judge0@agency.gov,quality,4\n")
    result = run_cli("judging", "import-scores", "offline", path, "--phase", "phase-1")
    assert result.exit_code == 1
    out = result.output
    assert "line 3:" in out and "Impact: 9 is outside the scale; enter a score from 1 to 5." in out
    assert "line 4:" in out and "enter a whole number from 1 to 5" in out
    assert "line 5: unknown criterion 'novelty'" in out
    assert "line 6: no entry with code or title 'NOPE-1'" in out
    assert "line 7: stranger@agency.gov is not on the panel" in out
    assert "line 8: 'not-an-email' is not an email address" in out
    assert "line 9:" in out and "Score Impact: it is required." in out  # V2 on the pair's first line
    assert counts(db) == (0, 0, 2, 2)


def test_missing_header_and_duplicate_scores(run_cli, db, setup, tmp_path):
    _, _, subs, _ = setup
    result = run_cli("judging", "import-scores", "offline", write(tmp_path, "entry,judge,score\nx,y,1\n"),
                     "--phase", "phase-1")
    assert result.exit_code == 1 and "header, with the columns entry,judge,criterion,score" in result.output
    a = subs[0].public_code
    dup = write(tmp_path, f"entry,judge,criterion,score\n{a},judge0@agency.gov,quality,4\n"
                          f"{a},judge0@agency.gov,quality,5\n{a},judge0@agency.gov,impact,5\n")
    result = run_cli("judging", "import-scores", "offline", dup, "--phase", "phase-1")
    assert result.exit_code == 1 and "line 3: a second score for quality" in result.output
    result = run_cli("judging", "import-scores", "offline", dup, "--phase", "nope")
    assert result.exit_code == 1 and "no phase 'nope'" in result.output


def test_create_missing_on_a_draft_with_past_dates(run_cli, db, tmp_path):
    make_challenge(slug="historic", title="Historic 2019 challenge")  # a draft; its phase dates do not matter
    path = write(tmp_path, "entry,judge,criterion,score\n"
                           "Flood forecasting,old.judge@noaa.gov,quality,5\n"
                           "Flood forecasting,old.judge@noaa.gov,impact,4\n"
                           "Wildfire maps,old.judge@noaa.gov,quality,3\nWildfire maps,old.judge@noaa.gov,impact,3\n")
    refused = run_cli("judging", "import-scores", "historic", path, "--phase", "phase-1")
    assert refused.exit_code == 1 and "use --create-missing" in refused.output
    result = run_cli("judging", "import-scores", "historic", path, "--phase", "phase-1", "--create-missing")
    assert result.exit_code == 0, result.output
    assert "entries created: 2; judges created: 1" in result.output
    judge = db.session.execute(select(User).where(User.email == "old.judge@noaa.gov")).scalar_one()
    assert judge.password_hash is None  # a panel member without sign-in rights
    titles = sorted(s.title for s in db.session.execute(select(Submission)).scalars())
    assert titles == ["Flood forecasting", "Wildfire maps"]
    again = run_cli("judging", "import-scores", "historic", path, "--phase", "phase-1", "--create-missing")
    assert "0 created, 0 updated, 2 unchanged; entries created: 0; judges created: 0" in again.output


def test_changed_score_is_an_audited_update_and_archived_is_refused(run_cli, db, setup, tmp_path):
    challenge, _, subs, _ = setup
    a = subs[0].public_code
    run_cli("judging", "import-scores", "offline",
            write(tmp_path, f"entry,judge,criterion,score\n{a},judge0@agency.gov,quality,4\n"
                            f"{a},judge0@agency.gov,impact,5\n"), "--phase", "phase-1")
    changed = run_cli("judging", "import-scores", "offline",
                      write(tmp_path, f"entry,judge,criterion,score\n{a},judge0@agency.gov,quality,3\n"
                                      f"{a},judge0@agency.gov,impact,5\n"), "--phase", "phase-1")
    assert "0 created, 1 updated" in changed.output
    db.session.get(Challenge, challenge.id).status = "archived"
    db.session.commit()
    refused = run_cli("judging", "import-scores", "offline", write(tmp_path, "entry,judge,criterion,score\n"),
                      "--phase", "phase-1")
    assert refused.exit_code == 1 and "archived" in refused.output


def test_conflicted_row_is_refused(run_cli, db, setup, tmp_path):
    from challenges.accounts.services import get_system_user
    from challenges.judging import services as judging

    _, _, subs, judges = setup
    judging.pin_conflict(actor=get_system_user(), member=judges[0], type_="financial", reason="Investor",
                         submission=subs[0])
    db.session.commit()
    a = subs[0].public_code
    result = run_cli("judging", "import-scores", "offline",
                     write(tmp_path, f"entry,judge,criterion,score\n{a},judge0@agency.gov,quality,4\n"
                                     f"{a},judge0@agency.gov,impact,5\n"), "--phase", "phase-1")
    assert result.exit_code == 1 and "conflict of interest" in result.output


def test_assign_cli_json_and_approve(run_cli, db, setup):
    _, phase, subs, _ = setup
    make_judge(phase, "judge2@other.gov")
    result = run_cli("judging", "assign", "offline", "--phase", "phase-1", "--k", "2", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "proposed" and len(data["pairs"]) == 4
    assert {p["entry"] for p in data["pairs"]} == {s.public_code for s in subs}
    assert sum(data["loads"].values()) == 4 and isinstance(data["objective"], int)
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 0
    approved = run_cli("judging", "assign", "offline", "--phase", "phase-1", "--k", "2", "--mode", "assign",
                       "--approve")
    assert approved.exit_code == 0 and "(approved)" in approved.output
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == 4
    infeasible = run_cli("judging", "assign", "offline", "--phase", "phase-1", "--k", "5", "--mode", "ensure")
    assert infeasible.exit_code == 1 and "No assignment meets every rule" in infeasible.output
