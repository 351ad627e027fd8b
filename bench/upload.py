"""Upload benchmark (not a test): prints figures as ratios to baselines measured in the same run.

1. A large upload (1 GiB by default; BENCH_UPLOAD_MB to change) through the local backend, over
   HTTP to a real server process: peak RSS growth of that process (goal <= 64 MiB) and throughput
   as a ratio to copying the same file with `cp` on the same disk (goal >= 0.7); the two are run
   alternately BENCH_ROUNDS times (3) and the median ratio is the figure, since one pair is noisy.
2. A burst of 200 final submissions at once (threads, one app): wall time (goal <= 5 s). Uses
   DATABASE_URL when set (PostgreSQL), else SQLite.

Run: .venv/bin/python bench/upload.py
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024
UPLOAD_MB = int(os.environ.get("BENCH_UPLOAD_MB", "1024"))
PASSWORD = "benchmark password 2026"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """Samples the server's resident memory every 20 ms (VmHWM would hide growth under the startup peak)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, rss_kib(pid), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)


def bench_config(instance: Path) -> type:
    """Development settings on a fresh instance folder (DATABASE_URL, if set, wins for the database)."""
    from config import Default

    instance.mkdir(parents=True, exist_ok=True)

    class BenchConfig(Default):
        SECRET_KEY = "bench-secret"
        INSTANCE_DIR = str(instance)
        STORAGE_DIR = str(instance / "storage")
        SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'bench.db'}"
        RATELIMIT_ENABLED = False

    return BenchConfig


def prepare(instance: Path) -> tuple[int, str]:
    """A database with an open challenge whose file question takes the big file, and a vendor draft."""
    from flask_migrate import upgrade

    from challenges import create_app
    from challenges.extensions import db
    from challenges.submissions import services as subs
    from tests.factories import make_challenge, make_definition, make_user

    app = create_app(bench_config(instance))
    with app.app_context():
        upgrade()
        definition = make_definition()
        definition["phases"][0]["fields"][1]["max_bytes"] = (UPLOAD_MB + 16) * MB
        challenge = make_challenge(publish=True, slug=f"bench-{uuid.uuid4().hex[:6]}", **{
            k: v for k, v in definition.items() if k != "slug"})
        vendor = make_user(email="bench-vendor@example.com", roles=("vendor",), password=PASSWORD)
        org = subs.save_organization(actor=vendor, legal_name="Bench Co")
        submission = subs.start_application(actor=vendor, phase=challenge.phases[0], organization=org)
        db.session.commit()
        return submission.id, app.config["STORAGE_DIR"]


def stream_upload(port: int, submission_id: int, path: Path, cookie: str, token: str) -> float:
    """PUT the file as the request body, as the application page's script does (1 MiB at a time)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.putrequest("PUT", f"/vendor/applications/{submission_id}/files/deck/stream")
    for name, value in (("Content-Type", "application/pdf"), ("Content-Length", str(path.stat().st_size)),
                        ("Cookie", cookie), ("Accept", "application/json"), ("X-CSRFToken", token),
                        ("X-File-Name", "big.pdf")):
        conn.putheader(name, value)
    conn.endheaders()
    with open(path, "rb") as handle:
        while chunk := handle.read(MB):
            conn.send(chunk)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"upload failed: {response.status} {body[:300]!r}")
    return elapsed


def upload_benchmark() -> None:
    with tempfile.TemporaryDirectory(dir=ROOT / "instance" if (ROOT / "instance").exists() else None) as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / "big.pdf"
        with open(source, "wb") as handle:
            handle.write(b"%PDF-1.7\n")
            block = os.urandom(MB)
            for _ in range(UPLOAD_MB - 1):
                handle.write(block)
            handle.write(b"\n%%EOF\n")

        def copy_seconds() -> float:
            started = time.perf_counter()
            shutil.copyfile(source, tmp_path / "copy.bin")
            elapsed = time.perf_counter() - started
            (tmp_path / "copy.bin").unlink()
            return elapsed

        submission_id, _ = prepare(tmp_path / "instance")
        from bench.common import free_port

        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(
            [sys.executable, "-c", "from pathlib import Path; from werkzeug.serving import run_simple; "
             "from challenges import create_app; from bench.upload import bench_config; "
             f"run_simple('127.0.0.1', {port}, create_app(bench_config(Path({str(tmp_path / 'instance')!r}))), "
             "threaded=True)"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            from bench.common import http_sign_in

            cookie, _ = http_sign_in(port, "bench-vendor@example.com", PASSWORD)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", f"/vendor/applications/{submission_id}", headers={"Cookie": cookie})
            response = conn.getresponse()
            page = response.read().decode()
            if response.getheader("Set-Cookie"):  # the CSRF secret now lives in the session
                cookie = response.getheader("Set-Cookie").split(";")[0]
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            baseline_rss = rss_kib(server.pid)
            sampler = RssSampler(server.pid)
            sampler.start()
            # Alternate the two so a busy neighbour or a cold cache hurts both alike; report the median.
            pairs = []
            for _ in range(ROUNDS):
                cp_run = copy_seconds()
                pairs.append((cp_run, stream_upload(port, submission_id, source, cookie, token)))
            sampler.running = False
            sampler.join()
            growth_mib = (sampler.peak - baseline_rss) / 1024
        finally:
            server.terminate()
            server.wait(timeout=10)
        size_mb = source.stat().st_size / MB
        for n, (cp_run, upload_run) in enumerate(pairs, 1):
            print(f"round {n}: upload {size_mb:.0f} MiB in {upload_run:.2f} s ({size_mb / upload_run:.0f} MiB/s); "
                  f"cp {cp_run:.2f} s ({size_mb / cp_run:.0f} MiB/s); ratio {cp_run / upload_run:.2f}")
        ratio = statistics.median(cp_run / upload_run for cp_run, upload_run in pairs)
        print(f"upload throughput / cp throughput = {ratio:.2f} (median of {ROUNDS} alternating rounds; "
              "goal >= 0.70)")
        print(f"server peak RSS growth during the upload = {growth_mib:.1f} MiB  (goal <= 64 MiB)")


def burst_benchmark(count: int = 200) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from challenges import create_app
    from challenges.accounts.models import User
    from challenges.extensions import db
    from challenges.submissions import services as subs
    from challenges.submissions.models import Receipt, Submission
    from tests.factories import make_challenge, make_submission, make_user

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(bench_config(Path(tmp)))
        with app.app_context():
            upgrade()
            phase = make_challenge(publish=True, slug=f"burst-{uuid.uuid4().hex[:6]}").phases[0]
            pairs = []
            for n in range(count):
                vendor = make_user(email=f"burst{n}-{uuid.uuid4().hex[:4]}@example.com", roles=("vendor",))
                submission, _ = make_submission(vendor, phase, organization_name=f"Burst {n}", accept_rules=True)
                pairs.append((vendor.id, submission.id))
            db.session.commit()
            db.session.remove()

        def submit(pair: tuple[int, int]) -> None:
            with app.app_context():
                subs.submit(actor=db.session.get(User, pair[0]), submission=db.session.get(Submission, pair[1]))
                db.session.commit()
                db.session.remove()

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(submit, pairs))
        seconds = time.perf_counter() - started
        with app.app_context():
            recorded = db.session.execute(select(func.count(Receipt.id))).scalar_one()
        engine = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
        print(f"burst: {count} simultaneous submissions on {engine} in {seconds:.2f} s "
              f"({recorded} recorded)  (goal <= 5 s)")


if __name__ == "__main__":
    upload_benchmark()
    burst_benchmark()
