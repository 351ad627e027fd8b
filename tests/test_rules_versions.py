"""Every text of the official rules is kept under the hash applicants accept, so what an applicant
agreed to can be read after the rules change; drafts' rules stay as hidden as the draft."""

from __future__ import annotations

from sqlalchemy import select

from challenges import services
from challenges.models import RulesVersion
from tests.factories import make_challenge, make_submission, make_user


def test_an_applicant_can_read_the_rules_they_accepted_after_they_change(client, db, login_as):
    challenge = make_challenge(publish=True, slug="rules-kept", rules="1. Submit one paper.")
    phase = challenge.phases[0]
    vendor = make_user(email="agreed@vendor.com", roles=("vendor",))
    submission, _ = make_submission(vendor, phase, accept_rules=True, submit=True)
    accepted = submission.rules_version_accepted
    staff = make_user(email="rules-editor@example.gov", roles=("staff",))
    services.update_rules(actor=staff, challenge=challenge, eligibility_md=challenge.eligibility_md,
                          rules_md="1. Submit one paper.\n2. Papers are public.")
    db.session.commit()
    assert challenge.rules_version != accepted
    versions = db.session.execute(select(RulesVersion.sha256, RulesVersion.text)
                                  .where(RulesVersion.challenge_id == challenge.id)).all()
    assert dict(versions) == {accepted: "1. Submit one paper.",
                              challenge.rules_version: "1. Submit one paper.\n2. Papers are public."}

    login_as(vendor)
    receipt = client.get(f"/vendor/applications/{submission.id}/receipts/{submission.version}")
    assert receipt.status_code == 200
    assert f'href="/challenges/rules-kept/rules/{accepted}"' in receipt.text  # the receipt links the text
    old = client.get(f"/challenges/rules-kept/rules/{accepted}")
    assert old.status_code == 200
    assert "Submit one paper." in old.text and "Papers are public" not in old.text
    assert "These rules have since changed." in old.text and accepted in old.text
    new = client.get(f"/challenges/rules-kept/rules/{challenge.rules_version}").text
    assert "These are the current rules." in new and "Papers are public" in new
    assert client.get("/challenges/rules-kept/rules/" + "0" * 64).status_code == 404


def test_the_same_text_is_stored_once_and_a_drafts_rules_are_hidden(client, db, login_as):
    draft = make_challenge(slug="secret-draft", rules="Secret terms.")
    staff = make_user(email="same-text@example.gov", roles=("staff",))
    for _ in range(2):
        services.update_rules(actor=staff, challenge=draft, eligibility_md="", rules_md="Secret terms.")
    db.session.commit()
    stored = db.session.execute(select(RulesVersion).where(RulesVersion.challenge_id == draft.id)).scalars().all()
    assert [v.text for v in stored] == ["Secret terms."]
    login_as(make_user(email="curious@vendor.com", roles=("vendor",)))
    assert client.get(f"/challenges/secret-draft/rules/{draft.rules_version}").status_code == 404
