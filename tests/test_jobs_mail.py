"""challenges/jobs.py and challenges/mail.py: work runs only after commit; mail goes through an outbox."""

import importlib
import uuid

import pytest
from sqlalchemy import func, select

import config
from challenges import jobs, mail
from challenges.jobs import Job
from challenges.mail import OutboxMessage, deliver_pending
from tests.conftest import free_port

RUNS: list[dict] = []
FAIL_NEXT: list[bool] = []


@jobs.task("test.record")
def _record(job=None, **params):
    RUNS.append(params)
    if params.get("fail") or (FAIL_NEXT and FAIL_NEXT.pop()):
        raise RuntimeError("deliberate failure")
    jobs.set_progress(job, 150, "almost")  # clamped to 99 while running
    return {"echo": params.get("n")}


@jobs.task("test.follow_up")
def _follow_up(job=None, **params):
    jobs.enqueue("test.record", n="from follow-up")
    return 1


@pytest.fixture(autouse=True)
def _clear_runs():
    RUNS.clear()
    FAIL_NEXT.clear()
    yield
    RUNS.clear()
    FAIL_NEXT.clear()


def _job(db, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _jobs(db) -> int:
    return db.session.execute(select(func.count(Job.id))).scalar_one()


def _queue_mail(to="x@example.gov", subject="Hello", **kwargs):
    return mail.queue(to=to, subject=subject, template="verify_email", user=None, link="http://localhost/x",
                      hours=1, **kwargs)


# --- jobs -----------------------------------------------------------------------------------


def test_enqueue_runs_inline_only_after_commit(app, db):
    job = jobs.enqueue("test.record", n=1)

    assert jobs.dispatch_committed() == []  # not committed yet: nothing runs
    assert RUNS == [] and job.status == "queued"
    db.session.commit()
    assert jobs.dispatch_committed() == [job.id]

    done = _job(db, job.id)
    assert RUNS == [{"n": 1}]
    assert (done.status, done.progress, done.result, done.error) == ("done", 100, {"echo": 1}, None)
    assert done.message == "almost" and done.finished
    assert done.started_at is not None and done.finished_at >= done.started_at
    assert jobs.dispatch_committed() == []  # dispatched once only


def test_enqueue_rolled_back_transaction_runs_nothing(app, db):
    jobs.enqueue("test.record", n=2)

    db.session.rollback()
    db.session.commit()

    assert jobs.dispatch_committed() == []
    assert RUNS == [] and _jobs(db) == 0


def test_enqueue_dedupe_key_gives_one_job(app, db):
    first = jobs.enqueue("test.record", dedupe_key="same", n=3)
    second = jobs.enqueue("test.record", dedupe_key="same", n=3)
    db.session.commit()
    jobs.dispatch_committed()

    third = jobs.enqueue("test.record", dedupe_key="same", n=3)  # already done: not run again
    db.session.commit()
    jobs.dispatch_committed()

    assert first.id == second.id == third.id
    assert _jobs(db) == 1 and RUNS == [{"n": 3}]
    assert _job(db, first.id).status == "done"


def test_enqueue_once_per_transaction_folds_repeats(app, db):
    first = jobs.enqueue("test.record", once_per_transaction=True, n=1)
    second = jobs.enqueue("test.record", once_per_transaction=True, n=2)
    db.session.commit()

    assert first.id == second.id
    assert jobs.dispatch_committed() == [first.id]
    assert RUNS == [{"n": 1}]


def test_enqueue_unknown_job_refused(app, db):
    with pytest.raises(KeyError, match=r"unknown job 'no\.such\.job'"):
        jobs.enqueue("no.such.job")


def test_failing_job_marked_failed_with_traceback(app, db):
    job = jobs.enqueue("test.record", fail=True)
    db.session.commit()

    jobs.dispatch_committed()

    failed = _job(db, job.id)
    assert failed.status == "failed" and failed.finished
    assert failed.error.startswith("Traceback (most recent call last):")
    assert "RuntimeError: deliberate failure" in failed.error
    assert failed.result is None and failed.finished_at is not None


def test_failed_job_can_be_retried(app, db):
    FAIL_NEXT.append(True)
    job = jobs.enqueue("test.record", dedupe_key="flaky", n=5)
    db.session.commit()
    jobs.dispatch_committed()
    assert _job(db, job.id).status == "failed"

    retry = jobs.enqueue("test.record", dedupe_key="flaky", n=5)
    assert (retry.id, retry.status, retry.error) == (job.id, "queued", None)
    db.session.commit()
    jobs.dispatch_committed()

    done = _job(db, job.id)
    assert (done.status, done.result, done.error) == ("done", {"echo": 5}, None)
    assert RUNS == [{"n": 5}, {"n": 5}] and _jobs(db) == 1


def test_run_job_again_after_failure_and_never_twice_when_done(app, db):
    FAIL_NEXT.append(True)
    job = jobs.enqueue("test.record", n=6)
    db.session.commit()
    jobs.dispatch_committed()

    assert jobs.run_job(job.id).status == "done"  # a worker picking it up again
    assert jobs.run_job(job.id).status == "done"  # a duplicate delivery does nothing
    assert RUNS == [{"n": 6}, {"n": 6}]
    assert jobs.run_job("no-such-id") is None


def test_job_may_enqueue_follow_up_work(app, db):
    jobs.enqueue("test.follow_up")
    db.session.commit()

    jobs.dispatch_committed()

    assert RUNS == [{"n": "from follow-up"}]
    assert db.session.execute(select(Job.status).order_by(Job.name)).scalars().all() == ["done", "done"]


def test_set_progress_clamps_and_ignores_missing_job(app, db):
    job = jobs.enqueue("test.record")
    db.session.commit()

    jobs.set_progress(job, -5, "starting")
    assert (_job(db, job.id).progress, _job(db, job.id).message) == (0, "starting")
    jobs.set_progress(job, 42, "x" * 400)
    assert _job(db, job.id).progress == 42 and len(_job(db, job.id).message) == 300
    jobs.set_progress(None, 50)  # inline callers without a job row


# --- mail -----------------------------------------------------------------------------------


def test_mail_queue_renders_into_outbox_and_one_delivery_job(app, db):
    _queue_mail(to="a@example.gov")
    _queue_mail(to="b@example.gov")

    messages = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert [m.to_addr for m in messages] == ["a@example.gov", "b@example.gov"]
    assert "http://localhost/x" in messages[0].body_text and "Applied AI Challenges" in messages[0].body_text
    assert messages[0].sent_at is None and messages[0].attempts == 0
    assert db.session.execute(select(Job.name)).scalars().all() == ["mail.deliver"]


def test_mail_queue_same_dedupe_key_stores_one_message(app, db):
    first = _queue_mail(subject="Once", dedupe_key="once")
    second = _queue_mail(subject="Twice", dedupe_key="once")
    db.session.commit()

    assert first.id == second.id
    assert db.session.execute(select(OutboxMessage.subject)).scalars().all() == ["Once"]


def test_mail_rolled_back_transaction_queues_nothing(app, db):
    _queue_mail()

    db.session.rollback()

    assert jobs.dispatch_committed() == []
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 0


def test_deliver_pending_without_mail_server_uses_console(app, db, capsys):
    assert app.config["MAIL_SERVER"] is None
    _queue_mail(to="c@example.gov", subject="Console")
    db.session.commit()

    jobs.dispatch_committed()

    message = db.session.execute(select(OutboxMessage)).scalar_one()
    assert (message.backend, message.attempts, message.last_error) == ("console", 1, None)
    assert message.sent_at is not None
    out = capsys.readouterr().out
    assert "----- mail (console backend) -----" in out
    assert "To: c@example.gov" in out and "Subject: Console" in out
    assert deliver_pending() == {"sent": 0, "failed": 0}  # kept, never resent


def test_deliver_pending_unreachable_smtp_keeps_message_then_delivers(app, db, smtp_sink):
    app.config["MAIL_PORT"] = free_port()  # nothing listens here
    _queue_mail(to="later@example.gov", subject="Retry me")
    db.session.commit()

    assert deliver_pending() == {"sent": 0, "failed": 1}
    assert deliver_pending() == {"sent": 0, "failed": 1}
    waiting = db.session.execute(select(OutboxMessage)).scalar_one()
    assert waiting.sent_at is None and waiting.attempts == 2
    assert waiting.last_error.startswith("ConnectionRefusedError")
    assert smtp_sink.messages == []

    app.config["MAIL_PORT"] = smtp_sink.port  # the server is back
    assert deliver_pending() == {"sent": 1, "failed": 0}

    [received] = smtp_sink.wait_for(1)
    assert received["Subject"] == "Retry me" and received.envelope_to == ["later@example.gov"]
    db.session.expire_all()
    sent = db.session.execute(select(OutboxMessage)).scalar_one()
    assert (sent.backend, sent.attempts) == ("smtp", 3) and sent.sent_at is not None
    assert deliver_pending() == {"sent": 0, "failed": 0}  # nothing sent twice
    assert len(smtp_sink.messages) == 1


def test_deliver_pending_gives_up_after_max_attempts(app, db):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=2)
    _queue_mail()
    db.session.commit()

    results = [deliver_pending() for _ in range(3)]

    assert results == [{"sent": 0, "failed": 1}, {"sent": 0, "failed": 1}, {"sent": 0, "failed": 0}]
    assert db.session.execute(select(OutboxMessage.attempts)).scalar_one() == 2


