"""Limits every path shares: rubric weights, text that goes into String(n) columns, errors that sit on
the form field they are about, and the copy form's defaults that must fit those limits.

The same rule refuses the same value whether it comes from a web form, the JSON definition import or a
direct service call; run under TEST_DATABASE_URL too, where an unchecked 300-character name is a
PostgreSQL error instead of a stored row."""

from __future__ import annotations

import html
import io
import json
import math
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from challenges import services
from challenges.definition import import_definition
from challenges.errors import ValidationFailed
from challenges.forms import CloneForm, CriterionForm, FieldForm, NewChallengeForm, PhaseForm
from challenges.models import Challenge, Criterion, FormField, Phase
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


# --- 2. text lengths come from the columns ----------------------------------------------------

LONG = "x" * 300


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.update(agency=LONG), "agency"),
    (lambda d: d["phases"][0].update(name=LONG), "phases[0].name"),
    (lambda d: d["phases"][0]["fields"][0].update(label=LONG), "phases[0].fields[0].label"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(name=LONG), "phases[0].rubric.criteria[0].name"),
])
def test_import_text_longer_than_its_column_refused_by_path(db, staff, mutate, path):
    data = make_definition()
    mutate(data)

    errors = _import_errors(db, staff, data)

    assert errors == {path: errors[path]}
    assert "200 characters or fewer" in errors[path]


def test_import_comment_rule_longer_than_its_column_refused(db, staff):
    data = make_definition()
    data["phases"][0]["rubric"]["criteria"][0]["comment_rule"] = "below:0." + "1" * 30  # matches the pattern

    errors = _import_errors(db, staff, data)

    assert list(errors) == ["phases[0].rubric.criteria[0].comment_rule"]


def test_import_text_at_its_column_length_is_stored(db, staff):
    data = make_definition(agency="a" * 200)
    data["phases"][0]["name"] = "p" * 200
    data["phases"][0]["fields"][0]["label"] = "l" * 200
    data["phases"][0]["rubric"]["criteria"][0]["name"] = "c" * 200
    data["phases"][0]["rubric"]["criteria"][0]["comment_rule"] = "below:0." + "5" * 22  # 30 characters

    import_definition(actor=staff, data=data)
    db.session.commit()
    db.session.expire_all()

    challenge = db.session.execute(select(Challenge)).scalar_one()
    phase = challenge.phases[0]
    assert (len(challenge.agency), len(phase.name), len(phase.fields[0].label),
            len(phase.rubric.criteria[0].name), len(phase.rubric.criteria[0].comment_rule)) == (200, 200, 200, 200, 30)


def test_import_over_http_long_agency_is_a_400_naming_the_path(client, db, login_as):
    login_as("staff")
    body = json.dumps(make_definition(slug="long-agency", agency=LONG)).encode()

    page = client.post("/staff/challenges/import", data={"file": (io.BytesIO(body), "def.json")},
                       content_type="multipart/form-data")

    assert page.status_code == 400
    assert "agency: Keep the agency to 200 characters or fewer." in html.unescape(page.text)
    assert _count(db, Challenge) == 0


