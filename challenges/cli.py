"""Command line: flask --app challenges <group> <command>. Human text by default, --json for machines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from . import jobs
from .extensions import db


def _fail(message: str, errors: dict[str, str] | None = None) -> None:
    click.echo(f"Error: {message}", err=True)
    for path, text in (errors or {}).items():
        click.echo(f"  {path}: {text}", err=True)
    sys.exit(1)


def _commit() -> None:
    db.session.commit()
    jobs.dispatch_committed()


users = AppGroup("users", help="Manage user accounts.")
challenges_cli = AppGroup("challenges", help="Challenge definitions.")
audit_cli = AppGroup("audit", help="The audit log.")
demo = AppGroup("demo", help="Demo data.")
jobs_cli = AppGroup("jobs", help="Background jobs.")
submissions_cli = AppGroup("submissions", help="Applications and their files.")


@submissions_cli.command("send-reminders")
def send_reminders() -> None:
    """Email owners of unsubmitted drafts 3 days and 1 day before the close (safe to run hourly)."""
    from .submissions.services import send_reminders as remind

    count = remind()
    _commit()
    click.echo(f"queued {count} reminder(s)")


@submissions_cli.command("cleanup-uploads")
@click.option("--older-than", default=3600, show_default=True, help="Seconds a pending upload may wait.")
def cleanup_uploads(older_than: int) -> None:
    """Remove uploads that were announced but never confirmed, and their stored objects."""
    from .submissions.services import cleanup_pending_uploads

    count = cleanup_pending_uploads(older_than_seconds=older_than)
    _commit()
    click.echo(f"removed {count} unconfirmed upload(s)")


@users.command("create-admin")
@click.argument("email")
@click.option("--password", envvar="ADMIN_PASSWORD", help="Prompted for when not given (or ADMIN_PASSWORD).")
@click.option("--name", default="")
def create_admin(email: str, password: str | None, name: str) -> None:
    """Create an administrator (or give an existing account the admin and staff roles)."""
    from .accounts.services import create_admin as make_admin
    from .errors import DomainError

    if not password:
        if not sys.stdin.isatty():
            _fail("give --password or set ADMIN_PASSWORD when there is no terminal")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, created = make_admin(email=email, password=password, name=name)
    except DomainError as exc:
        _fail(exc.message, exc.errors)
    _commit()
    click.echo(f"{'Created' if created else 'Promoted'} administrator {user.email}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_users(as_json: bool) -> None:
    """List accounts and their roles."""
    from .accounts.services import list_users as all_users

    rows = [{"email": u.email, "name": u.name, "roles": sorted(str(r) for r in u.roles), "active": u.active,
             "verified": u.is_verified} for u in all_users()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        flags = "" if row["active"] else " (deactivated)"
        click.echo(f"{row['email']:40} {', '.join(row['roles']) or '-'}{flags}")


@challenges_cli.command("import-definition")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="Publish at once, approved by the system user.")
def import_definition(file: Path, publish: bool) -> None:
    """Create a challenge from a JSON definition and print its slug."""
    from .accounts.services import get_system_user
    from .definition import import_definition as do_import
    from .errors import DomainError

    try:
        challenge = do_import(actor=get_system_user(), data=file.read_bytes(), publish=publish)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message, exc.errors)
    _commit()
    click.echo(challenge.slug)


@challenges_cli.command("export-definition")
@click.argument("slug")
def export_definition(slug: str) -> None:
    """Print a challenge's definition as JSON."""
    from .definition import export_definition as do_export
    from .errors import DomainError
    from .services import get_challenge

    try:
        challenge = get_challenge(slug)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(json.dumps(do_export(challenge), indent=2, ensure_ascii=False))


@challenges_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_challenges(as_json: bool) -> None:
    """List challenges with their status."""
    from .services import list_for_staff

    rows = [{"slug": c.slug, "title": c.title, "status": c.status} for c in list_for_staff()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['slug']:40} {row['status']:18} {row['title']}")


@audit_cli.command("verify")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(as_json: bool) -> None:
    """Check the audit log's hash chain; exits 1 if any event was altered or removed."""
    from .audit import verify

    result = verify()
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "checked": result.checked, "problems": result.problems}))
    elif result.ok:
        click.echo(f"Audit log intact: {result.checked} events verified.")
    else:
        click.echo(f"Audit log BROKEN: {len(result.problems)} problem(s) in {result.checked} events:", err=True)
        for problem in result.problems:
            click.echo(f"  - {problem}", err=True)
    if not result.ok:
        sys.exit(1)


@demo.command("load")
def demo_load() -> None:
    """Load demo accounts and challenges; running it again changes nothing."""
    from .demo import load

    summary = load()
    _commit()
    click.echo(summary)


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def jobs_worker(burst: bool) -> None:
    """Run an RQ worker for the queue named by RQ_QUEUE (needs REDIS_URL)."""
    from flask import current_app
    from redis import Redis
    from rq import Queue, Worker

    url = current_app.config.get("REDIS_URL")
    if not url:
        _fail("REDIS_URL is not set; without it jobs run inline and need no worker")
    connection = Redis.from_url(url)
    Worker([Queue(current_app.config["RQ_QUEUE"], connection=connection)], connection=connection).work(burst=burst)


@jobs_cli.command("deliver-mail")
def deliver_mail() -> None:
    """Send any unsent outbox messages now (for cron, or after an SMTP outage)."""
    from .mail import deliver_pending

    result = deliver_pending()
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def register_cli(app: Flask) -> None:
    for group in (users, challenges_cli, audit_cli, demo, jobs_cli, submissions_cli):
        app.cli.add_command(group)
