"""HTML report (`muse analyze --report`), the bundled example mix (`--example`) and its planted fault."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf

from analyzer_signals import pink_noise
from nomad_muse.analyzer import analyze_array, load_target
from nomad_muse.analyzer.html_report import render_html, write_html
from nomad_muse.analyzer.report import Suggestion
from nomad_muse.errors import ParameterError

SR = 44100
BAND_KINDS = {"low_end_excess", "low_end_lack", "mud", "low_mid_lack", "mid_excess", "mid_lack", "harsh",
              "high_mid_lack", "presence_lack", "air_excess", "air_lack"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def muse(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ), cwd=cwd)


class Doc(HTMLParser):
    """Strict-ish parse: every end tag closes the innermost open element; records elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict, tuple[str, ...]]] = []  # (tag, attrs, ancestors' ids)
        self.text: list[str] = []

    def _ids(self):
        return tuple(i for _, i in self.stack if i)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a, self._ids()))
        if tag not in VOID:
            self.stack.append((tag, a.get("id")))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), self._ids()))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, cls=None, inside=None, **attrs):
        out = []
        for t, a, anc in self.elements:
            if tag and t != tag:
                continue
            if cls and cls not in (a.get("class") or "").split():
                continue
            if inside and inside not in anc:
                continue
            if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(a)
        return out


def parse(html: str) -> Doc:
    d = Doc()
    d.feed(html)
    d.close()
    assert not d.errors, d.errors[:5]
    assert not d.stack, f"unclosed: {d.stack}"
    return d


def assert_self_contained(html: str):
    """No scripts, no external resources, no event handlers: inline CSS and SVG only."""
    doc = parse(html)
    tags = {t for t, _, _ in doc.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "foreignobject"}, tags
    assert not [k for _, a, _ in doc.elements for k in a if k.startswith("on") or k in ("src", "href")]
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html.lower()), "no network references"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """`muse analyze --example --json --report` once: (parsed JSON, HTML text)."""
    d = tmp_path_factory.mktemp("example")
    out = d / "example.html"
    r = muse("analyze", "--example", "--json", "--report", str(out))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), out.read_text(encoding="utf-8")


def test_report_written_parses_and_draws_curve_over_target(example_run):
    data, html = example_run
    assert html.startswith("<!DOCTYPE html>")
    assert_self_contained(html)
    doc = parse(html)
    assert len(doc.find("svg")) == 2
    assert doc.find("svg", id="tonal-curve") and doc.find("svg", id="band-chart")
    assert len(doc.find("path", cls="target-band", inside="target-range")) >= 1
    assert len(doc.find("polyline", cls="target-median", inside="target-median")) >= 1
    assert len(doc.find("polyline", cls="measured", inside="measured-curve")) >= 1
    # the measured polyline carries one point per finite 1/6-octave value in 20 Hz..20 kHz
    pts = sum(len(p["points"].split()) for p in doc.find("polyline", cls="measured", inside="measured-curve"))
    n = sum(1 for f, v in zip(data["tonal"]["curve_hz"], data["tonal"]["curve_db"]) if v is not None and 20 <= f <= 20000)
    assert pts == n
    # labelled axes: 10 frequency ticks incl. 20 Hz .. 20k, dB ticks
    ticks = [t.strip() for t in doc.text]
    assert {"20", "100", "1k", "10k", "20k"} <= set(ticks)
    assert len(doc.find("text", cls="tick", inside="y-ticks")) >= 3
    # 7 bands, each measured bar against a target range and median
    assert len(doc.find("rect", cls="band-bar")) == 7
    assert len(doc.find("rect", cls="band-range")) == 7
    assert len(doc.find("line", cls="band-median")) == 7


def test_report_has_meters_with_units_and_json_values(example_run):
    data, html = example_run
    doc = parse(html)
    L = data["loudness"]
    cell = doc.find("td", id="m-integrated_lufs")
    assert cell and cell[0]["data-value"] == repr(L["integrated_lufs"])
    assert f"{L['integrated_lufs']:.1f} LUFS" in html
    for key, unit in (("momentary_max_lufs", "LUFS"), ("short_term_max_lufs", "LUFS"), ("lra_lu", "LU"),
                      ("true_peak_dbtp", "dBTP"), ("sample_peak_dbfs", "dBFS"), ("plr_lu", "LU"),
                      ("rms_dbfs", "dBFS"), ("crest_factor_db", "dB")):
        c = doc.find("td", id=f"m-{key}")
        assert c and c[0]["data-value"] == repr(L[key]), key
        assert f"{L[key]:.1f} {unit}" in html, key
    for key in ("correlation", "width", "low_end_correlation"):
        assert doc.find("td", id=f"m-{key}")[0]["data-value"] == repr(data["stereo"][key])
    rows = doc.find("tr", cls="suggestion")
    assert [r["data-kind"] for r in rows] == [s["kind"] for s in data["suggestions"]]
    for s in data["suggestions"]:
        assert s["action"] in html and s["severity"] in html


def test_example_finds_planted_fault_and_nothing_contradictory(example_run):
    data, _ = example_run
    assert data["tonal"]["target_name"] == "pop"
    kinds = [s["kind"] for s in data["suggestions"]]
    assert "mud" in kinds
    assert {k for k in kinds if k in BAND_KINDS} == {"mud"}, kinds
    assert not {"low_mid_lack", "too_loud", "too_quiet", "true_peak", "stereo_phase", "bass_not_mono",
                "over_compressed"} & set(kinds), kinds
    mud = next(s for s in data["suggestions"] if s["kind"] == "mud")
    assert mud["action"].startswith("cut") and mud["freq_lo_hz"] == 250.0
    low_mid = next(b for b in data["tonal"]["bands"] if b["name"] == "low_mid")
    assert low_mid["deviation_db"] > 3.0


