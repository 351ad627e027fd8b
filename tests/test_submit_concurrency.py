"""200 applications submitted at the deadline, each twice at once, on PostgreSQL: none lost, none doubled."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from challenges.accounts.models import User
from challenges.audit import verify
from challenges.extensions import db as _db
from challenges.submissions import services as subs
from challenges.submissions.models import Receipt, Submission
from tests.factories import make_challenge, make_submission, make_user

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="concurrency is measured on PostgreSQL (TEST_DATABASE_URL)")
COUNT = 200


def test_two_hundred_simultaneous_submissions(app, db):
    phase = make_challenge(publish=True, slug="burst").phases[0]
    pairs = []
    for n in range(COUNT):
        vendor = make_user(email=f"v{n}@example.com", roles=("vendor",))
        submission, _ = make_submission(vendor, phase, organization_name=f"Vendor {n}", accept_rules=True)
        pairs.append((vendor.id, submission.id))
    db.session.commit()
    db.session.remove()

    def submit(pair):
        user_id, submission_id = pair
        with app.app_context():
            try:
                user = _db.session.get(User, user_id)
                submission = _db.session.get(Submission, submission_id)
                receipt = subs.submit(actor=user, submission=submission)
                _db.session.commit()
                return receipt.id
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(max_workers=12) as pool:
        receipt_ids = list(pool.map(submit, pairs + pairs))  # every application twice, interleaved

    assert len(receipt_ids) == 2 * COUNT
    assert db.session.execute(select(func.count(Receipt.id))).scalar_one() == COUNT
    assert db.session.execute(select(func.count(Submission.id)).where(Submission.status == "submitted")
                              ).scalar_one() == COUNT
    codes = db.session.execute(select(Submission.public_code)).scalars().all()
    assert len(set(codes)) == COUNT and None not in codes
    assert verify().ok  # the audit chain stayed linear under contention