def test_deliver_pending_sends_headers_and_attachments_over_smtp(app, db, smtp_sink):
    _queue_mail(to="files@example.gov", subject="Your receipt", headers={"Reply-To": "help@example.gov"},
                attachments=[("receipt.txt", "text/plain", b"sha256 abc")])
    db.session.commit()

    jobs.dispatch_committed()

    [received] = smtp_sink.wait_for(1)
    assert received["Reply-To"] == "help@example.gov"
    assert received["From"] == "no-reply@challenges.example.gov"
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "receipt.txt" and attachment.get_content() == "sha256 abc"
    assert "http://localhost/x" in received.get_body(("plain",)).get_content()


def test_cli_jobs_deliver_mail(app, db, run_cli, smtp_sink):
    _queue_mail(to="cli@example.gov")
    db.session.commit()

    result = run_cli("jobs", "deliver-mail")

    assert result.exit_code == 0 and result.output.strip() == "sent 1, failed 0"
    assert smtp_sink.wait_for(1)[0]["To"] == "cli@example.gov"


# --- RQ with Redis --------------------------------------------------------------------------


def test_jobs_run_on_rq_worker_with_redis(app, db, redis_url, monkeypatch):
    from redis import Redis
    from rq import Queue, SimpleWorker

    queue_name = f"test-challenges-{uuid.uuid4().hex[:8]}"  # parallel runs never share a queue
    app.config.update(JOBS_INLINE=False, REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    connection = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=connection)
    job_id = jobs.enqueue("test.record", n=7).id
    db.session.commit()

    assert jobs.dispatch_committed() == [job_id]
    assert queue.count == 1 and RUNS == []  # handed to RQ, not run inline
    assert _job(db, job_id).status == "queued"
    db.session.remove()
    # rq_entry builds its own app from the environment, as a worker process does: point that
    # environment at this test database and re-read config as a fresh process would.
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    importlib.reload(config)
    try:
        worked = SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        monkeypatch.undo()
        importlib.reload(config)
        queue.delete(delete_jobs=True)

    assert worked is True
    done = _job(db, job_id)
    assert (done.status, done.result) == ("done", {"echo": 7})
    assert RUNS == [{"n": 7}]


def test_run_pending_dispatches_jobs_whose_process_died_before_dispatching(app, db, run_cli):
    from datetime import timedelta

    lost = jobs.enqueue("test.record", n=7)
    fresh = jobs.enqueue("test.record", n=8)
    db.session.commit()
    db.session.info.pop("committed_jobs", None)  # the process died between commit and dispatch
    lost.created_at = lost.created_at - timedelta(minutes=10)
    db.session.commit()

    result = run_cli("jobs", "run-pending", "--older-than", "300")

    assert result.exit_code == 0 and "dispatched 1 stale job(s)" in result.output
    assert RUNS == [{"n": 7}]  # the fresh one may still be dispatched by its own process
    assert _job(db, lost.id).status == "done" and _job(db, fresh.id).status == "queued"
    assert "dispatched 0 stale job(s)" in run_cli("jobs", "run-pending").output  # never twice
