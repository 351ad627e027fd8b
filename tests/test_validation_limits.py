"""Limits every path shares: rubric weights, text that goes into String(n) columns, errors that sit on
the form field they are about, and the copy form's defaults that must fit those limits.

The same rule refuses the same value whether it comes from a web form, the JSON definition import or a
direct service call; run under TEST_DATABASE_URL too, where an unchecked 300-character name is a
PostgreSQL error instead of a stored row."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from challenges import services
from challenges.definition import import_definition
from challenges.errors import ValidationFailed
from challenges.models import Challenge, Criterion
from tests.factories import make_challenge, make_definition, make_user

WEIGHT_MESSAGE = "Enter a weight from 0 to 1,000."


@pytest.fixture
def staff(app, db):
    return make_user(email="limits-staff@example.gov", roles=("staff",))


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _import_errors(db, staff, data) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        import_definition(actor=staff, data=data)
    db.session.rollback()
    assert _count(db, Challenge) == 0
    return err.value.errors


class _Page(HTMLParser):
    """Attributes of every element with an id, the text of each error span, and the summary's links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.span_text: dict[str, str] = {}
        self.links: list[tuple[str, str]] = []
        self._span: str | None = None
        self._link: str | None = None
        self._link_text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if "id" in attributes:
            self.by_id[attributes["id"]] = attributes
        if tag == "span" and "id" in attributes:
            self._span = attributes["id"]
            self.span_text[self._span] = ""
        if tag == "a" and attributes.get("href", "").startswith("#"):
            self._link, self._link_text = attributes["href"][1:], ""

    def handle_endtag(self, tag):
        if tag == "span":
            self._span = None
        if tag == "a" and self._link is not None:
            self.links.append((self._link, self._link_text))
            self._link = None

    def handle_data(self, data):
        if self._span:
            self.span_text[self._span] += data
        if self._link is not None:
            self._link_text += data


def _assert_error_on_field(page_text: str, field_id: str, message: str) -> None:
    """The message is beside the input (aria-invalid, described by the message) and the summary links to it."""
    page = _Page(page_text)
    assert page.by_id[field_id].get("aria-invalid") == "true", page.by_id.get(field_id)
    assert f"{field_id}-error" in page.by_id[field_id].get("aria-describedby", "").split()
    assert message in page.span_text[f"{field_id}-error"]
    assert any(target == field_id and message in text for target, text in page.links), page.links


# --- 1. rubric weights ------------------------------------------------------------------------

CRITERION = {"key": "extra", "name": "Extra", "weight": 1.0, "scale_min": 1.0, "scale_max": 5.0, "step": 1.0}


@pytest.mark.parametrize("weight", [1e308, 1000.001, 10_000.0, math.inf, -math.inf, math.nan, -1.0, None])
def test_save_criterion_weight_outside_0_to_1000_refused_in_plain_words(staff, db, weight):
    phase = make_challenge(author=staff).phases[0]

    with pytest.raises(ValidationFailed) as err:
        services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "weight": weight})

    assert err.value.errors == {"weight": WEIGHT_MESSAGE}
    assert _count(db, Criterion) == 2


@pytest.mark.parametrize("weight", [0.0, 0.5, 1000.0])
def test_save_criterion_weight_bounds_accepted(staff, db, weight):
    phase = make_challenge(author=staff).phases[0]

    services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "weight": weight})
    db.session.commit()

    assert db.session.execute(select(Criterion.weight).where(Criterion.key == "extra")).scalar_one() == weight


def test_import_two_huge_weights_refused_with_path_named_errors(db, staff):
    data = make_definition()
    for criterion in data["phases"][0]["rubric"]["criteria"]:
        criterion["weight"] = 1e308

    errors = _import_errors(db, staff, data)

    assert errors == {"phases[0].rubric.criteria[0].weight": WEIGHT_MESSAGE,
                      "phases[0].rubric.criteria[1].weight": WEIGHT_MESSAGE}


@pytest.mark.parametrize("literal", ["Infinity", "NaN", "1e400"])
def test_import_non_finite_weight_refused_in_plain_words(db, staff, literal):
    # Python's JSON reader accepts Infinity and NaN, and 1e400 reads as infinity.
    text = json.dumps(make_definition()).replace('"weight": 3', f'"weight": {literal}')
    assert literal in text

    assert _import_errors(db, staff, text) == {"phases[0].rubric.criteria[0].weight": WEIGHT_MESSAGE}


def test_rubric_form_huge_weight_refused_on_the_weight_field(client, db, login_as):
    challenge = make_challenge(slug="weights")
    phase = challenge.phases[0]
    login_as("staff")

    page = client.post(f"/staff/challenges/weights/phases/{phase.id}/rubric", data={
        "key": "huge", "name": "Huge", "weight": "1e308", "scale_min": "1", "scale_max": "5", "step": "1",
        "comment_rule": "never", "min_comment_chars": "0"})

    assert page.status_code == 400
    _assert_error_on_field(page.text, "weight", WEIGHT_MESSAGE)
    assert _count(db, Criterion) == 2
    rubric = client.get(f"/staff/challenges/weights/phases/{phase.id}/rubric").text
    assert "Total weight of counted criteria: <strong>5</strong>" in rubric  # 3 + 2, the huge one refused
