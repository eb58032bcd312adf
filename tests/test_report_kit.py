"""The report kit (nomad_muse.report): one stylesheet, one plotting module, templates as package data."""

from __future__ import annotations

import re
from importlib import resources
from types import SimpleNamespace

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.report import render, stylesheet, write_page
from nomad_muse.report.plot import LinearAxis, LogAxis, Note, note_name, piano_roll


def test_templates_and_stylesheet_ship_as_package_data():
    root = resources.files("nomad_muse.report")
    for name in ("style.css", "templates/base.html", "templates/analysis.html", "templates/demo.html",
                 "templates/bench.html", "templates/certificate.html", "templates/macros.html"):
        assert root.joinpath(name).is_file(), name
    assert ".prompt-note" in stylesheet() and ".band-bar" in stylesheet() and ".PASS" in stylesheet()


def test_every_page_inlines_the_one_stylesheet_and_escapes_outside_text():
    cert = {"result": "FAIL", "machine": {"cpu": "<script>x</script>", "cores": 2, "ram_gb": 4, "os": "L", "fingerprint": "f"},
            "spec": {"name": "s", "version": 1, "path": "p"}, "software": {"a": "1"}, "profile": "pp", "date": "d",
            "checks": [{"name": "n & m", "status": "FAIL", "value": '"v"', "threshold": "t", "evidence": "e", "fix": ""}]}
    from nomad_muse.hwbench.certify import certificate_html

    h = certificate_html(cert)
    assert str(stylesheet()) in h and "<script>" not in h and "&lt;script&gt;" in h and "n &amp; m" in h
    assert "&quot;v&quot;" in h and not re.search(r"<link|https?://", h)


def test_log_axis_is_logarithmic_and_clamps():
    x = LogAxis(20.0, 20000.0, 0.0, 300.0)
    assert x(20) == 0.0 and x(20000) == 300.0 and x(632.456) == pytest.approx(150.0, abs=0.01)
    assert x(1) == 0.0 and x(1e9) == 300.0
    assert x.decades() == [100.0, 1000.0, 10000.0]
    y = LinearAxis(-60.0, 0.0, 200.0, 0.0)  # upward
    assert y(-60) == 200.0 and y(0) == 0.0 and y(-30) == 100.0 and y.ticks(10.0)[0] == -60.0


def test_note_names_follow_midi_convention():
    assert note_name(60) == "C4" and note_name(21) == "A0" and note_name(108) == "C8"


def _beat_labels(svg: str) -> list[tuple[float, str]]:
    g = svg.split('<g class="beat-axis">')[1].split("</g>")[0]
    return [(float(x), t) for x, t in re.findall(r'<text x="([\d.]+)"[^>]*class="tick"[^>]*>([^<]+)</text>', g)]


def test_piano_roll_has_pitch_axis_and_labels_that_never_overlap():
    notes = [Note(b * 0.5, 0.5, 48 + (b % 25), "prompt-note") for b in range(0, 4000)]  # 2000 beats
    svg = str(piano_roll("r", notes, beats=(0.0, 2000.0)))
    assert ">C4<" in svg and ">C3<" in svg  # pitch axis
    labels = _beat_labels(svg)
    xs = [x for x, _ in labels]
    assert len(xs) >= 3 and all(b - a >= 36 for a, b in zip(xs, xs[1:]))
    beats_x = float(re.search(r'<text x="([\d.]+)"[^>]*>beats</text>', svg).group(1))
    assert all(beats_x - x > 40 for x in xs)  # the axis title does not sit on the last number


def test_long_prompt_is_windowed_around_the_continuation():
    from nomad_muse.engine.report import roll_window

    prompt = [SimpleNamespace(start=float(b), duration=1.0) for b in range(2400)]  # a 20-minute prompt at 120 BPM
    gen = [SimpleNamespace(start=2400.0 + b, duration=1.0) for b in range(16)]
    b0, b1 = roll_window(prompt, gen, 2400.0)
    assert b1 == 2416.0 and 2400.0 - b0 == pytest.approx(32.0)
    assert roll_window(prompt[:16], [], 16.0)[0] == 0.0  # short prompts shown whole


def test_family_runs_show_the_dominant_family_not_the_flicker():
    from nomad_muse.engine.report import family_runs

    segs = []
    t = 0.0
    for i in range(200):  # guitar with 20 ms flickers of strings
        fam = "strings" if i % 10 == 3 else "guitar"
        segs.append({"start_s": t, "end_s": t + 0.02, "family": fam, "mean_confidence": 0.22 if fam == "strings" else 0.8})
        t += 0.02
    segs.append({"start_s": 4.0, "end_s": 8.0, "family": "piano", "mean_confidence": 0.6})
    runs = family_runs(segs, 8.0, 2.0)
    assert [r["family"] for r in runs] == ["guitar", "piano"]
    assert runs[0]["end_s"] == 4.0 and runs[0]["confidence"] == pytest.approx(0.8, abs=1e-9)


def test_band_value_labels_sit_above_the_target_lines():
    from nomad_muse.analyzer.html_report import bands_svg

    bands = [SimpleNamespace(name=f"b{i}", lo_hz=20 * 2**i, hi_hz=40 * 2**i, level_db=-20.0 + i, target_p10_db=-25.0,
                             target_p50_db=-19.0, target_p90_db=-12.0) for i in range(7)]
    svg = str(bands_svg(SimpleNamespace(tonal=SimpleNamespace(bands=bands))))
    med = [float(v) for v in re.findall(r'<line [^>]*y1="([\d.]+)"[^>]*class="band-median"', svg)]
    rng = [float(v) for v in re.findall(r'<rect [^>]*y="([\d.]+)"[^>]*class="band-range"', svg)]
    val = [float(v) for v in re.findall(r'<text x="[\d.]+" y="([\d.]+)" class="band-value"', svg)]
    assert len(val) == len(med) == len(rng) == 7
    assert all(v < r < m for v, r, m in zip(val, rng, med))  # label baseline above the range top, above the median


def test_write_page_is_atomic_and_names_the_path(tmp_path):
    p = tmp_path / "r.html"
    p.write_text("old")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ParameterError, match="afile/r.html"):  # a folder that cannot exist: one line naming the path
        write_page(tmp_path / "afile" / "r.html", "x")
    assert write_page(p, render("base.html", title="t")) == p and p.read_text().startswith("<!DOCTYPE html>")
    assert sorted(q.name for q in tmp_path.iterdir()) == ["afile", "r.html"]  # no temp file left
    assert oct(p.stat().st_mode & 0o777) != oct(0o600)  # an ordinary file's mode, not mkstemp's 0600
    assert write_page(tmp_path / "new" / "r.html", "x").read_text() == "x"  # a missing folder is made
