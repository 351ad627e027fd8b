"""Challenge competitions: the application factory, read as a table of contents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Any = None) -> Flask:
    """Config → extensions → storage → blueprints → error handlers → CLI. No I/O, no database access."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), instance_path=str(ROOT / "instance"))
    if config is None:
        from config import from_environment

        config = from_environment()
    app.config.from_object(config)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    _init_extensions(app)
    from .storage import init_storage

    init_storage(app)
    _register_blueprints(app)

    from .errors import register_error_handlers
    from .security import register_security
    from .templating import register_templating

    register_error_handlers(app)
    register_security(app)
    register_templating(app)

    from .cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from .accounts.services import load_user_from_session
    from .extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_from_session)

    from . import jobs

    @app.after_request
    def run_committed_jobs(response):  # type: ignore[no-untyped-def]
        jobs.dispatch_committed()
        return response


def _register_blueprints(app: Flask) -> None:
    # Import every model module so metadata (and Alembic) sees all tables.
    from . import audit, jobs, mail, models  # noqa: F401
    from .accounts import models as account_models  # noqa: F401
    from .accounts.views import admin_bp
    from .accounts.views import bp as accounts_bp
    from .audit_views import bp as audit_bp
    from .community import models as community_models  # noqa: F401
    from .community.staff_views import bp as community_staff_bp
    from .community.views import bp as community_bp
    from .job_views import bp as jobs_bp
    from .judging import models as judging_models  # noqa: F401
    from .judging.staff_views import bp as panel_bp
    from .judging.views import bp as judging_bp
    from .judging.views import results_bp
    from .submissions import models as submission_models  # noqa: F401
    from .submissions.staff_views import bp as applications_bp
    from .submissions.views import bp as submissions_bp
    from .views import bp as challenges_bp
    from .views import public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(challenges_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(submissions_bp)
    app.register_blueprint(applications_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(judging_bp)
    app.register_blueprint(panel_bp)
    app.register_blueprint(results_bp)
    app.register_blueprint(community_bp)
    app.register_blueprint(community_staff_bp)
