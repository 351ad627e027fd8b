"""`judging leaderboard` and `judging stats` on panel P of SCORING.md, brought in through the score import."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest

from tests.factories import make_challenge, make_definition

P = {"J1": {"E1": 90, "E2": 80, "E3": 85, "E4": 70},
     "J2": {"E1": 60, "E2": 50, "E3": 65, "E4": 40},
     "J3": {"E1": 75, "E2": 70, "E3": 60, "E4": 55}}


@pytest.fixture
def panel_p(db, run_cli, tmp_path):
    definition = make_definition()
    definition["phases"][0]["rubric"] = {"criteria": [
        {"key": "total", "name": "Total", "weight": 1, "min": 0, "max": 100, "step": 1}]}
    definition["phases"][0]["judging"]["quorum"] = 3
    make_challenge(slug="panel-p", **{k: v for k, v in definition.items() if k != "slug"})
    lines = ["entry,judge,criterion,score"] + [f"Entry {e},{j.lower()}@agency.gov,total,{t}"
                                               for j, row in P.items() for e, t in row.items()]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("judging", "import-scores", "panel-p", str(path), "--phase", "phase-1", "--create-missing")
    assert result.exit_code == 0, result.output
    from sqlalchemy import select

    from challenges.submissions.models import Submission

    return {s.title.split()[-1]: s.public_code for s in db.session.execute(select(Submission)).scalars()}


def test_leaderboard_json_contract(run_cli, panel_p):
    result = run_cli("judging", "leaderboard", "panel-p", "--phase", "phase-1", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    required = {"rank", "entry", "title", "n_reviews", "mean", "median", "trimmed_mean", "zscore", "calibrated",
                "borda", "sd", "range", "percentile", "rank_low", "rank_high", "flags"}
    assert all(required <= set(row) for row in rows)
    assert [row["entry"] for row in rows] == [panel_p[e] for e in ("E1", "E3", "E2", "E4")]
    by_entry = {row["title"]: row for row in rows}
    assert round(by_entry["Entry E2"]["mean"], 4) == 66.6667 and by_entry["Entry E2"]["median"] == 70
    assert round(by_entry["Entry E1"]["zscore"], 4) == 79.7891
    assert round(by_entry["Entry E3"]["borda"], 4) == 0.6667
    assert [row["rank"] for row in rows] == [1, 2, 3, 4] and all(row["n_reviews"] == 3 for row in rows)
    assert by_entry["Entry E1"]["percentile"] == 13  # ceil(100 * 0.5 / 4)


def test_leaderboard_method_switch_and_csv(run_cli, panel_p):
    result = run_cli("judging", "leaderboard", "panel-p", "--phase", "phase-1", "--method", "median",
                     "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["entry"] for r in rows] == [panel_p[e] for e in ("E1", "E2", "E3", "E4")]  # median: E2 before E3


def test_leaderboard_csv_quotes_a_title_a_spreadsheet_would_run(run_cli, panel_p, db):
    from sqlalchemy import select

    from challenges.submissions.models import Submission

    entry = db.session.execute(select(Submission).where(Submission.public_code == panel_p["E1"])).scalar_one()
    entry.answers = {**entry.answers, "title": '=HYPERLINK("https://evil.example","Open")'}
    db.session.commit()
    result = run_cli("judging", "leaderboard", "panel-p", "--phase", "phase-1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows[0]["title"] == """'=HYPERLINK("https://evil.example","Open")"""
    as_json = json.loads(run_cli("judging", "leaderboard", "panel-p", "--phase", "phase-1").output)
    assert as_json[0]["title"].startswith("=HYPERLINK")  # JSON is data, not a spreadsheet: unchanged


