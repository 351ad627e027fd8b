"""One review's arithmetic and validation (SCORING.md sections 1 and 2). Pure: criteria are read
through their attributes, so the same rules serve the judge's form, the CSV import and the tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol


class CriterionLike(Protocol):
    key: str
    name: str
    weight: float
    scale_min: float
    scale_max: float
    step: float
    higher_is_better: bool
    required: bool
    independent: bool
    comment_rule: str
    min_comment_chars: int


@dataclass(frozen=True)
class ReviewTotal:
    total: float | None  # 0..100, None when no weighted criterion has a value
    coverage: float  # share of the weight that was scored


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def normalised(criterion: CriterionLike, value: float) -> float:
    span = criterion.scale_max - criterion.scale_min
    n = (value - criterion.scale_min) / span if span else 0.0
    return n if criterion.higher_is_better else 1 - n


def review_total(criteria: Iterable[CriterionLike], values: Mapping[str, float | None]) -> ReviewTotal:
    """T = 100 * sum(w n) / sum(w) over the scored, non-independent criteria. A missing value is never 0."""
    weighted = [c for c in criteria if not c.independent]
    scored = [c for c in weighted if values.get(c.key) is not None]
    all_weight = sum(c.weight for c in weighted)
    weight = sum(c.weight for c in scored)
    if weight <= 0:
        return ReviewTotal(None, 0.0)
    total = 100 * sum(c.weight * normalised(c, float(values[c.key])) for c in scored) / weight  # type: ignore[arg-type]
    return ReviewTotal(total, weight / all_weight if all_weight else 0.0)


def parse_value(raw: Any) -> float | None:
    """'' and None mean 'not scored'; anything else must be a number (ValueError otherwise)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise ValueError("Enter a number.") from exc
    if not number.is_finite():
        raise ValueError("Enter a number.")
    return float(number)


def value_error(criterion: CriterionLike, value: float) -> str | None:
    """V1: within [min, max] and on the step grid (decimal arithmetic, so 0.1 steps work)."""
    low, high = criterion.scale_min, criterion.scale_max
    if value < low or value > high:
        return f"{criterion.name}: {_fmt(value)} is outside the scale; enter a score from {_fmt(low)} to {_fmt(high)}."
    step = _dec(criterion.step)
    if step > 0 and (_dec(value) - _dec(low)) % step != 0:
        grid = "a whole number" if step == 1 and _dec(low) % 1 == 0 else \
            f"a score in steps of {_fmt(criterion.step)} ({_fmt(low)}, {_fmt(low + criterion.step)}, …)"
        return f"{criterion.name}: {_fmt(value)} is not on the scale; enter {grid} from {_fmt(low)} to {_fmt(high)}."
    return None


def comment_needed(criterion: CriterionLike, value: float | None) -> bool:
    """V3: always | below:<normalised v> | extremes | never."""
    rule = (criterion.comment_rule or "never").strip()
    if rule == "always":
        return True
    if value is None:
        return False
    if rule.startswith("below:"):
        return normalised(criterion, value) <= float(rule.split(":", 1)[1])
    if rule == "extremes":
        return value in (criterion.scale_min, criterion.scale_max)
    return False


def must_score(criterion: CriterionLike) -> bool:
    """Required, or part of the total. A review that skips a weighted criterion has coverage below 1
    and would not count (SCORING.md section 2, min_coverage 1.0), so it cannot be submitted that way:
    'optional' only lets a judge skip criteria outside the total."""
    return bool(criterion.required) or (not criterion.independent and float(criterion.weight or 0) > 0)


def review_errors(criteria: Iterable[CriterionLike], values: Mapping[str, float | None],
                  comments: Mapping[str, str], *, submitting: bool) -> dict[str, str]:
    """Errors keyed by criterion key, or `comment-<key>` when the comment is what needs fixing (so the
    form marks the comment box, not the score). A draft is checked for V1 only; submitting adds V2 and V3."""
    errors: dict[str, str] = {}
    for criterion in criteria:
        value = values.get(criterion.key)
        if value is not None:
            problem = value_error(criterion, value)
            if problem:
                errors[criterion.key] = problem
                continue
        if not submitting:
            continue
        if value is None and must_score(criterion):
            errors[criterion.key] = (f"Score {criterion.name}: it is required." if criterion.required else
                                     f"Score {criterion.name}: it counts toward the total, and a review "
                                     "counts toward the ranking only when every such criterion has a score.")
            continue
        comment = (comments.get(criterion.key) or "").strip()
        if comment_needed(criterion, value):
            needed = max(criterion.min_comment_chars or 0, 1)
            if len(comment) < needed:
                errors[f"comment-{criterion.key}"] = (
                    f"{criterion.name}: add a comment explaining this score." if needed == 1
                    else f"{criterion.name}: the comment needs at least {needed} characters (it has {len(comment)}).")
    return errors


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"
