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
judging_cli = AppGroup("judging", help="Panels, assignment and scores.")
reports_cli = AppGroup("reports", help="PDF reports.")
community_cli = AppGroup("community", help="Community meetings, reminders and membership.")


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


@jobs_cli.command("run-pending")
@click.option("--older-than", default=300, show_default=True, help="Seconds a queued job may wait before it is "
              "considered lost.")
def jobs_run_pending(older_than: int) -> None:
    """Run jobs that were committed but never dispatched (their process died); safe to run from cron."""
    ran = jobs.run_pending(older_than_seconds=older_than)
    click.echo(f"dispatched {len(ran)} stale job(s)")


@jobs_cli.command("deliver-mail")
def deliver_mail() -> None:
    """Send any unsent outbox messages now (for cron, or after an SMTP outage)."""
    from .mail import deliver_pending

    result = deliver_pending()
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def _phase_of(slug: str, key: str):
    from .errors import NotFound
    from .services import get_challenge

    try:
        challenge = get_challenge(slug)
    except NotFound as exc:
        _fail(exc.message)
    phase = challenge.phase_by_key(key)
    if phase is None:
        _fail(f"no phase {key!r} in {slug} (phases: {', '.join(p.key for p in challenge.phases)})")
    return challenge, phase


@judging_cli.command("import-scores")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--phase", "phase_key", required=True, help="The phase key, such as phase-1.")
@click.option("--create-missing", is_flag=True, help="Create unknown entries and judges instead of refusing.")
def import_scores(slug: str, file: Path, phase_key: str, create_missing: bool) -> None:
    """Import reviews from CSV (entry,judge,criterion,score[,comment]); all or nothing."""
    from .accounts.services import get_system_user
    from .errors import DomainError
    from .judging.services import import_scores as do_import

    challenge, phase = _phase_of(slug, phase_key)
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        _fail("the file is not UTF-8 text")
    try:
        result = do_import(actor=get_system_user(), challenge=challenge, phase=phase, text=text,
                           create_missing=create_missing)
    except DomainError as exc:
        db.session.rollback()
        click.echo(f"Error: {exc.message}", err=True)
        for line in (exc.errors or {}).get("file", "").splitlines():
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    _commit()
    click.echo(f"reviews: {result.reviews_created} created, {result.reviews_updated} updated, "
               f"{result.reviews_unchanged} unchanged; entries created: {len(result.entries_created)}; "
               f"judges created: {len(result.judges_created)}")


@judging_cli.command("assign")
@click.argument("slug")
@click.option("--phase", "phase_key", required=True)
@click.option("--k", type=int, help="Judges per entry (default: the phase's setting).")
@click.option("--max-load", type=int, help="One maximum load for every judge.")
@click.option("--agency-cap", type=int, help="At most this many judges of one agency per entry.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--mode", type=click.Choice(["assign", "ensure", "rebalance"]), default="assign", show_default=True)
@click.option("--approve", is_flag=True, help="Approve the proposal at once (judges are notified).")
@click.option("--json", "as_json", is_flag=True)
def assign_cli(slug: str, phase_key: str, k: int | None, max_load: int | None, agency_cap: int | None, seed: int,
               mode: str, approve: bool, as_json: bool) -> None:
    """Propose an automatic assignment (min-cost flow) and print it."""
    from .accounts.services import get_system_user
    from .errors import DomainError
    from .judging import services as judging
    from .judging.models import PanelMember
    from .submissions.models import Submission

    _, phase = _phase_of(slug, phase_key)
    actor = get_system_user()
    try:
        run = judging.propose(actor=actor, phase=phase, mode=mode, k=k, max_load=max_load, agency_cap=agency_cap,
                              seed=seed)
        if approve:
            judging.approve_run(actor=actor, run=run)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message, exc.errors)
    _commit()
    email = {m.id: m.email for m in db.session.query(PanelMember).filter(PanelMember.phase_id == phase.id)}
    code = {s.id: s.public_code for s in db.session.query(Submission).filter(Submission.phase_id == phase.id)}
    pairs = [{"entry": code[e], "judge": email[j]} for j, e in run.result["pairs"]]
    loads = {email[int(j)]: n for j, n in run.result["loads"].items()}
    if as_json:
        click.echo(json.dumps({"run": run.id, "status": run.status, "mode": run.mode, "pairs": pairs,
                               "loads": loads, "objective": run.objective,
                               "total_affinity": run.total_affinity}, indent=2))
        return
    click.echo(f"proposal {run.id} ({run.status}): {len(pairs)} pair(s), objective {run.objective}, "
               f"total affinity {run.total_affinity:.3f}")
    for pair in pairs:
        click.echo(f"  {pair['entry']}  {pair['judge']}")
    for judge, load in sorted(loads.items()):
        click.echo(f"  load {judge}: {load}")


@judging_cli.command("leaderboard")
@click.argument("slug")
@click.option("--phase", "phase_key", required=True)
@click.option("--method", type=click.Choice(["mean", "median", "trimmed", "zscore", "calibrated", "borda"]),
              help="The ranking method (default: the phase's primary method).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed (recorded in reports).")