def test_services_refuse_text_longer_than_its_column(staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    long = "y" * 201
    calls = {
        "agency (create)": lambda: services.create_challenge(actor=staff, title="T", slug="other-one", agency=long),
        "agency (update)": lambda: services.update_general(
            actor=staff, challenge=challenge, title=challenge.title, slug=challenge.slug, agency=long,
            summary=challenge.summary, description_md="", timezone=challenge.timezone),
        "name (phase)": lambda: services.save_phase(
            actor=staff, challenge=challenge, phase=phase, key=phase.key, name=long,
            opens_local=phase.opens_at.replace(tzinfo=None), closes_local=phase.closes_at.replace(tzinfo=None)),
        "label (field)": lambda: services.save_field(actor=staff, phase=phase, key="more", label=long, type="text"),
        "name (criterion)": lambda: services.save_criterion(actor=staff, phase=phase, **{**CRITERION, "name": long}),
    }
    refused = {}
    for what, call in calls.items():
        with pytest.raises(ValidationFailed) as err:
            call()
        db.session.rollback()
        refused[what] = err.value.errors

    assert refused == {
        "agency (create)": {"agency": "Keep the agency to 200 characters or fewer."},
        "agency (update)": {"agency": "Keep the agency to 200 characters or fewer."},
        "name (phase)": {"name": "Keep the phase name to 200 characters or fewer."},
        "label (field)": {"label": "Keep the label to 200 characters or fewer."},
        "name (criterion)": {"name": "Keep the criterion name to 200 characters or fewer."},
    }
    assert _count(db, Challenge) == 1 and _count(db, FormField) == 2 and _count(db, Criterion) == 2


@pytest.mark.parametrize(("form", "field", "column"), [
    (NewChallengeForm, "title", Challenge.__table__.c.title),
    (NewChallengeForm, "slug", Challenge.__table__.c.slug),
    (NewChallengeForm, "agency", Challenge.__table__.c.agency),
    (NewChallengeForm, "summary", Challenge.__table__.c.summary),
    (CloneForm, "title", Challenge.__table__.c.title),
    (CloneForm, "slug", Challenge.__table__.c.slug),
    (PhaseForm, "key", Phase.__table__.c.key),
    (PhaseForm, "name", Phase.__table__.c.name),
    (FieldForm, "key", FormField.__table__.c.key),
    (FieldForm, "label", FormField.__table__.c.label),
    (CriterionForm, "key", Criterion.__table__.c.key),
    (CriterionForm, "name", Criterion.__table__.c.name),
])
def test_web_form_length_limits_are_the_column_lengths(form, field, column):
    unbound = getattr(form, field)
    limits = [v.max for v in unbound.kwargs["validators"] if hasattr(v, "max") and hasattr(v, "min")]
    assert limits == [column.type.length]


# --- 3. each service error sits on its form field ---------------------------------------------


@pytest.mark.parametrize("raw", ["0", "", "6000"])
def test_file_size_error_sits_on_the_megabytes_field(client, db, login_as, raw):
    challenge = make_challenge(slug="file-size")
    login_as("staff")

    page = client.post(f"/staff/challenges/file-size/phases/{challenge.phases[0].id}/form", data={
        "key": "video", "label": "Video", "type": "file", "accept": ["video/mp4"], "max_mb": raw})

    assert page.status_code == 400
    _assert_error_on_field(page.text, "max_mb", "Set a maximum file size between 1 byte and 5 GiB.")
    assert _count(db, FormField) == 2


def test_file_size_hint_matches_the_rule(client, db, login_as):
    challenge = make_challenge(slug="file-hint")
    login_as("staff")

    page = client.get(f"/staff/challenges/file-hint/phases/{challenge.phases[0].id}/form")

    hint = _Page(page.text)
    assert "max_mb-hint" in hint.by_id["max_mb"]["aria-describedby"].split()
    text = html.unescape(page.text)
    assert "More than 0 and at most 5,120 MB (5 GiB)." in text
    assert "Enter 0 to" not in text


def test_file_size_within_the_hint_is_stored(client, db, login_as):
    challenge = make_challenge(slug="file-ok")
    login_as("staff")

    page = client.post(f"/staff/challenges/file-ok/phases/{challenge.phases[0].id}/form", data={
        "key": "video", "label": "Video", "type": "file", "accept": ["video/mp4"], "max_mb": "5120"})

    assert page.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(FormField.max_bytes).where(FormField.key == "video")).scalar_one() == 5 * 1024**3


@pytest.mark.parametrize(("data", "field_id", "message"), [
    ({"scale_min": "5", "scale_max": "5"}, "scale_max", "The scale maximum must be greater than its minimum."),
    ({"scale_min": "nan"}, "scale_min", "Enter a number."),
    ({"scale_max": "inf"}, "scale_max", "Enter a number."),
])
def test_rubric_scale_errors_sit_on_their_fields(client, db, login_as, data, field_id, message):
    challenge = make_challenge(slug="scales")
    phase = challenge.phases[0]
    login_as("staff")
    form = {"key": "scale", "name": "Scale", "weight": "1", "scale_min": "1", "scale_max": "5", "step": "1",
            "comment_rule": "never", "min_comment_chars": "0", **data}

    added = client.post(f"/staff/challenges/scales/phases/{phase.id}/rubric", data=form)
    edited = client.post(f"/staff/challenges/scales/phases/{phase.id}/rubric/{phase.rubric.criteria[0].id}",
                         data=dict(form, key="quality"))

    assert (added.status_code, edited.status_code) == (400, 400)
    _assert_error_on_field(added.text, field_id, message)
    _assert_error_on_field(edited.text, field_id, message)


