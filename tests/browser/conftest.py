"""Browser tests: a live server thread, Debian's Chromium through Playwright, axe on every page.

Skipped when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (CI), which makes that a
failure. `browse` gives a helper whose `visit`/`after_navigation` run axe-core (WCAG 2.1 A/AA)
and fail on any violation or any Content-Security-Policy error in the console.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test app served on a free loopback port, with CSRF switched on as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class Browse:
    """One browser context (one person); every page it lands on is checked with axe."""

    def __init__(self, browser, base_url: str) -> None:
        self.context = browser.new_context(base_url=base_url)
        self.page = self.context.new_page()
        self.csp_errors: list[str] = []
        self.checked: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def visit(self, path: str):
        self.page.goto(path)
        self.after_navigation()
        return self.page

    def after_navigation(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state("load")
        results = Axe().run(self.page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        assert results.violations_count == 0, f"{self.page.url}\n{results.generate_report()}"
        assert not self.csp_errors, f"CSP errors on {self.page.url}: {self.csp_errors}"
        self.checked.append(self.page.url)

    def submit(self, button_name: str) -> None:
        """Click a submit button and check the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button_name, exact=True).click()
        self.after_navigation()

    def tick(self, label: str) -> None:
        """Tick a USWDS checkbox the way a person does: by clicking its visible label."""
        self.page.locator("label.usa-checkbox__label", has_text=label).first.click()

    def sign_in(self, email: str, password: str) -> None:
        self.visit("/account/sign-in")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.submit("Sign in")

    def register(self, smtp_sink, *, name: str, email: str, password: str) -> None:
        """Create an account through the pages and confirm it through the emailed link, as a person does."""
        self.visit("/account/register")
        self.page.get_by_label("Full name").fill(name)
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password", exact=False).first.fill(password)
        self.page.get_by_label("Type the password again").fill(password)
        already = len(smtp_sink.messages)
        self.submit("Create account")
        smtp_sink.wait_for(already + 1)
        self.visit(path_of_emailed_link(smtp_sink.messages[-1]))
        self.submit("Confirm my email")
        assert "is confirmed" in self.page.content()

    def close(self) -> None:
        self.context.close()


def path_of_emailed_link(message) -> str:
    """Links in mail come from SITE_URL; the path is followed on the live server."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+", body)
    assert match, body
    return "/" + match.group(0).split("/", 3)[3]


@pytest.fixture
def browse(browser, live_server):
    opened: list[Browse] = []

    def open_context() -> Browse:
        person = Browse(browser, live_server)
        opened.append(person)
        return person

    yield open_context
    for person in opened:
        person.close()
