"""challenges/markdown.py: authored Markdown renders, and nothing in it can run script."""

from html.parser import HTMLParser

import pytest

from challenges.markdown import render

SAFE_TAGS = {"div", "p", "a", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
             "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "br", "hr"}


class _Elements(HTMLParser):
    """Every real element and attribute in rendered HTML (escaped text does not count)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((k, v or "") for k, v in attrs)


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "Text <script src=https://evil.example/x.js></script> more",
    '<img src=x onerror="alert(1)">',
    '<a href="https://example.gov" onclick="alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    '<form action="https://evil.example"><input name=p></form>',
    "<details open ontoggle=alert(1)>",
])
def test_render_dangerous_input_is_inert(source):
    parsed = _Elements(str(render(source)))

    assert set(parsed.tags) <= SAFE_TAGS
    assert not {"script", "img", "iframe", "svg", "form", "input", "style"} & set(parsed.tags)
    assert not [k for k, _ in parsed.attrs if k.startswith("on") or k in ("style", "src", "action")]
    assert not [v for k, v in parsed.attrs if k == "href" and not v.startswith(("http:", "https:", "mailto:"))]


def test_render_raw_html_is_shown_as_text():
    html = str(render("Hello <b>bold</b> <script>alert(1)</script>"))

    assert "<b>" not in html and "<script>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_render_headings_nest_under_page_sections():
    html = str(render("# One\n\n## Two\n\n###### Six"))

    assert "<h3>One</h3>" in html and "<h4>Two</h4>" in html and "<h6>Six</h6>" in html
    assert "<h1>" not in html and "<h2>" not in html
    assert "<h2>One</h2>" in str(render("# One", top_level=2))


def test_render_lists_emphasis_and_code():
    html = str(render("- one\n- two\n\n1. first\n2. second\n\n**bold** *em* `code`\n\n> quoted"))

    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in html
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html and "<code>code</code>" in html
    assert "<blockquote>" in html


def test_render_links_are_kept_with_safe_rel():
    html = str(render("[site](https://example.gov/page?a=1&b=2) and [mail](mailto:help@example.gov)"))

    assert '<a href="https://example.gov/page?a=1&amp;b=2" rel="noopener noreferrer nofollow">site</a>' in html
    assert '<a href="mailto:help@example.gov" rel="noopener noreferrer nofollow">mail</a>' in html


def test_render_tables():
    html = str(render("| Prize | Amount |\n|:---|---:|\n| First | $500 |"))

    assert _Elements(html).tags == ["div", "table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert "<th>Prize</th>" in html and "<td>First</td>" in html and "<td>$500</td>" in html
    assert "style=" not in html  # alignment styles are dropped with every other inline style


def test_render_wraps_in_prose_and_handles_empty_input():
    assert str(render("text")).startswith('<div class="usa-prose"><p>text</p>')
    assert str(render(None)) == '<div class="usa-prose"></div>'
    assert str(render("")) == '<div class="usa-prose"></div>'


def test_render_result_is_markup_safe_in_templates(app):
    from flask import render_template_string

    page = render_template_string("{{ text|markdown }}", text="**hi** <script>x</script>")

    assert "<strong>hi</strong>" in page and "&lt;script&gt;" in page


def test_render_single_newlines_are_line_breaks():
    """Authors type prize lists and rules one per line; CommonMark alone would run them into one line."""
    html = str(render("1st: $500,000\n2nd: $300,000\n\nRule one.\nRule two <script>x</script>\n[link](javascript:x)"))

    assert "<p>1st: $500,000<br>\n2nd: $300,000</p>" in html
    assert "<p>Rule one.<br>\nRule two &lt;script&gt;x&lt;/script&gt;<br>\n[link](javascript:x)</p>" in html
    parsed = _Elements(html)
    assert parsed.tags.count("br") == 3 and set(parsed.tags) <= SAFE_TAGS
    assert not [v for k, v in parsed.attrs if k == "href"]  # the javascript: link is still not a link
    # A blank line still starts a new paragraph; code blocks keep their newlines without <br>.
    assert str(render("a\n\nb")).count("<p>") == 2
    assert "<pre><code>x\ny\n</code></pre>" in str(render("```\nx\ny\n```"))