def leaderboard_cli(slug: str, phase_key: str, method: str | None, fmt: str, seed: int) -> None:
    """Print the leaderboard: every method, rank intervals, flags."""
    import csv
    import io

    from .judging.results import phase_leaderboard

    _, phase = _phase_of(slug, phase_key)
    _, rows = phase_leaderboard(phase, method=method, seed=seed)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    out = io.StringIO()
    columns = ["rank", "entry", "title", "n_reviews", "assigned", "mean", "median", "trimmed_mean", "zscore",
               "calibrated", "shift", "borda", "sd", "range", "percentile", "rank_low", "rank_high", "flags"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    from .exports import cell_safe

    for row in rows:
        writer.writerow({**row, "title": cell_safe(row["title"]), "flags": " ".join(row["flags"])})
    click.echo(out.getvalue(), nl=False)


@judging_cli.command("stats")
@click.argument("slug")
@click.option("--phase", "phase_key", required=True)
@click.option("--json", "as_json", is_flag=True)
def stats_cli(slug: str, phase_key: str, as_json: bool) -> None:
    """Reliability, judge and criterion statistics on review totals."""
    from .judging.results import phase_statistics

    _, phase = _phase_of(slug, phase_key)
    data = phase_statistics(phase)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['entries']} entries, {data['judges']} judges, {data['reviews']} counted reviews")
    click.echo(data["reading"])
    for judge in data["judges"]:
        click.echo(f"  {judge['judge']}: n {judge['n']}, mean {judge['mean']}, offset {judge['calibration_offset']}")


@judging_cli.command("invite")
@click.argument("slug")
@click.argument("emails", nargs=-1, required=True)
@click.option("--phase", "phase_key", required=True)
@click.option("--max-load", type=int, default=10, show_default=True)
@click.option("--expertise", default="", help="Comma-separated tags.")
def invite_cli(slug: str, emails: tuple[str, ...], phase_key: str, max_load: int, expertise: str) -> None:
    """Invite judges to a phase's panel by email."""
    from .accounts.services import get_system_user
    from .errors import DomainError
    from .judging.services import invite_judge

    _, phase = _phase_of(slug, phase_key)
    try:
        for address in emails:
            invite_judge(actor=get_system_user(), phase=phase, email=address, max_load=max_load, expertise=expertise)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message, exc.errors)
    _commit()
    click.echo(f"invited {len(emails)} judge(s)")


@reports_cli.command("award")
@click.argument("slug")
@click.option("--phase", "phase_key", required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(["mean", "median", "trimmed", "zscore", "calibrated", "borda"]))
@click.option("--seed", type=int, default=0, show_default=True)
def report_award(slug: str, phase_key: str, output: Path, method: str | None, seed: int) -> None:
    """Write the award report PDF (the same file the staff page builds)."""
    from flask import current_app

    from .judging.report import render
    from .judging.results import fingerprint

    _, phase = _phase_of(slug, phase_key)
    output.write_bytes(render(phase, method=method, seed=seed, workers=current_app.config["REPORT_WORKERS"]))
    click.echo(f"wrote {output} (fingerprint {fingerprint(phase, method, seed)['fingerprint']})")


@reports_cli.command("feedback")
@click.argument("slug")
@click.option("--phase", "phase_key", required=True)
@click.option("--out-dir", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def report_feedback(slug: str, phase_key: str, out_dir: Path) -> None:
    """Write every applicant's feedback PDF (feedback must be released)."""
    from .judging import feedback
    from .judging.services import entries

    _, phase = _phase_of(slug, phase_key)
    if phase.feedback_released_at is None:
        _fail("feedback for this phase has not been released (Judging → Feedback)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for entry in entries(phase):
        (out_dir / f"feedback-{entry.public_code}.pdf").write_bytes(feedback.pdf(entry))
        written += 1
    click.echo(f"wrote {written} feedback PDF(s) to {out_dir}")


@community_cli.command("schedule-meetings")
@click.option("--months", default=12, show_default=True, type=int, help="How many monthly meetings ahead.")
@click.option("--json", "as_json", is_flag=True)
def schedule_meetings_cli(months: int, as_json: bool) -> None:
    """Create the monthly community meetings (second Thursday, 13:00-14:00 America/New_York). Idempotent."""
    from .accounts.services import get_system_user
    from .community import services as community
    from .errors import DomainError
    from .timezones import format_human

    try:
        created, existing = community.schedule_meetings(actor=get_system_user(), months=months)
    except DomainError as exc:
        _fail(exc.message, exc.errors)
    _commit()
    if as_json:
        click.echo(json.dumps({"created": [e.starts_at.isoformat() for e in created],
                               "existing": [e.starts_at.isoformat() for e in existing]}, indent=2))
        return
    for event in created:
        click.echo(f"created  {format_human(event.starts_at, event.timezone)}")
    click.echo(f"{len(created)} meeting(s) created, {len(existing)} already scheduled")


@community_cli.command("send-reminders")
def community_reminders() -> None:
    """Email registrants of events starting in the next 24 hours (once each; safe to run hourly)."""
    from .community.services import send_event_reminders

    count = send_event_reminders()
    _commit()
    click.echo(f"queued {count} event reminder(s)")


@community_cli.command("grant-exception")
@click.argument("email")
@click.option("--reason", required=True, help="Why this address outside .gov/.mil/.edu may join (audited).")
def grant_exception_cli(email: str, reason: str) -> None:
    """Let one address outside .gov, .mil and .edu join the community."""
    from .accounts.services import get_system_user
    from .community.services import grant_exception
    from .errors import DomainError

    try:
        row = grant_exception(actor=get_system_user(), email=email, reason=reason)
    except DomainError as exc:
        _fail(exc.message, exc.errors)
    _commit()
    click.echo(f"{row.email} may now join the community")


def register_cli(app: Flask) -> None:
    for group in (users, challenges_cli, audit_cli, demo, jobs_cli, submissions_cli, judging_cli, reports_cli,
                  community_cli):
        app.cli.add_command(group)