def test_stats_json_contract_on_p(run_cli, panel_p):
    result = run_cli("judging", "stats", "panel-p", "--phase", "phase-1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["entries"], data["judge_count"], len(data["judges"]), data["reviews"]) == (4, 3, 3, 12)
    reliability = data["reliability"]
    assert round(reliability["krippendorff_alpha_interval"], 4) == 0.0026
    icc = reliability["icc"]
    assert set(icc) == {"ICC1", "ICC1k", "ICCA1", "ICCAk", "ICCC1", "ICCCk"}
    assert (round(icc["ICC1"], 4), round(icc["ICCA1"], 4), round(icc["ICCC1"], 4), round(icc["ICCCk"], 4)) == (
        0.0032, 0.2236, 0.6642, 0.8558)
    judges = {j["judge"]: j for j in data["judges"]}
    assert set(judges["j1@agency.gov"]) >= {"judge", "n", "mean", "sd", "loo_offset", "calibration_offset",
                                            "toughness"}
    assert judges["j1@agency.gov"]["loo_offset"] == 21.875 and judges["j2@agency.gov"]["toughness"] == 0.875
    criterion = data["criteria"][0]
    assert criterion["criterion"] == "total" and criterion["n"] == 12
    assert set(criterion) >= {"criterion", "n", "mean", "sd", "median", "min", "max", "alpha_interval"}
    values = [t for row in P.values() for t in row.values()]
    assert (round(criterion["mean"], 4), round(criterion["sd"], 4), criterion["median"], criterion["min"],
            criterion["max"]) == (round(statistics.mean(values), 4), round(statistics.stdev(values), 4),
                                  statistics.median(values), min(values), max(values))
    # One criterion on a 0-100 scale: its values are the review totals, so the alphas agree.
    assert round(criterion["alpha_interval"], 4) == 0.0026
    assert criterion["histogram"] == {str(v): values.count(v) for v in sorted(set(values))}


def test_empty_phase_gives_empty_results(run_cli, db):
    make_challenge(slug="nothing-yet")
    board = run_cli("judging", "leaderboard", "nothing-yet", "--phase", "phase-1")
    assert board.exit_code == 0 and json.loads(board.output) == []
    data = json.loads(run_cli("judging", "stats", "nothing-yet", "--phase", "phase-1", "--json").output)
    assert data["reviews"] == 0 and data["reliability"]["krippendorff_alpha_interval"] is None
    assert all(v is None for v in data["reliability"]["icc"].values())


def test_leaderboard_and_statistics_pages(client, login_as, db, panel_p):
    from sqlalchemy import select

    from challenges.models import Challenge

    challenge = db.session.execute(select(Challenge).where(Challenge.slug == "panel-p")).scalar_one()
    base = f"/staff/challenges/panel-p/phases/{challenge.phases[0].id}"
    login_as("staff")
    page = client.get(f"{base}/leaderboard")
    assert page.status_code == 200
    order = [page.text.index(panel_p[e]) for e in ("E1", "E3", "E2", "E4")]
    assert order == sorted(order)  # mean order
    assert "66.67" in page.text and "79.79" in page.text and 'role="img"' in page.text
    assert "Kemeny order of the top 4" in page.text
    median = client.get(f"{base}/leaderboard?method=median")
    assert median.text.index(panel_p["E2"]) < median.text.index(panel_p["E3"])
    assert client.get(f"{base}/leaderboard?method=vibes").status_code == 400
    stats = client.get(f"{base}/statistics")
    assert stats.status_code == 200 and "0.0026" in stats.text and "0.6642" in stats.text
    assert "order of entries" in stats.text and "lenient" in stats.text
    assert "<title" in stats.text and "Judge leniency" in stats.text


def test_exports_and_fingerprint(client, login_as, db, panel_p, run_cli, tmp_path):
    import hashlib

    from sqlalchemy import select

    from challenges.judging import results
    from challenges.models import Challenge

    phase = db.session.execute(select(Challenge).where(Challenge.slug == "panel-p")).scalar_one().phases[0]
    base = f"/staff/challenges/panel-p/phases/{phase.id}/exports"
    login_as("staff")
    scores = client.get(f"{base}/scores.csv")
    assert scores.status_code == 200 and scores.headers["X-Content-Type-Options"] == "nosniff"
    lines = scores.data.decode().splitlines()
    assert lines[0] == "entry,judge,criterion,value,rubric_version,weight,comment" and len(lines) == 13
    first = results.fingerprint(phase)
    assert hashlib.sha256(scores.data).hexdigest() == first["scores_sha256"]
    page = client.get(f"/staff/challenges/panel-p/phases/{phase.id}/leaderboard")
    assert first["fingerprint"] in page.text
    assert results.fingerprint(phase, method="median")["fingerprint"] != first["fingerprint"]  # settings count
    board = client.get(f"{base}/leaderboard.csv")
    assert board.data.decode().splitlines()[0].startswith("rank,entry,title,n_reviews")
    assert client.get(f"{base}/leaderboard.xlsx").data[:2] == b"PK"
    assert client.get(f"{base}/progress.csv").data.decode().splitlines()[1].startswith("j1@agency.gov,active,4,4")
    assert client.get(f"{base}/secrets.csv").status_code == 404
    assert client.get(f"{base}/scores.pdf").status_code == 404

    # One changed score changes the fingerprint; putting it back restores it.
    code = panel_p["E4"]
    path = tmp_path / "change.csv"
    path.write_text(f"entry,judge,criterion,score\n{code},j3@agency.gov,total,56\n")
    assert run_cli("judging", "import-scores", "panel-p", str(path), "--phase", "phase-1").exit_code == 0
    db.session.expire_all()
    assert results.fingerprint(phase)["fingerprint"] != first["fingerprint"]
    path.write_text(f"entry,judge,criterion,score\n{code},j3@agency.gov,total,55\n")
    assert run_cli("judging", "import-scores", "panel-p", str(path), "--phase", "phase-1").exit_code == 0
    db.session.expire_all()
    assert results.fingerprint(phase) == first
