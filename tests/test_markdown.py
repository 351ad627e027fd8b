from html.parser import HTMLParser

import pytest

from challenges.markdown import render


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
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    "[x](vbscript:msgbox(1))",
    '<div style="background:url(javascript:alert(1))">x</div>',
])
def test_dangerous_input_is_inert(source):
    parsed = _Elements(str(render(source)))
    assert set(parsed.tags) <= {"div", "p", "a"}
    assert not [k for k, _ in parsed.attrs if k.startswith("on") or k == "style" or k == "src"]
    assert not [v for k, v in parsed.attrs if k == "href" and not v.startswith(("http", "mailto"))]


def test_ordinary_markdown_renders():
    source = "# Title\n\n- one\n- two\n\n**bold** [site](https://example.gov)\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    html = str(render(source))
    assert "<h3>Title</h3>" in html  # headings nest under the page's own sections
    assert "<li>one</li>" in html and "<strong>bold</strong>" in html
    assert '<a href="https://example.gov" rel="noopener noreferrer nofollow">site</a>' in html
    assert "<table>" in html
    assert html.startswith('<div class="usa-prose">')


def test_empty_input():
    assert str(render(None)) == '<div class="usa-prose"></div>'
