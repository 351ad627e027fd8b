"""Jinja filters and globals: Markdown, deadlines with their zone, money, statuses."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup, escape

from . import markdown, timezones
from .services import can_edit


def deadline(moment: datetime | None, zone: str, short: bool = False) -> Markup:
    """A time shown in the challenge's zone; site.js adds the viewer's local time beside it (or, for
    the `short` form used in table cells, as its tooltip)."""
    if moment is None:
        return Markup("—")
    iso = timezones.to_aware_utc(moment).isoformat()  # type: ignore[union-attr]
    if short:
        return Markup('<time class="js-local-time" datetime="{}" data-zone="{}" data-short="1">{}</time>').format(
            iso, zone, timezones.format_short(moment, zone))
    text = timezones.format_human(moment, zone)
    return Markup('<time class="js-local-time" datetime="{}" data-zone="{}">{}</time>').format(
        iso, zone, text
    )


def num(value: float | int | None) -> str:
    """1.0 → '1', 2.5 → '2.5': scale values read as people write them."""
    if value is None:
        return ""
    return f"{value:g}"


def money(amount: int | float | None) -> str:
    return f"${amount or 0:,.0f}"


LABELS = {
    "auto": "Automatic", "manual": "By hand", "import": "Imported", "csv": "CSV upload", "pinned": "Pinned by staff",
    "results_published": "Results published", "in_review": "In review", "not_registered": "Not registered",
    "comment_redacted": "Comment hidden",
}


def human(value: object) -> str:
    """A stored code as people read it: 'results_published' → 'Results published',
    'community.group_joined' → 'Community: group joined'. One place for every status and action label."""
    text = str(value or "")
    if text in LABELS:
        return LABELS[text]
    if "." in text:
        area, _, rest = text.partition(".")
        return f"{human(area)}: {rest.replace('_', ' ')}"
    return text.replace("_", " ").capitalize()


def file_kinds(mime_types: list[str] | None) -> str:
    """'PDF, DOCX or PPTX' for an accept list: what a vendor recognises, not MIME types."""
    from .uploads import EXTENSIONS

    kinds = list(dict.fromkeys(ext.lstrip(".").upper() for mime in mime_types or []
                               for ext in EXTENSIONS.get(mime, ())[:1]))
    if not kinds:
        return "any listed type"
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


def register_templating(app: Flask) -> None:
    from .judging.services import entry_title
    app.jinja_env.filters["markdown"] = markdown.render
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["file_kinds"] = file_kinds
    app.jinja_env.filters["human"] = human
    app.jinja_env.filters["num"] = num
    app.jinja_env.globals["deadline"] = deadline
    app.jinja_env.globals["now_utc"] = timezones.utcnow
    app.jinja_env.globals["can_edit"] = can_edit
    app.jinja_env.globals["title_of"] = entry_title
    from .judging.awards import published_award_of

    app.jinja_env.globals["award_of"] = published_award_of
    app.jinja_env.filters["local_iso"] = lambda m, zone: timezones.format_local_iso(m, zone) if m else ""
    app.jinja_env.filters["local_human"] = lambda m, zone: timezones.format_human(m, zone) if m else ""
    from .judging.statistics import METHOD_NAMES

    app.jinja_env.filters["method_name"] = lambda method: METHOD_NAMES.get(method, method)
    app.jinja_env.filters["flag_name"] = lambda flag: str(flag).replace("_", " ")
    app.jinja_env.filters["nl"] = lambda text: Markup("<br>").join(escape(text or "").split("\n"))
