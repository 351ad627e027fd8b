"""Challenge definitions as JSON: export, validate, import.

Pydantic checks the shape (unknown keys, types, required keys); the rules about values come from
services.py, the same functions the web forms use, so a definition and a form refuse the same
things with the same words. Errors name their JSON path: `phases[0].rubric.criteria[1].weight`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from . import services
from .accounts.models import User
from .errors import ValidationFailed
from .extensions import db
from .models import Challenge
from .timezones import TimezoneError, format_local_iso, local_to_utc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FieldDef(_Strict):
    key: str
    label: str
    type: str
    help: str = Field("", max_length=services.HELP_TEXT_MAX_CHARS)
    required: bool = False
    max_length: int | None = None
    options: list[str] = Field(default_factory=list)
    accept: list[str] = Field(default_factory=list)
    max_bytes: int | None = None
    identifying: bool = False


class CriterionDef(_Strict):
    key: str
    name: str
    description: str = Field("", max_length=services.CRITERION_DESCRIPTION_MAX_CHARS)
    weight: float = 1
    min: float
    max: float
    step: float = 1
    anchors: dict[str, str] = Field(default_factory=dict)
    higher_is_better: bool = True
    required: bool = True
    independent: bool = False
    comment_rule: str = "never"
    min_comment_chars: int = 0


class RubricDef(_Strict):
    criteria: list[CriterionDef] = Field(default_factory=list)


class JudgingDef(_Strict):
    judges_per_entry: int = 3
    quorum: int = 2
    primary_method: str = "mean"
    blind: bool = False
    others_scores_visible: str = "never"
    bids_enabled: bool = False
    public_results: str = "winners"


class PhaseDef(_Strict):
    key: str
    name: str
    description: str = Field("", max_length=services.DESCRIPTION_MAX_CHARS)
    opens_at: str
    closes_at: str
    grace_seconds: int = 0
    max_submissions_per_org: int = 1
    fields: list[FieldDef] = Field(default_factory=list)
    rubric: RubricDef = Field(default_factory=RubricDef)
    judging: JudgingDef = Field(default_factory=JudgingDef)


class Definition(_Strict):
    slug: str
    title: str
    agency: str = ""
    summary: str = ""
    description: str = Field("", max_length=services.DESCRIPTION_MAX_CHARS)
    prize_total: int = 0
    awards: str = Field("", max_length=services.AWARDS_MAX_CHARS)
    eligibility: str = Field("", max_length=services.DESCRIPTION_MAX_CHARS)
    rules: str = Field("", max_length=services.RULES_MAX_CHARS)
    timezone: str = "America/New_York"
    phases: list[PhaseDef] = Field(default_factory=list)


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _pydantic_message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "is required"
    return error["msg"][0].lower() + error["msg"][1:]


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def parse(raw: str | bytes | dict[str, Any]) -> Definition:
    """Shape-check a definition; raises ValidationFailed with path-named errors."""
    if not isinstance(raw, dict):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed("The file is not valid JSON.", {"(root)": f"not valid JSON: {exc}"}) from exc
    if not isinstance(raw, dict):
        raise ValidationFailed("A definition must be a JSON object.", {"(root)": "must be a JSON object"})
    try:
        return Definition.model_validate(raw)
    except PydanticError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            errors.setdefault(_path(tuple(error["loc"])), _pydantic_message(error))
        raise ValidationFailed("The definition has errors.", errors) from exc


def validate(definition: Definition) -> dict[str, str]:
    """Every value rule, with JSON paths; empty when the definition can be built."""
    errors: dict[str, str] = {}
    general = services._general_errors(
        title=definition.title, slug=definition.slug, agency=definition.agency, summary=definition.summary,
        timezone=definition.timezone, exclude_id=None,
    )
    errors.update(general)
    if definition.prize_total < 0:
        errors["prize_total"] = "must be >= 0"
    zone_ok = "timezone" not in general
    built: list[tuple[str, str, datetime, datetime]] = []
    for i, phase in enumerate(definition.phases):
        prefix = f"phases[{i}]"
        times: dict[str, datetime | None] = {}
        for name in ("opens_at", "closes_at"):
            text = getattr(phase, name)
            try:
                times[name] = local_to_utc(datetime.fromisoformat(text), definition.timezone) if zone_ok else None
            except ValueError as exc:
                message = (str(exc) if isinstance(exc, TimezoneError)
                           else f"“{text}” is not a date like 2026-01-05T09:00")
                errors[f"{prefix}.{name}"] = message
                times[name] = None
        phase_problems = services.phase_errors(
            key=phase.key, name=phase.name, opens=times["opens_at"], closes=times["closes_at"],
            grace_seconds=phase.grace_seconds, max_submissions_per_org=phase.max_submissions_per_org,
            others=built,
        )
        errors.update({f"{prefix}.{k}": v for k, v in phase_problems.items()})
        if times["opens_at"] and times["closes_at"]:
            built.append((phase.key, phase.name, times["opens_at"],
                          times["closes_at"] + timedelta(seconds=max(phase.grace_seconds, 0))))
        keys: list[str] = []
        for j, field in enumerate(phase.fields):
            problems = services.field_errors(
                key=field.key, label=field.label, type=field.type, max_length=field.max_length,
                options=field.options, accept=field.accept, max_bytes=field.max_bytes, taken_keys=keys,
            )
            errors.update({f"{prefix}.fields[{j}].{k}": v for k, v in problems.items()})
            keys.append(field.key)
        keys = []
        for j, crit in enumerate(phase.rubric.criteria):
            weight = 0.0 if crit.independent else crit.weight
            problems = services.criterion_errors(
                key=crit.key, name=crit.name, weight=weight, scale_min=crit.min, scale_max=crit.max,
                step=crit.step, anchors=crit.anchors, comment_rule=crit.comment_rule,
                min_comment_chars=crit.min_comment_chars, taken_keys=keys,
            )
            errors.update({f"{prefix}.rubric.criteria[{j}].{k}": v for k, v in problems.items()})
            keys.append(crit.key)
        rubric_problem = services.rubric_errors(
            [{"weight": c.weight, "independent": c.independent} for c in phase.rubric.criteria]
        )
        if rubric_problem:
            errors[f"{prefix}.rubric.criteria"] = rubric_problem
        judging = phase.judging
        problems = _judging_errors(judging)
        errors.update({f"{prefix}.judging.{k}": v for k, v in problems.items()})
    return errors


def _judging_errors(judging: JudgingDef) -> dict[str, str]:
    from .models import PRIMARY_METHODS, PUBLIC_RESULTS, SCORE_VISIBILITY

    errors: dict[str, str] = {}
    if not 1 <= judging.judges_per_entry <= 50:
        errors["judges_per_entry"] = "must be between 1 and 50"
    if judging.quorum < 1 or judging.quorum > judging.judges_per_entry:
        errors["quorum"] = "must be between 1 and judges_per_entry"
    if judging.primary_method not in PRIMARY_METHODS:
        errors["primary_method"] = "must be one of " + ", ".join(PRIMARY_METHODS)
    if judging.others_scores_visible not in SCORE_VISIBILITY:
        errors["others_scores_visible"] = "must be one of " + ", ".join(SCORE_VISIBILITY)
    if judging.public_results not in PUBLIC_RESULTS:
        errors["public_results"] = "must be one of " + ", ".join(PUBLIC_RESULTS)
    return errors


def build_from_definition(*, actor: User, data: dict[str, Any] | str | bytes) -> Challenge:
    """Create a draft challenge from a definition, or change nothing and raise."""
    definition = parse(data)
    errors = validate(definition)
    if errors:
        raise ValidationFailed("The definition has errors.", errors)
    challenge = services.create_challenge(
        actor=actor, title=definition.title, slug=definition.slug, agency=definition.agency,
        summary=definition.summary, timezone=definition.timezone,
    )
    challenge.description_md = definition.description
    services.update_prizes(actor=actor, challenge=challenge, prize_total=definition.prize_total,
                           awards_md=definition.awards)
    services.update_rules(actor=actor, challenge=challenge, eligibility_md=definition.eligibility,
                          rules_md=definition.rules)
    for phase_def in definition.phases:
        phase = services.save_phase(
            actor=actor, challenge=challenge, key=phase_def.key, name=phase_def.name,
            description_md=phase_def.description,
            opens_local=datetime.fromisoformat(phase_def.opens_at),
            closes_local=datetime.fromisoformat(phase_def.closes_at),
            grace_seconds=phase_def.grace_seconds,
            max_submissions_per_org=phase_def.max_submissions_per_org,
        )
        for field in phase_def.fields:
            services.save_field(
                actor=actor, phase=phase, key=field.key, label=field.label, type=field.type,
                help_text=field.help, required=field.required, max_length=field.max_length,
                options=field.options, accept=field.accept, max_bytes=field.max_bytes,
                identifying=field.identifying,
            )
        # Weighted criteria first so the rubric is valid after every single save.
        ordered = sorted(enumerate(phase_def.rubric.criteria),
                         key=lambda pair: (pair[1].independent or pair[1].weight <= 0, pair[0]))
        for position, crit in ordered:
            criterion = services.save_criterion(
                actor=actor, phase=phase, key=crit.key, name=crit.name, description=crit.description,
                weight=crit.weight, scale_min=crit.min, scale_max=crit.max, step=crit.step,
                anchors=crit.anchors, higher_is_better=crit.higher_is_better, required=crit.required,
                independent=crit.independent, comment_rule=crit.comment_rule,
                min_comment_chars=crit.min_comment_chars,
            )
            criterion.order = position + 1
        j = phase_def.judging
        services.save_judging(
            actor=actor, phase=phase, judges_per_entry=j.judges_per_entry, quorum=j.quorum,
            primary_method=j.primary_method, blind=j.blind,
            others_scores_visible=j.others_scores_visible, bids_enabled=j.bids_enabled,
            public_results=j.public_results,
        )
    db.session.flush()
    return challenge


def import_definition(*, actor: User, data: dict[str, Any] | str | bytes, publish: bool = False) -> Challenge:
    """Import as a draft; with `publish`, the system user approves it (it must be complete)."""
    from .accounts.services import get_system_user

    challenge = build_from_definition(actor=actor, data=data)
    if publish:
        system = get_system_user()
        services.submit_for_review(actor=actor, challenge=challenge, note="Imported from a definition file.")
        services.approve_and_publish(actor=system, challenge=challenge)
    return challenge


def export_definition(challenge: Challenge) -> dict[str, Any]:
    """The definition that, imported under another slug, recreates this challenge."""
    zone = challenge.timezone
    phases = []
    for phase in challenge.phases:
        rubric = phase.rubric
        phases.append({
            "key": phase.key,
            "name": phase.name,
            "description": phase.description_md,
            "opens_at": format_local_iso(phase.opens_at, zone, exact=True),
            "closes_at": format_local_iso(phase.closes_at, zone, exact=True),
            "grace_seconds": phase.grace_seconds,
            "max_submissions_per_org": phase.max_submissions_per_org,
            "fields": [
                {
                    "key": f.key, "label": f.label, "type": f.type, "help": f.help_text,
                    "required": f.required, "max_length": f.max_length, "options": list(f.options or []),
                    "accept": list(f.accept or []), "max_bytes": f.max_bytes, "identifying": f.identifying,
                }
                for f in phase.fields
            ],
            "rubric": {
                "criteria": [
                    {
                        "key": c.key, "name": c.name, "description": c.description,
                        "weight": _number(c.weight), "min": _number(c.scale_min),
                        "max": _number(c.scale_max), "step": _number(c.step),
                        "anchors": dict(c.anchors or {}), "higher_is_better": c.higher_is_better,
                        "required": c.required, "independent": c.independent,
                        "comment_rule": c.comment_rule, "min_comment_chars": c.min_comment_chars,
                    }
                    for c in (rubric.criteria if rubric else [])
                ]
            },
            "judging": {
                "judges_per_entry": phase.judges_per_entry, "quorum": phase.quorum,
                "primary_method": phase.primary_method, "blind": phase.blind,
                "others_scores_visible": phase.others_scores_visible, "bids_enabled": phase.bids_enabled,
                "public_results": phase.public_results,
            },
        })
    return {
        "slug": challenge.slug,
        "title": challenge.title,
        "agency": challenge.agency,
        "summary": challenge.summary,
        "description": challenge.description_md,
        "prize_total": challenge.prize_total,
        "awards": challenge.awards_md,
        "eligibility": challenge.eligibility_md,
        "rules": challenge.rules_md,
        "timezone": challenge.timezone,
        "phases": phases,
    }
