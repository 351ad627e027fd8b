"""Domain errors and their HTTP faces.

Services raise these; views never build error responses by hand. Each maps to one status code
and renders as an HTML page or, for JSON clients, as {"error": ..., "errors": {...}}.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    status_code = 400
    title = "Something needs fixing"

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def summary(self) -> str:
        """The message and its field details in one line, for a flash on the page the action came from."""
        details = " ".join(v for v in self.errors.values() if v and v != self.message)
        return f"{self.message} {details}".strip()


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps a field (or JSON path) to what to do about it."""

    status_code = 400
    title = "Please correct the errors"


class PermissionDenied(DomainError):
    status_code = 403
    title = "Not allowed"


class NotFound(DomainError):
    status_code = 404
    title = "Page not found"


class Conflict(DomainError):
    status_code = 409
    title = "That changed meanwhile"


def _wants_json() -> bool:
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "text/html"
    ]


ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Page not found", "We can’t find the page you’re looking for."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    409: ("That changed meanwhile", "Someone changed this at the same time. Reload and retry."),
    413: (
        "Too large",
        "What you sent is larger than this page accepts. Send a smaller file or shorter text.",
    ),
    429: ("Too many attempts", "Too many requests in a short time. Wait a minute and try again."),
    500: ("Something went wrong", "An unexpected error happened. Nothing was saved; try again."),
}


def render_error(status: int, message: str | None = None, errors: dict | None = None) -> Response:
    title, default_message = ERROR_PAGES.get(status, ERROR_PAGES[500])
    text = message or default_message
    if _wants_json():
        response = jsonify(error=text, errors=errors or {})
    else:
        template = f"errors/{status}.html" if status in ERROR_PAGES else "errors/500.html"
        response = Response(render_template(template, title=title, message=text, errors=errors))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    from .extensions import db

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError) -> Response:
        db.session.rollback()
        return render_error(exc.status_code, exc.message, exc.errors)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response:
        if exc.code is None or exc.code < 400:
            return exc  # type: ignore[return-value]
        db.session.rollback()
        message = None
        if exc.code in (400, 403, 404) and exc.description and not exc.description.startswith(
            ("The browser", "You don't", "The requested URL")
        ):
            message = exc.description
        response = render_error(exc.code if exc.code in ERROR_PAGES else 500, message)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        db.session.rollback()
        app.logger.exception("Unhandled error")
        if app.testing and app.config.get("PROPAGATE_UNEXPECTED", True):
            raise exc
        return render_error(500)
