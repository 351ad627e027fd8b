"""The membership domain gate: 10,000 generated addresses, each with its expected answer built
independently of the code under test (from how the address was made), and 0 misclassified."""

from __future__ import annotations

import random

import pytest

from challenges.community.services import address_domain, eligible_domain

ELIGIBLE_TLDS = ("gov", "mil", "edu")
NAMES = ("nih", "agency", "va", "army", "navy", "state", "usda", "stanford", "mit", "gsa", "cdc", "nasa", "dhs")
OTHER_TLDS = ("com", "org", "net", "co", "io", "us", "uk", "gov.co", "gov.uk", "edu.au", "mil.ph")
# Look-alikes of the eligible labels: none of them is the ASCII label after IDNA normalisation.
LOOKALIKE_TLDS = ("gοv", "gоv", "ɡov", "g0v", "gov1", "govv", "mi1", "miI", "еdu", "edu-", "ed", "go", "gove",
                  "xn--gv-jbc")
FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in "abcdefghijklmnopqrstuvwxyz"}
DOTS_THAT_MAP_TO_DOT = ("．", "。", "｡")  # UTS-46 maps these to "."


def _local(rng: random.Random) -> str:
    base = rng.choice(("someone", "jane.doe", "j.smith+ai", "first_last", "a", "x-1", "data.team"))
    return base if rng.random() < 0.9 else base.upper()


def _case(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.2:
        return text.upper()
    if roll < 0.3:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in text)
    return text


def _fullwidth(rng: random.Random, text: str) -> str:
    return "".join(FULLWIDTH.get(c, c) if rng.random() < 0.5 else c for c in text)


def generate(rng: random.Random) -> tuple[str, bool, str]:
    """(address, expected, kind)."""
    kind = rng.choice(("plain", "subdomain", "case", "fullwidth", "odd_dot", "quoted_in", "suffix_attack",
                       "other_tld", "lookalike", "no_dot", "trailing_dot", "quoted_out", "double_at", "embedded",
                       "invisible"))
    name, tld = rng.choice(NAMES), rng.choice(ELIGIBLE_TLDS)
    local = _local(rng)
    if kind == "plain":
        return f"{local}@{name}.{tld}", True, kind
    if kind == "subdomain":
        return f"{local}@{rng.choice(('ocio', 'nci', 'mail', 'cs'))}.{name}.{tld}", True, kind
    if kind == "case":
        return f"{local}@{_case(rng, f'{name}.{tld}')}", True, kind
    if kind == "fullwidth":  # full-width letters are the same domain after UTS-46 mapping
        return f"{local}@{_fullwidth(rng, name)}.{_fullwidth(rng, tld)}", True, kind
    if kind == "odd_dot":
        return f"{local}@{name}{rng.choice(DOTS_THAT_MAP_TO_DOT)}{tld}", True, kind
    if kind == "quoted_in":  # a quoted local part mentioning another domain; the real domain is eligible
        return f'"{local}@x.com"@{name}.{tld}', True, kind
    if kind == "suffix_attack":  # agency.gov.evil.com, nih.gov.co
        return f"{local}@{name}.{tld}.{rng.choice(('evil.com', 'co', 'example.org', 'attacker.net'))}", False, kind
    if kind == "other_tld":
        return f"{local}@{name}.{rng.choice(OTHER_TLDS)}", False, kind
    if kind == "lookalike":
        return f"{local}@{name}.{rng.choice(LOOKALIKE_TLDS)}", False, kind
    if kind == "no_dot":  # someone@evilgov
        return f"{local}@{rng.choice(('evil', 'not', ''))}{tld}", False, kind
    if kind == "trailing_dot":  # not a valid address to sign up with
        return f"{local}@{name}.{tld}{'.' * rng.randint(1, 2)}", False, kind
    if kind == "quoted_out":  # "someone@x.gov"@evil.com belongs to evil.com
        return f'"{local}@{name}.{tld}"@{rng.choice(("evil.com", "example.org"))}', False, kind
    if kind == "double_at":
        return f"{local}@{name}.{tld}@evil.com", False, kind
    if kind == "embedded":  # gov as part of a label, not a label
        return f"{local}@{name}{tld}.com", False, kind
    # an invisible character hidden in the domain is refused, not stripped
    return f"{local}@{name}.{tld[:1]}\u200b{tld[1:]}", False, kind


def test_domain_gate_classifies_ten_thousand_generated_addresses():
    rng = random.Random(20261202)
    cases = [generate(rng) for _ in range(10_000)]
    wrong = [(address, expected, kind) for address, expected, kind in cases if eligible_domain(address) != expected]
    kinds = {kind for _, _, kind in cases}
    assert len(kinds) == 15  # every family is represented
    assert sum(expected for _, expected, _ in cases) > 3000 and sum(not e for _, e, _ in cases) > 5000
    assert wrong == [], f"{len(wrong)} misclassified, e.g. {wrong[:5]}"


@pytest.mark.parametrize(("address", "expected"), [
    ("someone@agency.gov.evil.com", False),
    ("someone@evilgov", False),
    ('"someone@x.gov"@evil.com', False),
    ("SOMEONE@NIH.GOV", True),
    ("someone@nih.gov.", False),
    ("someone@agency.gοv", False),  # Greek omicron
    ("someone@nih.gov", True),
    ("someone@nih.gov.co", False),
    ("someone@ocio.nih.gov", True),
    ("someone@ｎｉｈ．ｇｏｖ", True),  # full-width letters and dot: the same domain after IDNA mapping
    ("someone@army.mil", True),
    ("someone@mit.edu", True),
    ("someone@mit.edu.au", False),
    ("not an address", False),
    ("", False),
])
def test_domain_gate_named_cases(address, expected):
    assert eligible_domain(address) is expected


def test_address_domain_is_the_idna_ascii_form():
    assert address_domain("a@Müller.EDU") == "xn--mller-kva.edu"
    assert address_domain("a@ｎｉｈ．ｇｏｖ") == "nih.gov"
    assert address_domain('"b@x.gov"@Evil.com') == "evil.com"
