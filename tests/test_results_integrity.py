"""Exports cannot carry live spreadsheet formulas: vendors' titles and answers, and judges' comments,
that start with = + - @ (or a tab or carriage return) are text in every CSV and XLSX, numbers stay
numbers, and the scores CSV staff download is still exactly the input of the data fingerprint."""

from __future__ import annotations

import csv
import hashlib
import io

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from challenges import exports
from challenges.judging import results
from challenges.judging.models import Score
from challenges.models import Challenge
from challenges.submissions.models import Submission
from tests.test_results_cli import panel_p  # noqa: F401 - the fixture

EVIL_TITLE = '=HYPERLINK("https://evil.example/steal","Open the report")'


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-2 is harsh", "'-2 is harsh"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("Plain text", "Plain text"), ("a=b", "a=b"), ("", ""),
    (-1.5, -1.5), (-3, -3), (None, None),
])
def test_cell_safe_quotes_only_formula_like_text(value, expected):
    assert exports.cell_safe(value) == expected


def test_numbers_stay_numbers_in_csv_and_xlsx():
    """Negative z-scores and shifts are figures, not formulas: never quoted, never turned into text."""
    frame = results.leaderboard_frame([{
        "rank": 1, "entry": "AI-2026-0001", "title": "-Minus Labs", "n_reviews": 3, "assigned": 3, "mean": 40.5,
        "median": 41, "trimmed_mean": 40.5, "zscore": -1.25, "calibrated": 39, "shift": -2.5, "borda": 0.1,
        "sd": 3, "range": 6, "percentile": 50, "rank_low": 1, "rank_high": 2, "loo_max_rank_change": 0,
        "loo_judge": None, "flags": ["provisional"]}])
    row = next(csv.DictReader(io.StringIO(results.canonical_csv(frame).decode())))
    assert (row["zscore"], row["shift"], row["title"]) == ("-1.25", "-2.5", "'-Minus Labs")
    sheet = openpyxl.load_workbook(io.BytesIO(exports.frame_to_xlsx(frame, "Leaderboard"))).active
    header = [c.value for c in sheet[1]]
    cells = dict(zip(header, sheet[2], strict=True))
    assert cells["zscore"].value == -1.25 and cells["zscore"].data_type == "n"
    assert cells["shift"].value == -2.5 and cells["shift"].data_type == "n"
    assert cells["title"].value == "-Minus Labs" and cells["title"].data_type == "s" and cells["title"].quotePrefix


def test_a_frame_without_formula_like_text_is_written_unchanged():
    """The rule never rewrites ordinary data: fingerprints of existing exports do not move."""
    frame = pd.DataFrame({"entry": ["AI-1", "AI-2"], "value": [1.5, None], "comment": ["fine", None]})
    assert exports.safe_frame(frame) is frame


def _phase(db):
    return db.session.execute(select(Challenge).where(Challenge.slug == "panel-p")).scalar_one().phases[0]


def _workbook_cells(data: bytes) -> list:
    return [cell for row in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows() for cell in row]


