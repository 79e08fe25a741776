"""The inline SVG charts of ``alvh web`` (daemon.web.charts)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from daemon.web.charts import line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _points(svg: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    line = root.find(f"{SVG}polyline")
    assert line is not None
    return [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]  # type: ignore[misc]


def test_line_follows_the_values() -> None:
    svg = line_chart("c", "t", ["2019-01-02", "2019-01-03", "2019-01-04"], [100.0, 150.0, 50.0])
    root = ET.fromstring(svg)  # well-formed XML
    assert root.attrib["id"] == "c" and root.find(f"{SVG}title").text == "t"  # type: ignore[union-attr]
    (x0, y0), (x1, y1), (x2, y2) = _points(svg)
    assert x0 < x1 < x2
    assert y1 < y0 < y2  # SVG y grows downwards: 150 highest, 50 lowest
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "150" in labels and "50" in labels
    assert labels[-3:] == ["2019-01-02", "2019-01-03", "2019-01-04"]


def test_drawdown_area_reaches_zero_and_never_prints_minus_zero() -> None:
    svg = line_chart("d", "dd", ["a", "b", "c"], [0.0, -0.3, -120.0], area=True)
    assert "<polygon" in svg
    labels = re.findall(r'class="axis">([^<]+)</text>', svg)
    assert labels[:2] == ["0", "-120"] and "-0" not in labels


def test_one_point_is_a_dot_and_no_point_says_so() -> None:
    one = line_chart("e", "t", ["2026-11-20"], [100_000.0])
    assert "<circle" in one and "<polyline" not in one
    ET.fromstring(one)
    empty = line_chart("e", "t", [], [])
    assert "no daily rows yet" in empty
    ET.fromstring(empty)


def test_labels_are_escaped_and_lengths_checked() -> None:
    svg = line_chart("x", "<b>&", ["<s>", "t"], [1.0, 2.0])
    assert "<b>" not in svg and "&lt;s&gt;" in svg
    ET.fromstring(svg)
    with pytest.raises(ValueError, match="2 sessions but 1 values"):
        line_chart("x", "t", ["a", "b"], [1.0])


def test_many_sessions_get_a_few_spread_labels() -> None:
    sessions = [f"s{i:03d}" for i in range(252)]
    svg = line_chart("y", "t", sessions, [float(i) for i in range(252)])
    dates = [t for t in re.findall(r'class="axis">([^<]+)</text>', svg) if t.startswith("s")]
    assert dates[0] == "s000" and dates[-1] == "s251" and len(dates) == 6
    assert len(_points(svg)) == 252
