"""The SVG charts: numbers never run into the labels or off the picture; long labels are shortened
with the full text kept in a tooltip."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from challenges.charts import bar_chart

SVG = "{http://www.w3.org/2000/svg}"
CHAR_WIDTH = 6.5  # a generous width of one 11-12 px character


def _texts(svg: str) -> list[ET.Element]:
    return list(_parse(svg).iter(f"{SVG}text"))


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - our own chart output, built in this test


def test_diverging_values_stay_clear_of_the_labels_and_inside_the_chart():
    items = [("judge.four@example.gov", -17.17), ("j2@example.gov", 4.5), ("j3@example.gov", 17.17)]
    svg = bar_chart(items, title="Leniency", desc="Offsets", diverging=True, unit=" pts")
    root = _parse(svg)
    width = float(root.get("viewBox").split()[2])
    labels = [t for t in _texts(svg) if t.get("text-anchor") == "end" and t.get("font-size") == "12"]
    label_edge = max(float(t.get("x")) for t in labels)
    values = [t for t in _texts(svg) if t.get("font-size") == "11"]
    for text in values:
        x, content = float(text.get("x")), "".join(text.itertext())
        span = len(content) * CHAR_WIDTH
        left, right = (x - span, x) if text.get("text-anchor") == "end" else (x, x + span)
        assert left > label_edge, content  # -17.17 pts no longer sits on top of the judge's name
        assert right <= width, content


def test_long_labels_are_shortened_with_the_full_text_in_a_tooltip():
    name = "a.very.long.judge.address@some-agency.example.gov"
    svg = bar_chart([(name, 3.0)], title="t", desc="d")
    label = next(t for t in _texts(svg) if t.get("font-size") == "12")
    assert label.find(f"{SVG}title").text == name
    shown = "".join(label.itertext()).replace(name, "", 1)
    assert shown.endswith("…") and len(shown) == 26
