"""Models and migrations agree, on a fresh empty database of each engine.

`flask db upgrade` builds the schema; Alembic's autogenerate comparison, with the settings
Flask-Migrate hands env.py (compare_type, render_item), must then find nothing to change.
"""

import os
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from challenges import ROOT, create_app
from challenges.extensions import db as _db
from tests.conftest import make_config

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _migrated_app(url: str, tmp_path: Path):
    """A separate app on `url`, upgraded to head through the CLI, as an operator would."""
    app = create_app(make_config(url, tmp_path))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def _differences(app) -> list:
    with app.app_context():
        opts = dict(app.extensions["migrate"].configure_args)  # compare_type, render_item, ...
        opts.pop("process_revision_directives", None)
        with _db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=opts)
            assert context.opts["compare_type"] is True
            return compare_metadata(context, _db.metadata)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(_db.engine).get_table_names())


def _dispose(app) -> None:
    with app.app_context():
        _db.engine.dispose()


def test_migrations_have_one_linear_history():
    scripts = ScriptDirectory(str(ROOT / "migrations"))

    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1


def test_sqlite_migrations_match_models(tmp_path):
    app = _migrated_app(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    try:
        assert _differences(app) == []
        assert _tables(app) == {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"}
    finally:
        _dispose(app)


def test_sqlite_migrations_downgrade_to_base_and_up_again(tmp_path):
    app = _migrated_app(f"sqlite:///{tmp_path / 'updown.db'}", tmp_path)
    runner = app.test_cli_runner()
    try:
        down = runner.invoke(args=["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert _tables(app) == {"alembic_version"}

        up = runner.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        assert _differences(app) == []
    finally:
        _dispose(app)


@pytest.fixture
def fresh_postgres_url():
    """A brand-new, empty PostgreSQL database on the TEST_DATABASE_URL server, dropped afterwards."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    server = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgresql_migrations_match_models(fresh_postgres_url, tmp_path):
    app = _migrated_app(fresh_postgres_url, tmp_path)
    try:
        assert _differences(app) == []
        assert _tables(app) == {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"}
    finally:
        _dispose(app)


def test_postgresql_migrations_downgrade_to_base(fresh_postgres_url, tmp_path):
    app = _migrated_app(fresh_postgres_url, tmp_path)
    try:
        down = app.test_cli_runner().invoke(args=["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert _tables(app) == {"alembic_version"}
    finally:
        _dispose(app)


def test_upgrade_puts_edited_submitted_applications_back_to_their_receipt(tmp_path):
    """Before draft_answers, edits after submitting overwrote the answers and files in place. The
    upgrade restores the last receipt's answers and files and keeps the edits as unsubmitted changes
    (and the downgrade folds them back)."""
    import io

    from challenges.submissions import services as subs
    from challenges.submissions.models import Submission, SubmissionFile
    from tests.factories import PDF_BYTES, make_challenge, make_submission, make_user

    app = _migrated_app(f"sqlite:///{tmp_path / 'data.db'}", tmp_path)
    runner = app.test_cli_runner()
    try:
        with app.app_context():
            phase = make_challenge(publish=True, slug="legacy").phases[0]
            vendor = make_user(email="legacy@vendor.com", roles=("vendor",))
            submission, original = make_submission(vendor, phase, submit=True)
            sub_id, original_id, submitted = submission.id, original.id, dict(submission.answers)
            # The old behaviour, reproduced by hand: edits and a new file replace the submitted ones.
            newer = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="v2.pdf",
                                     stream=io.BytesIO(PDF_BYTES + b"v2"))
            newer_id = newer.id
            submission.answers = {**submitted, "summary": "Edited after submitting."}
            submission.draft_answers = None
            original.status, newer.status = "replaced", "stored"
            _db.session.commit()
            _db.session.remove()
        assert runner.invoke(args=["db", "downgrade", "26cd33cda7c8"]).exit_code == 0
        with app.app_context():  # SQLite rebuilt `submissions`: nothing that points at it may vanish
            assert _db.session.execute(text("SELECT count(*) FROM submission_receipts")).scalar() == 1
            assert _db.session.execute(text("SELECT count(*) FROM submission_files")).scalar() == 2
            _db.session.remove()
        up = runner.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        with app.app_context():
            restored = _db.session.get(Submission, sub_id)
            assert restored.answers == submitted
            assert restored.draft_answers == {**submitted, "summary": "Edited after submitting."}
            assert _db.session.get(SubmissionFile, original_id).status == "stored"
            assert _db.session.get(SubmissionFile, newer_id).status == "draft"
            _db.session.remove()
        assert runner.invoke(args=["db", "downgrade", "26cd33cda7c8"]).exit_code == 0
        with app.app_context():
            row = _db.session.execute(text("SELECT answers FROM submissions WHERE id = :id"), {"id": sub_id}).scalar()
            assert "Edited after submitting." in str(row)
            statuses = dict(_db.session.execute(text("SELECT id, status FROM submission_files")).all())
            assert statuses[original_id] == "replaced" and statuses[newer_id] == "stored"
            _db.session.remove()
    finally:
        _dispose(app)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_upgrade_names_the_editors_of_challenges_awaiting_approval(engine, tmp_path, request):
    """editor_ids is filled from the audit log for challenges not yet approved: the author and whoever
    changed their sections, phases, form or rubric; an approved challenge is left empty."""
    from challenges import services
    from tests.factories import make_challenge, make_user

    if engine == "postgresql":
        if not TEST_DATABASE_URL:
            pytest.skip("needs TEST_DATABASE_URL")
        url = request.getfixturevalue("fresh_postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'editors.db'}"
    app = _migrated_app(url, tmp_path)
    runner = app.test_cli_runner()
    try:
        with app.app_context():
            author = make_user(email="author@example.gov", roles=("staff",))
            editor = make_user(email="editor@example.gov", roles=("staff",))
            bystander = make_user(email="bystander@example.gov", roles=("staff",))
            draft = make_challenge(author=author, slug="awaiting")
            services.update_prizes(actor=editor, challenge=draft, prize_total=10, awards_md="Ten")
            services.submit_for_review(actor=bystander, challenge=draft)  # a status change is not an edit
            published = make_challenge(author=author, slug="already-out", publish=True)
            _db.session.commit()
            ids = {"draft": draft.id, "published": published.id}
            expected = sorted([author.id, editor.id])
            _db.session.remove()
        assert runner.invoke(args=["db", "downgrade", "1174ca7a4596"]).exit_code == 0
        up = runner.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        with app.app_context():
            _db.session.expire_all()
            from challenges.models import Challenge

            assert sorted(_db.session.get(Challenge, ids["draft"]).editor_ids) == expected
            assert _db.session.get(Challenge, ids["published"]).editor_ids == []
            # rules_versions (next migration) starts from each challenge's current rules text.
            from challenges.models import RulesVersion

            kept = {(v.challenge_id, v.sha256) for v in _db.session.execute(_db.select(RulesVersion)).scalars()}
            assert kept == {(c.id, c.rules_version) for c in _db.session.execute(_db.select(Challenge)).scalars()}
            _db.session.remove()
    finally:
        _dispose(app)