def test_copy_form_errors_sit_on_their_fields(client, db, login_as):
    make_challenge(slug="copied")
    login_as("staff")

    page = client.post("/staff/challenges/copied/clone", data={"title": "Again", "slug": "copied"})

    assert page.status_code == 400
    _assert_error_on_field(page.text, "slug", "The slug “copied” is already used by another challenge.")
    assert _count(db, Challenge) == 1


# --- 4. the copy form's defaults fit ----------------------------------------------------------


def test_copy_form_defaults_fit_for_the_longest_title_and_slug(client, db, login_as):
    title, slug = "T" * 200, "s" * 80
    make_challenge(slug=slug, title=title)
    login_as("staff")

    page = _Page(client.get(f"/staff/challenges/{slug}").text)
    suggested_title = html.unescape(page.by_id["title"]["value"])
    suggested_slug = page.by_id["slug"]["value"]

    assert suggested_title.startswith("Copy of TTT") and len(suggested_title) == 200
    assert suggested_slug.endswith("-copy") and len(suggested_slug) == 80
    response = client.post(f"/staff/challenges/{slug}/clone", data={"title": suggested_title, "slug": suggested_slug})
    assert response.status_code == 302
    assert _count(db, Challenge) == 2


def test_copy_form_defaults_for_a_short_title_are_unchanged(client, db, login_as):
    make_challenge(slug="short", title="Short")
    login_as("staff")

    page = _Page(client.get("/staff/challenges/short").text)

    assert (page.by_id["title"]["value"], page.by_id["slug"]["value"]) == ("Copy of Short", "short-copy")


def test_copy_defaults_never_leave_a_double_hyphen_in_the_slug(staff, db):
    original = make_challenge(author=staff, slug="a" * 74 + "-bbbbb", title="Short")  # cut falls after the hyphen

    suggested = services.copy_defaults(original)
    copy = services.clone_challenge(actor=staff, challenge=original, **suggested)

    assert (copy.slug, copy.title) == ("a" * 74 + "-copy", "Copy of Short")


@pytest.mark.parametrize(("field", "value", "key"), [("scale_min", -1e308, "min"), ("scale_max", 1e308, "max"),
                                                     ("scale_max", 1_000_001.0, "max")])
def test_save_criterion_scale_beyond_a_million_refused(staff, db, field, value, key):
    """Weighted totals of scores must stay finite: a scale of ±1e308 made them infinite."""
    phase = make_challenge(author=staff).phases[0]

    with pytest.raises(ValidationFailed) as err:
        services.save_criterion(actor=staff, phase=phase, **{**CRITERION, field: value, "step": 1.0})

    assert err.value.errors[key] == "Use a number from −1,000,000 to 1,000,000."
    assert _count(db, Criterion) == 2


def test_import_of_a_huge_scale_names_the_path(staff, db):
    data = make_definition(slug="huge-scale")
    data["phases"][0]["rubric"]["criteria"][0].update(min=-1e308, max=1e308)
    errors = _import_errors(db, staff, data)
    assert errors["phases[0].rubric.criteria[0].min"] == "Use a number from −1,000,000 to 1,000,000."
    assert errors["phases[0].rubric.criteria[0].max"] == "Use a number from −1,000,000 to 1,000,000."


def test_scale_of_a_million_either_side_is_stored(staff, db):
    phase = make_challenge(author=staff).phases[0]
    services.save_criterion(actor=staff, phase=phase,
                            **{**CRITERION, "scale_min": -1_000_000.0, "scale_max": 1_000_000.0, "step": 1.0})
    db.session.commit()
    assert db.session.execute(select(Criterion.scale_max).where(Criterion.key == "extra")).scalar_one() == 1e6


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda d: d.update(description="x" * 100_001), "description"),
    (lambda d: d.update(rules="x" * 200_001), "rules"),
    (lambda d: d.update(awards="x" * 50_001), "awards"),
    (lambda d: d["phases"][0].update(description="x" * 100_001), "phases[0].description"),
    (lambda d: d["phases"][0]["fields"][0].update(help="x" * 2_001), "phases[0].fields[0].help"),
    (lambda d: d["phases"][0]["rubric"]["criteria"][0].update(description="x" * 5_001),
     "phases[0].rubric.criteria[0].description"),
])
def test_import_long_texts_are_held_to_the_web_forms_limits(db, staff, mutate, path):
    """The same limits as the web forms (services.*_MAX_CHARS), named by path, nothing created."""
    data = make_definition(slug="long-texts")
    mutate(data)
    errors = _import_errors(db, staff, data)
    assert path in errors and "at most" in errors[path]
