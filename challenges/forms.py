"""Authoring forms: shape and parsing only; the rules are in services.py."""

from __future__ import annotations

import math

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .models import FIELD_TYPES, PRIMARY_METHODS
from .services import (
    AGENCY_MAX_CHARS,
    AWARDS_MAX_CHARS,
    CRITERION_DESCRIPTION_MAX_CHARS,
    CRITERION_NAME_MAX_CHARS,
    DESCRIPTION_MAX_CHARS,
    FIELD_LABEL_MAX_CHARS,
    HELP_TEXT_MAX_CHARS,
    KEY_MAX_CHARS,
    KNOWN_MIME_TYPES,
    MAX_FILE_BYTES,
    MAX_WEIGHT,
    PHASE_NAME_MAX_CHARS,
    RULES_MAX_CHARS,
    SLUG_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
)
from .timezones import zone_names

MARKDOWN_HINT = "Markdown: **bold**, *italic*, lists with -, links as [text](https://…). HTML is not allowed."
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _zone_choices() -> list[tuple[str, str]]:
    common = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
              "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
              "Pacific/Guam", "UTC"]
    rest = [z for z in zone_names() if z not in common]
    return [(z, z) for z in common + rest]


class NewChallengeForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=TITLE_MAX_CHARS)])
    slug = StringField(
        "Web address (slug)",
        validators=[DataRequired("Enter a slug."), Length(max=SLUG_MAX_CHARS)],
        description="Lower-case letters, digits and hyphens, e.g. ai-health-2026. Becomes /challenges/ai-health-2026.",
    )
    agency = StringField("Agency", validators=[Optional(), Length(max=AGENCY_MAX_CHARS)])
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=SUMMARY_MAX_CHARS)],
                            description=f"One or two sentences shown in lists "
                                        f"({SUMMARY_MAX_CHARS} characters at most).")
    timezone = SelectField("Time zone", choices=_zone_choices, default="America/New_York", validate_choice=False,
                           description="Deadlines are entered and shown in this zone.")


