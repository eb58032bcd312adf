"""The STYLE context token (issue 18): vocabulary, tokenizer, grammar, --style, and style inference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.grammar import Grammar
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.tokenizer import HEADER_LEN, decode, header_len, score_streams, with_style
from nomad_muse.paths import models_dir

PROMPTS = models_dir() / "prompts"
MODEL = models_dir() / "generator.onnx"
PLANETBLUPI = Path("/usr/share/planetblupi/music")


def _model_has_style() -> bool:
    if not MODEL.is_file():
        return False
    import onnx

    out = onnx.load(str(MODEL), load_external_data=False).graph.output
    logits = next(o for o in out if o.name == "logits")
    return logits.type.tensor_type.shape.dim[-1].dim_value > V.STYLE_IDS[0]


needs_style_model = pytest.mark.skipif(not _model_has_style(), reason="the shipped generator has no STYLE tokens")


def test_style_tokens_and_refusal():
    assert [V.TOKENS[i] for i in V.STYLE_IDS] == [f"STYLE:{s}" for s in V.STYLES]
    assert V.style_of_token(V.style_token("folk")) == "folk" and V.style_of_token(V.BOS) is None
    with pytest.raises(ParameterError, match="'rock'"):
        V.style_token("rock")


def test_header_ends_with_the_style_token_and_decodes_the_same():
    score = read_midi(PROMPTS / "tonal_c_major.mid")
    plain = score_streams(score)[0]
    styled = score_streams(score, style="classical")[0]
    assert styled.style == "classical" and plain.style is None
    assert header_len(plain.tokens) == HEADER_LEN and header_len(styled.tokens) == HEADER_LEN + 1
    assert styled.tokens[HEADER_LEN] == V.style_token("classical")
    assert list(styled.tokens[:HEADER_LEN]) == list(plain.tokens[:HEADER_LEN])
    assert list(styled.tokens[HEADER_LEN + 1:]) == list(plain.tokens[HEADER_LEN:])
    assert decode(styled.tokens).notes == decode(plain.tokens).notes
    # replace, remove
    assert with_style(styled.tokens, "folk")[HEADER_LEN] == V.style_token("folk")
    assert with_style(styled.tokens, None) == list(plain.tokens)
    assert with_style(plain.tokens, "electronic") == with_style(styled.tokens, "electronic")


def test_grammar_reads_a_styled_header_like_a_plain_one():
    score = read_midi(PROMPTS / "drums_rock.mid")
    plain = score_streams(score)[0].tokens
    styled = score_streams(score, style="popular")[0].tokens
    ga, gb = Grammar("drums"), Grammar("drums")
    for t in plain[:-1]:
        ga.feed(t)
    for t in styled[:-1]:
        gb.feed(t)
    assert (ga.state, ga.pos, ga.meter, ga.bars) == (gb.state, gb.pos, gb.meter, gb.bars)
    assert (ga.mask() == gb.mask()).all()
    assert not ga.mask()[V.STYLE_IDS].any()  # never sampled after the header


def _muse(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_cli_refuses_an_unknown_style_in_one_line(tmp_path):
    out = tmp_path / "o.mid"
    out.write_bytes(b"old")
    r = _muse("generate", "--bundled", "tonal", "--style", "rock", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "'rock'" in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"old"


@pytest.mark.skipif(_model_has_style(), reason="the shipped generator has STYLE tokens")
def test_a_model_without_style_tokens_ignores_the_style(tmp_path):
    from nomad_muse.generator.session import generate_file

    a = generate_file(PROMPTS / "tonal_c_major.mid", tmp_path / "a.mid", seed=3, style="folk")
    b = generate_file(PROMPTS / "tonal_c_major.mid", tmp_path / "b.mid", seed=3, style="auto")
    assert a["style"] is None and b["style"] is None
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


@needs_style_model
def test_style_changes_the_continuation_and_auto_reports_its_scores(tmp_path):
    from nomad_muse.generator.session import generate_file

    a = generate_file(PROMPTS / "tonal_c_major.mid", tmp_path / "a.mid", seed=3, style="folk")
    b = generate_file(PROMPTS / "tonal_c_major.mid", tmp_path / "b.mid", seed=3, style="electronic")
    c = generate_file(PROMPTS / "tonal_c_major.mid", tmp_path / "c.mid", seed=3, style="auto")
    assert (a["style"], b["style"]) == ("folk", "electronic")
    assert (tmp_path / "a.mid").read_bytes() != (tmp_path / "b.mid").read_bytes()
    assert c["style"] in V.STYLES and set(c["style_scores"]) == {s for s in V.STYLES if s != "any"}
    assert c["style"] == min(c["style_scores"], key=c["style_scores"].get)
    d = generate_file(None, tmp_path / "d.mid", seed=3, style="auto")
    assert d["style"] == "any"