def test_judging_exports_carry_no_formulas(client, login_as, db, panel_p):  # noqa: F811
    phase = _phase(db)
    entry = db.session.execute(select(Submission).where(Submission.public_code == panel_p["E1"])).scalar_one()
    entry.answers = {**(entry.answers or {}), "title": EVIL_TITLE}
    scores = db.session.execute(select(Score).order_by(Score.id)).scalars().all()
    scores[0].comment, scores[1].comment, scores[2].comment = "=1+1", "-2 points for the demo", "@SUM(A1:A9)"
    db.session.commit()
    base = f"/staff/challenges/panel-p/phases/{phase.id}/exports"
    login_as("staff")

    scores_csv = client.get(f"{base}/scores.csv")
    rows = list(csv.DictReader(io.StringIO(scores_csv.data.decode())))
    assert sorted(r["comment"] for r in rows if r["comment"]) == ["'-2 points for the demo", "'=1+1", "'@SUM(A1:A9)"]
    assert all(not r["comment"].startswith(exports.FORMULA_STARTS) for r in rows)
    assert {r["value"] for r in rows if r["entry"] == panel_p["E1"]} == {"90", "60", "75"}  # numbers as they were
    # The download is still exactly what the fingerprint hashes.
    assert hashlib.sha256(scores_csv.data).hexdigest() == results.fingerprint(phase)["scores_sha256"]

    board = list(csv.DictReader(io.StringIO(client.get(f"{base}/leaderboard.csv").data.decode())))
    title = next(r["title"] for r in board if r["entry"] == panel_p["E1"])
    assert title == "'" + EVIL_TITLE
    assert float(next(r["mean"] for r in board if r["entry"] == panel_p["E1"])) == 75

    for name in ("leaderboard", "scores", "progress"):
        cells = _workbook_cells(client.get(f"{base}/{name}.xlsx").data)
        assert cells and not [c.coordinate for c in cells if c.data_type == "f"], name  # no formula anywhere
    board_cells = _workbook_cells(client.get(f"{base}/leaderboard.xlsx").data)
    evil = next(c for c in board_cells if c.value == EVIL_TITLE)
    assert evil.data_type == "s" and evil.quotePrefix  # the vendor's text, as text
    score_cells = _workbook_cells(client.get(f"{base}/scores.xlsx").data)
    assert {c.value for c in score_cells if c.data_type == "s" and c.quotePrefix} == {
        "=1+1", "-2 points for the demo", "@SUM(A1:A9)"}
    assert any(c.value == 90 and c.data_type == "n" for c in score_cells)


def test_report_prints_the_sha256_of_the_escaped_export(client, login_as, db, app, panel_p):  # noqa: F811
    """With a formula-like comment, the report's 'SHA-256 of the scores export' is the SHA-256 of the file
    staff download, and the fingerprint differs from the same data with a harmless comment."""
    from challenges.judging import report

    phase = _phase(db)
    score = db.session.execute(select(Score).order_by(Score.id)).scalars().first()
    score.comment = "Plain"
    db.session.commit()
    plain = results.fingerprint(phase)
    score.comment = "=cmd|' /C calc'!A0"
    db.session.commit()
    login_as("staff")
    download = client.get(f"/staff/challenges/panel-p/phases/{phase.id}/exports/scores.csv").data
    assert b"'=cmd|' /C calc'!A0" in download
    sha = hashlib.sha256(download).hexdigest()
    assert sha == results.fingerprint(phase)["scores_sha256"] != plain["scores_sha256"]
    with app.test_request_context():
        main, _ = report.html_parts(phase)
    assert f"SHA-256 of the scores export: <code>{sha}</code>" in main
    assert results.fingerprint(phase)["fingerprint"] in main


def test_application_exports_carry_no_formulas(client, login_as, db):
    from tests.factories import make_challenge, make_submission, make_user

    phase = make_challenge(publish=True, slug="formulas").phases[0]
    vendor = make_user(email="owner@formulas.com", roles=("vendor",))
    entry, _ = make_submission(vendor, phase, organization_name="@Formula Co", submit=True)
    entry.answers = {**entry.answers, "summary": EVIL_TITLE}
    db.session.commit()
    login_as("staff")
    base = f"/staff/challenges/formulas/phases/{phase.id}/applications"
    frame = pd.read_csv(io.BytesIO(client.get(f"{base}.csv").data), encoding="utf-8-sig")
    assert frame.loc[0, "Summary [summary]"] == "'" + EVIL_TITLE and frame.loc[0, "organisation"] == "'@Formula Co"
    assert frame.loc[0, "entry"] == entry.public_code
    cells = _workbook_cells(client.get(f"{base}.xlsx").data)
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert next(c for c in cells if c.value == EVIL_TITLE).quotePrefix
