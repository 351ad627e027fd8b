"""Markdown rendered safely: raw HTML is not interpreted and the output is sanitised again.

A single newline inside a paragraph is kept as a line break (`<br>`).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# breaks: a single newline is a line break, as authors expect ("1st: $500,000⏎2nd: $300,000" stays two lines);
# CommonMark alone would join the lines into one paragraph line.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}).enable("table")

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}


def render(text: str | None, *, top_level: int = 3) -> Markup:
    """HTML for display; script, event handlers and javascript: links never survive.

    Headings are shifted so a `#` heading becomes `<h{top_level}>`: authored text always nests
    under the page's own section headings, keeping the outline valid for screen readers.
    """
    tokens = _md.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(6, int(token.tag[1]) + top_level - 1)
            token.tag = f"h{level}"
    html = _md.renderer.render(tokens, _md.options, {})
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup('<div class="usa-prose">{}</div>').format(Markup(clean))  # noqa: S704 - sanitised by nh3
