"""Rules for short, single-line text people type: names, subjects, phone numbers."""

from __future__ import annotations

import unicodedata


def one_line_problem(value: str, limit: int) -> str | None:
    """Why `value` cannot be stored as a one-line field of at most `limit` characters, or None.

    Control and invisible format characters are refused rather than stripped: a line break in a name
    would end up in email headers (where it is an error) and hidden characters can make one name look
    like another."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return "Use plain text on one line, without line breaks or hidden characters."
    if len(value) > limit:
        return f"Use at most {limit:,} characters (this has {len(value):,})."
    return None


def one_line(value: str, limit: int) -> str:
    """`value` made safe for a one-line field such as an email subject: whitespace runs (line breaks
    included) become one space, other control characters go, and it is cut to `limit` with an ellipsis."""
    text = " ".join("".join(ch for ch in value if unicodedata.category(ch) != "Cc" or ch.isspace()).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
