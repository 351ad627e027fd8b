import importlib
import os

import pytest
from sqlalchemy import func, select

import config
from challenges import jobs, mail
from challenges.jobs import Job
from challenges.mail import OutboxMessage, deliver_pending
from tests.conftest import free_port

RUNS: list[dict] = []


@jobs.task("test.record")
def _record(job=None, **params):
    RUNS.append(params)
    if params.get("fail"):
        raise RuntimeError("deliberate failure")
    return {"echo": params.get("n")}


@pytest.fixture(autouse=True)
def _clear_runs():
    RUNS.clear()


def test_job_runs_only_after_commit(app, db):
    job = jobs.enqueue("test.record", n=1)
    assert RUNS == [] and jobs.dispatch_committed() == []
    db.session.commit()
    assert jobs.dispatch_committed() == [job.id]
    db.session.expire_all()
    done = db.session.get(Job, job.id)
    assert RUNS == [{"n": 1}] and done.status == "done" and done.result == {"echo": 1} and done.progress == 100


def test_rolled_back_job_never_runs(app, db):
    jobs.enqueue("test.record", n=2)
    db.session.rollback()
    assert jobs.dispatch_committed() == []
    assert RUNS == []
    assert db.session.execute(select(func.count(Job.id))).scalar_one() == 0


def test_dedupe_key_gives_one_job(app, db):
    first = jobs.enqueue("test.record", dedupe_key="same", n=3)
    second = jobs.enqueue("test.record", dedupe_key="same", n=3)
    assert first.id == second.id


def test_failed_job_records_traceback_and_can_retry(app, db):
    job = jobs.enqueue("test.record", dedupe_key="flaky", fail=True)
    db.session.commit()
    jobs.dispatch_committed()
    db.session.expire_all()
    failed = db.session.get(Job, job.id)
    assert failed.status == "failed" and "deliberate failure" in failed.error
    retry = jobs.enqueue("test.record", dedupe_key="flaky")
    assert retry.id == job.id and retry.status == "queued"


def test_unknown_job_name_refused(app):
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.job")


def test_mail_dedupe_key_stores_one_message(app, db):
    for _ in range(2):
        mail.queue(to="x@example.gov", subject="Hi", template="verify_email", dedupe_key="once",
                   user=None, link="http://localhost/x", hours=1)
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 1


def test_console_backend_keeps_message(app, db, capsys):
    mail.queue(to="c@example.gov", subject="Console", template="verify_email", user=None,
               link="http://localhost/x", hours=1)
    db.session.commit()
    jobs.dispatch_committed()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    assert message.backend == "console" and message.sent_at is not None
    assert "Subject: Console" in capsys.readouterr().out


def test_smtp_outage_then_recovery(app, db, smtp_sink):
    app.config["MAIL_PORT"] = free_port()  # nothing listens here
    mail.queue(to="later@example.gov", subject="Retry me", template="verify_email", user=None,
               link="http://localhost/x", hours=1)
    db.session.commit()
    assert deliver_pending() == {"sent": 0, "failed": 1}
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    assert message.sent_at is None and message.attempts == 1 and "Error" in message.last_error
    app.config["MAIL_PORT"] = smtp_sink_port(smtp_sink)
    assert deliver_pending() == {"sent": 1, "failed": 0}
    assert smtp_sink.wait_for(1)[0]["Subject"] == "Retry me"
    assert deliver_pending() == {"sent": 0, "failed": 0}  # nothing sent twice


def smtp_sink_port(sink) -> int:
    return sink.port


def test_jobs_run_on_rq_with_redis(app, db, redis_url):
    from redis import Redis
    from rq import Queue, SimpleWorker

    app.config.update(JOBS_INLINE=False, REDIS_URL=redis_url, RQ_QUEUE="test-challenges")
    connection = Redis.from_url(redis_url)
    queue = Queue("test-challenges", connection=connection)
    queue.empty()
    job_id = jobs.enqueue("test.record", n=7).id
    db.session.commit()
    jobs.dispatch_committed()
    assert queue.count == 1
    db.session.remove()
    # A worker process builds its own app from the environment when it imports config;
    # point that environment at this test database and re-import config as a fresh process would.
    os.environ["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    importlib.reload(config)
    try:
        SimpleWorker([queue], connection=connection).work(burst=True)
    finally:
        os.environ.pop("DATABASE_URL")
        importlib.reload(config)
    db.session.expire_all()
    assert db.session.get(Job, job_id).status == "done"
    assert RUNS == [{"n": 7}]