def test_example_file_is_located_by_importlib_and_matches_its_spec(tmp_path):
    from importlib.resources import files

    from nomad_muse.examples import example_path
    from nomad_muse.examples import make_example

    p = example_path()
    assert p == type(p)(str(files("nomad_muse.examples").joinpath("example_mix.flac")))
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.format, info.subtype) == (44100, 2, "FLAC", "PCM_16")
    assert 11.5 <= info.duration <= 12.5
    assert p.stat().st_size < 1_500_000
    # the script regenerates the same samples (deterministic; allow 1 LSB of FFT rounding across builds)
    out = make_example.main([str(tmp_path / "again.flac")])
    a, _ = sf.read(str(p), dtype="int16")
    b, _ = sf.read(str(out), dtype="int16")
    assert a.shape == b.shape and int(np.max(np.abs(a.astype(int) - b.astype(int)))) <= 1


def test_hostile_text_is_escaped(tmp_path):
    evil = '<script>alert("x")</script>'
    toml = open(load_target("pop").path, encoding="utf-8").read()
    toml = re.sub(r'^name = .*$', f"name = {json.dumps(evil + '&co')}", toml, count=1, flags=re.M)
    toml = re.sub(r'^description = .*$', 'description = "<b onmouseover=alert(1)>desc</b>"', toml, count=1, flags=re.M)
    f = tmp_path / "evil.toml"
    f.write_text(toml, encoding="utf-8")
    tgt = load_target(f)
    assert tgt.name == evil + "&co"
    y = pink_noise(n=SR * 2, rng=np.random.default_rng(3), channels=2) * 0.05
    rep = analyze_array(y, sr=SR, target=tgt, source='<img src=x onerror="alert(2)">.wav')
    bad = Suggestion(kind="<svg onload=alert(3)>", severity="high", score=9.0, region="</td></tr></table>",
                     freq_lo_hz=None, freq_hi_hz=None, measured=1.0, target=0.0, unit="<u>",
                     action="cut & <boost>", why='"quoted" <why>')
    rep = dataclasses.replace(rep, suggestions=(bad, *rep.suggestions), notes=("<i>note</i>",))
    html = render_html(rep, tgt, target_lufs=-14.0)
    assert_self_contained(html)
    doc = parse(html)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co" in html
    assert "<svg onload" not in html and "&lt;svg onload=alert(3)&gt;" in html
    assert "cut &amp; &lt;boost&gt;" in html and "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in html
    assert "<b onmouseover" not in html and "<i>note" not in html
    assert len(doc.find("svg")) == 2 and len(doc.find("tr", cls="suggestion")) == len(rep.suggestions)


def test_mono_low_rate_file_with_unmeasured_bands(tmp_path):
    sr = 22050   # Nyquist 11 kHz: the air band (12-20 kHz) cannot be measured
    y = pink_noise(n=sr * 2, rng=np.random.default_rng(4), channels=1)[:, 0] * 0.05
    f = tmp_path / "mono.wav"
    sf.write(f, y, sr, subtype="PCM_16")
    out = tmp_path / "mono.html"
    r = muse("analyze", str(f), "--genre", "rock", "--report", str(out))
    assert r.returncode == 0, r.stderr
    assert "wrote HTML report" in r.stdout
    html = out.read_text(encoding="utf-8")
    doc = parse(html)
    assert doc.find("p", id="stereo-missing") and not doc.find("td", id="m-correlation")
    assert [a["data-band"] for a in doc.find("text", cls="band-missing")] == ["air"]
    assert len(doc.find("rect", cls="band-bar")) == 6 and len(doc.find("rect", cls="band-range")) == 7
    assert doc.find("polyline", cls="measured", inside="measured-curve")


def test_render_without_target_and_silent_programme():
    y = pink_noise(n=SR * 2, rng=np.random.default_rng(5), channels=2) * 0.05
    html = render_html(analyze_array(y, sr=SR))
    doc = parse(html)
    assert not doc.find(cls="target-band", inside="target-range") and not doc.find("rect", cls="band-range")
    assert len(doc.find("rect", cls="band-bar")) == 7 and doc.find("polyline", cls="measured")
    quiet = np.random.default_rng(6).standard_normal((SR, 2)) * 1e-5   # about -100 dBFS: below the gate
    doc = parse(render_html(analyze_array(quiet, sr=SR)))
    assert doc.find("p", id="tonal-missing") and not doc.find("svg")
    assert doc.find("td", id="m-integrated_lufs")[0]["data-value"] == "null"


def test_bad_report_path_is_one_line_exit_2(tmp_path):
    r = muse("analyze", "--example", "--report", str(tmp_path / "no" / "such" / "r.html"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "does not exist" in r.stderr and r.stdout == ""
    with pytest.raises(ParameterError, match="is a directory"):
        write_html(tmp_path, None)
    r = muse("analyze", str(tmp_path / "x.wav"), "--example")
    assert r.returncode == 2 and "not both" in r.stderr and "Traceback" not in r.stderr
    r = muse("analyze")
    assert r.returncode == 2 and "--example" in r.stderr and "Traceback" not in r.stderr
