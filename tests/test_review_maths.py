"""SCORING.md sections 1 and 2: validation V1-V3 and the review total, worked examples exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from challenges.judging.scoring import comment_needed, parse_value, review_errors, review_total, value_error


@dataclass
class C:
    key: str
    weight: float
    scale_min: float
    scale_max: float
    step: float = 1
    higher_is_better: bool = True
    required: bool = True
    independent: bool = False
    comment_rule: str = "never"
    min_comment_chars: int = 0
    name: str = ""

    def __post_init__(self):
        self.name = self.name or self.key.capitalize()


RUBRIC = [C("technical", 3, 1, 5), C("impact", 2, 1, 5), C("feasibility", 1, 0, 10, required=False)]


def test_r1_weighted_normalised_total_is_82_5():
    result = review_total(RUBRIC, {"technical": 4, "impact": 5, "feasibility": 7})
    assert round(result.total, 4) == 82.5 and result.coverage == 1.0


def test_r2_skipped_optional_criterion_is_not_zero():
    result = review_total(RUBRIC, {"technical": 4, "impact": 5, "feasibility": None})
    assert round(result.total, 4) == 85.0 and round(result.coverage, 4) == round(5 / 6, 4)
    # a plain weighted sum (pretalx style) would have given 29 and fallen when skipping
    assert 3 * 4 + 2 * 5 + 1 * 7 == 29


def test_lower_is_better_and_independent_criteria():
    rubric = [C("cost", 1, 1, 5, higher_is_better=False), C("note", 0, 1, 5, independent=True)]
    assert review_total(rubric, {"cost": 1, "note": 5}).total == 100.0
    assert review_total(rubric, {"cost": 5, "note": 1}).total == 0.0
    assert review_total(rubric, {"note": 5}).total is None


@pytest.mark.parametrize(("criterion", "value", "ok"), [
    (C("a", 1, 1, 5), 1, True), (C("a", 1, 1, 5), 5, True), (C("a", 1, 1, 5), 0, False),
    (C("a", 1, 1, 5), 6, False), (C("a", 1, 1, 5), 2.5, False),
    (C("b", 1, 0, 1, step=0.1), 0.3, True), (C("b", 1, 0, 1, step=0.1), 0.35, False),
    (C("c", 1, 0, 10, step=0.5), 7.5, True), (C("c", 1, 0, 10, step=0.5), 7.25, False),
    (C("d", 1, -2, 2), -1, True), (C("d", 1, -2, 2), -3, False),
])
def test_v1_range_and_step(criterion, value, ok):
    assert (value_error(criterion, value) is None) == ok


def test_v1_messages_are_clear():
    assert value_error(C("quality", 1, 1, 5), 9) == "Quality: 9 is outside the scale; enter a score from 1 to 5."
    assert value_error(C("quality", 1, 1, 5), 2.5) == ("Quality: 2.5 is not on the scale; enter a whole number "
                                                      "from 1 to 5.")
    assert value_error(C("quality", 1, 0, 1, step=0.1), 0.35) == (
        "Quality: 0.35 is not on the scale; enter a score in steps of 0.1 (0, 0.1, …) from 0 to 1.")


@pytest.mark.parametrize("raw", ["lots", "nan", "inf", "1e999x"])
def test_non_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        parse_value(raw)


def test_blank_means_not_scored():
    assert parse_value("") is None and parse_value("  ") is None and parse_value(None) is None
    assert parse_value(" 4 ") == 4.0


def test_v2_required_missing_only_on_submit():
    assert review_errors(RUBRIC, {"technical": 4}, {}, submitting=False) == {}
    errors = review_errors(RUBRIC, {"technical": 4}, {}, submitting=True)
    # Feasibility is optional but weighted: skipping it would leave coverage 5/6 < min_coverage 1.0 and a
    # submitted review that silently does not count (R2), so submitting asks for it, saying why.
    assert set(errors) == {"impact", "feasibility"}
    assert "required" in errors["impact"]
    assert "counts toward the ranking only when every such criterion has a score" in errors["feasibility"]
    # Optional criteria outside the total can be skipped.
    extra = [*RUBRIC[:2], C("notes", 0, 1, 5, required=False), C("fit", 0, 1, 5, required=False, independent=True)]
    assert review_errors(extra, {"technical": 4, "impact": 5}, {}, submitting=True) == {}


def test_v3_comment_rules():
    always = C("a", 1, 1, 5, comment_rule="always", min_comment_chars=10)
    below = C("b", 1, 1, 5, comment_rule="below:0.25")
    extremes = C("c", 1, 1, 5, comment_rule="extremes")
    assert comment_needed(always, 3) and comment_needed(always, None)
    assert comment_needed(below, 2) and not comment_needed(below, 3)  # n(2) = 0.25 <= 0.25; n(3) = 0.5
    assert comment_needed(extremes, 1) and comment_needed(extremes, 5) and not comment_needed(extremes, 3)
    rubric = [always, below, extremes]
    errors = review_errors(rubric, {"a": 3, "b": 1, "c": 5}, {"a": "too short"}, submitting=True)
    assert set(errors) == {"comment-a", "comment-b", "comment-c"}  # the comment box is what needs fixing
    assert errors["comment-a"] == "A: the comment needs at least 10 characters (it has 9)."
    assert errors["comment-b"] == "B: add a comment explaining this score."
    assert review_errors(rubric, {"a": 3, "b": 3, "c": 3}, {"a": "long enough now"}, submitting=True) == {}