class GeneralForm(NewChallengeForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    description_md = TextAreaField("Description", validators=[Optional(), Length(max=DESCRIPTION_MAX_CHARS)],
                                   description=MARKDOWN_HINT)


class PrizesForm(FlaskForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    prize_total = IntegerField("Total prize amount (US dollars)",
                               validators=[InputRequired("Enter the total prize amount in whole dollars.")])
    awards_md = TextAreaField("Awards", validators=[Optional(), Length(max=AWARDS_MAX_CHARS)],
                              description="Places, amounts and non-cash awards. " + MARKDOWN_HINT)


class RulesForm(FlaskForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    eligibility_md = TextAreaField("Eligibility", validators=[Optional(), Length(max=DESCRIPTION_MAX_CHARS)],
                                   description=MARKDOWN_HINT)
    rules_md = TextAreaField("Official rules", validators=[Optional(), Length(max=RULES_MAX_CHARS)],
                             description="Applicants accept this exact text; any change creates a new rules version. "
                             + MARKDOWN_HINT)


class PhaseForm(FlaskForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    key = StringField("Key", validators=[DataRequired("Enter a key, such as phase-1."), Length(max=KEY_MAX_CHARS)],
                      description="Short identifier used in exports, e.g. phase-1.")
    name = StringField("Name", validators=[DataRequired("Enter a phase name."), Length(max=PHASE_NAME_MAX_CHARS)])
    description_md = TextAreaField("What applicants submit in this phase",
                                   validators=[Optional(), Length(max=DESCRIPTION_MAX_CHARS)],
                                   description=MARKDOWN_HINT)
    opens_at = DateTimeLocalField("Opens", format=DATETIME_FORMATS,
                                  validators=[InputRequired("Enter when the phase opens, as a date and time.")])
    closes_at = DateTimeLocalField("Closes", format=DATETIME_FORMATS,
                                   validators=[InputRequired("Enter when the phase closes, as a date and time.")])
    grace_seconds = IntegerField("Grace window (seconds)", default=0,
                                 validators=[InputRequired("Enter 0 for no grace window.")],
                                 description="Submissions received this long after the close still count.")
    max_submissions_per_org = IntegerField("Applications allowed per organisation", default=1,
                                           validators=[InputRequired("Enter how many applications are allowed.")])


class FieldForm(FlaskForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    key = StringField("Key", validators=[DataRequired("Enter a key, such as summary."), Length(max=KEY_MAX_CHARS)])
    label = StringField("Question or label",
                        validators=[DataRequired("Enter a label."), Length(max=FIELD_LABEL_MAX_CHARS)])
    help_text = TextAreaField("Help text", validators=[Optional(), Length(max=HELP_TEXT_MAX_CHARS)])
    type = SelectField("Type", choices=[(t, t) for t in FIELD_TYPES], validate_choice=False)
    required = BooleanField("Required")
    max_length = IntegerField("Maximum length (characters)", validators=[Optional()],
                              description="For text, long text and URL fields.")
    options = TextAreaField("Options (one per line)", validators=[Optional()],
                            description="For select and multi-select fields.")
    accept = SelectMultipleField("Allowed file types", choices=list(KNOWN_MIME_TYPES.items()),
                                 validate_choice=False)
    # The range is services.field_errors' rule on max_bytes; its message is shown on this field.
    max_mb = FloatField("Maximum file size (MB)", validators=[Optional()],
                        description=f"For file fields. More than 0 and at most {MAX_FILE_BYTES // 1024**2:,} MB "
                                    f"({MAX_FILE_BYTES // 1024**3} GiB).")
    identifying = BooleanField("Identifies the applicant (hidden from judges in blind judging)")

    service_error_fields = {"max_bytes": "max_mb"}

    def validate_max_mb(self, field: FloatField) -> None:
        """'nan' and 'inf' parse as floats and slip past NumberRange."""
        if field.data is not None and not math.isfinite(field.data):
            raise ValidationError("Enter a number of MB, such as 25.")


class CriterionForm(FlaskForm):
    version = HiddenField()  # what the editor started from (forms_support.row_version)
    key = StringField("Key", validators=[DataRequired("Enter a key, such as quality."), Length(max=KEY_MAX_CHARS)])
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=CRITERION_NAME_MAX_CHARS)])
    description = TextAreaField("Description for judges",
                                validators=[Optional(), Length(max=CRITERION_DESCRIPTION_MAX_CHARS)])
    weight = FloatField("Weight", default=1,
                        validators=[InputRequired(f"Enter a weight from 0 to {MAX_WEIGHT:,}.")],
                        description=f"How much this criterion counts against the others, from 0 to {MAX_WEIGHT:,}.")
    scale_min = FloatField("Lowest score", default=1, validators=[InputRequired("Enter the lowest score.")])
    scale_max = FloatField("Highest score", default=5, validators=[InputRequired("Enter the highest score.")])
    step = FloatField("Step", default=1, validators=[InputRequired("Enter the step between scores, e.g. 1.")])
    anchors = TextAreaField("Anchor labels (one per line, “value: label”)", validators=[Optional()],
                            description="e.g. “1: Poor” and “5: Excellent”.")
    higher_is_better = BooleanField("Higher scores are better", default=True)
    required = BooleanField("Judges must score this criterion", default=True)
    independent = BooleanField("Independent (reported on its own, never in the total; weight becomes 0)")
    comment_rule = SelectField("Comment required", choices=[
        ("never", "Never"), ("always", "Always"), ("extremes", "For the lowest or highest score"),
        ("below", "For scores at or below a threshold")], validate_choice=False)
    comment_below = FloatField("Threshold (0 to 1 of the scale)", validators=[Optional()],
                               description="With “at or below a threshold”: 0.4 means the lowest 40 % of the scale.")
    min_comment_chars = IntegerField("Minimum comment length (characters)", default=0,
                                     validators=[InputRequired("Enter 0 for no minimum.")])

    service_error_fields = {"min": "scale_min", "max": "scale_max"}


class JudgingForm(FlaskForm):
    judges_per_entry = IntegerField("Judges per entry", validators=[InputRequired("Enter a number.")])
    quorum = IntegerField("Quorum (reviews needed for a final score)", validators=[InputRequired("Enter a number.")])
    primary_method = SelectField("Ranking method", choices=[(m, m) for m in PRIMARY_METHODS], validate_choice=False)
    blind = BooleanField("Blind judging (hide applicant identity from judges)")
    others_scores_visible = SelectField("Judges may see other judges’ scores", choices=[
        ("never", "Never"), ("after_own", "After submitting their own review"), ("always", "Always")],
        validate_choice=False)
    bids_enabled = BooleanField("Judges bid on entries before assignment")
    public_results = SelectField("After results are published, the public sees", choices=[
        ("winners", "The winners only"), ("leaderboard", "The whole leaderboard (rank, entry, score)")],
        validate_choice=False, description="Staff always see the full leaderboard; judges as set above.")


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])


class TransitionForm(FlaskForm):
    to = SelectField("New status", choices=[], validate_choice=False)
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)],
                           description="Required when moving a challenge back a step.")


class CloneForm(FlaskForm):
    title = StringField("Title of the copy", validators=[DataRequired("Enter a title."), Length(max=TITLE_MAX_CHARS)])
    slug = StringField("Slug of the copy", validators=[DataRequired("Enter a slug."), Length(max=SLUG_MAX_CHARS)])


class DeleteDraftForm(FlaskForm):
    confirm = StringField("Type the slug to confirm", validators=[DataRequired("Type the slug to confirm.")],
                          description="Deleting cannot be undone from this page; the definition is kept in the "
                                      "audit log and can be imported again.")


class ImportForm(FlaskForm):
    file = FileField("Definition file (.json)", validators=[FileRequired("Choose a JSON definition file.")])


class PublicFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=200)])
    agency = SelectField("Agency", choices=[], validate_choice=False, validators=[Optional()])
    state = SelectField("Status", choices=[("", "Any"), ("open", "Open"), ("upcoming", "Upcoming"),
                                           ("closed", "Closed")], validate_choice=False, validators=[Optional()])


def parse_anchors(text: str) -> tuple[dict[str, str], str | None]:
    """'1: Poor' lines → {'1': 'Poor'}; returns an error message for a malformed line."""
    anchors: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, label = line.partition(":")
        if not sep or not value.strip() or not label.strip():
            return {}, f"Line {number}: write anchors as “value: label”, e.g. “5: Excellent”."
        anchors[value.strip()] = label.strip()
    return anchors, None
