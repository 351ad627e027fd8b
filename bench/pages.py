"""Page benchmark (not a test): pages under 20 concurrent clients on gunicorn, as ratios to a bare
health route on the same server, measured in the same run.

Data: BENCH_ENTRIES entries (300) x 5 judges x 8 criteria, every review in. Pages: the judge's queue
(all 300 entries), a scoring page, the staff leaderboard. For each: requests per second / the health
route's requests per second (goal >= 0.4) and p95 latency. Uses DATABASE_URL when set (the issue asks
for PostgreSQL; the tables are ANALYZEd after loading, as autovacuum would), else a SQLite file. That the
number of SQL queries per page does not grow with the number of entries is a test
(tests/test_query_counts.py).

Server: gunicorn, 2 workers (one per CPU of the CI machine) x 8 threads, the same for the health route
and the pages. The leaderboard is computed once per method and data version (results.cache, correct
across workers since the version is read from the database on every view): the warm figure is what
repeated views cost, and the first view after a change is printed on its own. The signed-in account page
is printed for reference: what every signed-in page pays before doing anything of its own.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENTRIES = int(os.environ.get("BENCH_ENTRIES", "300"))
CLIENTS = 20
REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_REQUESTS", "10"))
GUNICORN = os.environ.get("BENCH_GUNICORN", "--workers 2 --threads 8")  # e.g. "--workers 4 --threads 1"
PASSWORD = "correct horse battery staple"  # tests.factories.PASSWORD, which the data is made with


def load(port: int, path: str, cookie: str | None) -> tuple[float, list[float]]:
    """CLIENTS threads, each with its own connection, REQUESTS_PER_CLIENT requests: (req/s, latencies)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Cookie": cookie} if cookie else {}
        barrier.wait()
        for _ in range(REQUESTS_PER_CLIENT):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if response.status != 200:
                    errors.append(f"{path}: {response.status}")

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"errors under load: {errors[:3]}")
    return len(latencies) / wall, latencies


def main() -> None:
    from bench.common import bench_app, free_port, http_sign_in
    from bench.leaderboard import build

    with tempfile.TemporaryDirectory() as tmp, bench_app() as app:
        from sqlalchemy import select

        from challenges.extensions import db
        from challenges.judging.models import Assignment, PanelMember
        from challenges.models import Phase
        from tests.factories import make_user

        phase = db.session.get(Phase, build(ENTRIES))
        staff = make_user(email=f"pages-staff-{phase.challenge.slug}@example.gov", roles=("staff",))  # reruns
        judge = db.session.execute(select(PanelMember).where(PanelMember.phase_id == phase.id)
                                   .order_by(PanelMember.id)).scalars().first()
        assignment = db.session.execute(select(Assignment).where(Assignment.panel_member_id == judge.id)
                                        .order_by(Assignment.id)).scalars().first()
        judge.attested_at = phase.challenge.created_at
        from challenges.judging.services import ATTESTATION_VERSION

        judge.attestation_version = ATTESTATION_VERSION
        phase.closes_at = phase.opens_at  # closed: the scoring page is open for judging
        db.session.commit()
        database = app.config["SQLALCHEMY_DATABASE_URI"]
        if db.engine.dialect.name == "postgresql":
            # A production database has planner statistics (autovacuum); this one was bulk-filled a moment
            # ago and the CI server runs with autovacuum off, so without this the planner guesses 1 row per
            # table and the score query alone takes 0.6 s instead of 15 ms.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        paths = {"judge queue": ("/judging/", judge.email),
                 "scoring page": (f"/judging/entries/{assignment.id}", judge.email),
                 "staff leaderboard": (f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}/leaderboard",
                                       staff.email)}

        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database, "SECRET_KEY": "bench-secret",
               "INSTANCE_DIR": tmp, "SIGNIN_RATE_LIMIT": "100000 per minute"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *GUNICORN.split(), "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning", "challenges:create_app()"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            cookies = {email: http_sign_in(port, email, PASSWORD)[0] for _, email in paths.values()}
            load(port, "/healthz", None)  # warm up every worker
            # 200 health requests take a fraction of a second, so one run is noisy (420 to 950 req/s seen on
            # the same machine): the baseline is the median of three runs.
            health_rps, health_lat = sorted((load(port, "/healthz", None) for _ in range(3)), key=lambda r: r[0])[1]
            engine = database.split(":", 1)[0]
            print(f"gunicorn ({GUNICORN}), {CLIENTS} clients x {REQUESTS_PER_CLIENT} requests, "
                  f"{ENTRIES} entries x 5 judges x 8 criteria, {engine}")
            print(f"  health route: {health_rps:.0f} req/s, p95 {1000 * _p95(health_lat):.0f} ms")
            for name, (path, email) in paths.items():
                if name == "staff leaderboard":  # its first view computes; later views come from the cache
                    first = _one(port, path, cookies[email])
                    print(f"  staff leaderboard, first view after a change: {1000 * first:.0f} ms")
                load(port, path, cookies[email])  # warm
                rps, latencies = load(port, path, cookies[email])
                print(f"  {name}: {rps:.1f} req/s, p95 {1000 * _p95(latencies):.0f} ms; "
                      f"throughput / health = {rps / health_rps:.2f}  (goal >= 0.4)")
            # For reference, not a goal: the cheapest signed-in page (the account form), i.e. what loading
            # the session, the user and the page layout cost before a page does anything of its own.
            load(port, "/account/", cookies[judge.email])
            rps, latencies = load(port, "/account/", cookies[judge.email])
            print(f"  (reference) signed-in account page: {rps:.1f} req/s, p95 {1000 * _p95(latencies):.0f} ms; "
                  f"throughput / health = {rps / health_rps:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=20)


def _one(port: int, path: str, cookie: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status}")
    return time.perf_counter() - started


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


if __name__ == "__main__":
    main()
