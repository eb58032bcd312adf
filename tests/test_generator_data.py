"""Training-data loaders on small real samples laid out like the public datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nomad_muse.errors import InputError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.tokenizer import score_streams
from nomad_muse.paths import models_dir
from nomad_muse.training.generator_data import (
    export_music21_corpus,
    find_midi_files,
    official_split,
    scale_tempo,
    split_files,
    transpose_tokens,
    windows,
)

PROMPTS = models_dir() / "prompts"
PLANETBLUPI = Path("/usr/share/planetblupi/music")


def _real_samples() -> list[Path]:
    files = sorted(PROMPTS.glob("*.mid"))
    if PLANETBLUPI.is_dir():
        files += sorted(PLANETBLUPI.glob("*.mid"))[:4]
    return files


def test_lakh_layout_nested_hex_dirs(tmp_path):
    for i, f in enumerate(_real_samples()):
        d = tmp_path / "lmd_full" / "0123456789abcdef"[i]
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, d / f"{i:032x}.mid")
    (tmp_path / "lmd_full" / "notes.txt").write_text("not midi")
    files = find_midi_files(tmp_path)
    assert len(files) == len(_real_samples()) and all(f.suffix == ".mid" for f in files)
    sp = split_files(files, root=tmp_path)
    assert sum(len(v) for v in sp.values()) == len(files)
    assert not set(sp["train"]) & set(sp["validation"]) and not set(sp["train"]) & set(sp["test"])
    if len(files) >= 3:
        assert sp["test"] and sp["validation"]
    assert split_files(files, root=tmp_path) == sp  # stable


def test_maestro_layout_uses_its_csv_split(tmp_path):
    samples = _real_samples()[:3]
    rows = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration"]
    for f, split in zip(samples, ("train", "validation", "test")):
        rel = f"2018/{f.stem}.midi"
        (tmp_path / "2018").mkdir(exist_ok=True)
        shutil.copy(f, tmp_path / rel)
        rows.append(f"X,{f.stem},{split},2018,{rel},{rel}.wav,1.0")
    (tmp_path / "maestro-v3.0.0.csv").write_text("\n".join(rows) + "\n")
    files = find_midi_files(tmp_path)
    assert len(official_split(tmp_path)) == 3
    sp = split_files(files, root=tmp_path)
    assert [p.stem for p in sp["train"]] == [samples[0].stem]
    assert [p.stem for p in sp["validation"]] == [samples[1].stem]
    assert [p.stem for p in sp["test"]] == [samples[2].stem]


def test_groove_layout_info_csv(tmp_path):
    drums = PROMPTS / "drums_rock.mid"
    rows = ["drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split"]
    for i, split in enumerate(("train", "test")):
        rel = f"drummer1/session1/{i}_rock_110_beat_4-4.mid"
        (tmp_path / "drummer1" / "session1").mkdir(parents=True, exist_ok=True)
        shutil.copy(drums, tmp_path / rel)
        rows.append(f"drummer1,drummer1/session1,x{i},rock,110,beat,4-4,{rel},,2.0,{split}")
    (tmp_path / "info.csv").write_text("\n".join(rows) + "\n")
    sp = split_files(find_midi_files(tmp_path), root=tmp_path)
    assert len(sp["train"]) == 1 and len(sp["test"]) == 1
    streams = score_streams(read_midi(sp["train"][0]))
    assert [s.mode for s in streams] == ["drums"]


def test_missing_or_empty_directory(tmp_path):
    with pytest.raises(InputError, match=r"not a directory"):
        find_midi_files(tmp_path / "nope")
    with pytest.raises(InputError, match=r"no \.mid/\.midi files under"):
        find_midi_files(tmp_path)


def test_reserved_music21_collections_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"reserved for independent evaluation"):
        export_music21_corpus(tmp_path, ["bach", "monteverdi"])


def test_augmentation_transpose_tonal_and_tempo():
    (stream,) = score_streams(read_midi(PROMPTS / "tonal_c_major.mid"))
    up = transpose_tokens(stream.tokens, 2)
    names = [V.TOKENS[t] for t in up]
    assert names[2] == "KEY:D:major"
    orig_p = [int(V.TOKENS[t][6:]) for t in stream.tokens if V.TOKENS[t].startswith("PITCH_")]
    new_p = [int(n[6:]) for n in names if n.startswith("PITCH_")]
    assert new_p == [p + 2 for p in orig_p]
    assert transpose_tokens([V.INDEX["PITCH_108"]], 1) is None
    faster = scale_tempo(stream.tokens, 1.1)
    assert V.TOKENS[faster[3]] != V.TOKENS[stream.tokens[3]] or V.TOKENS[stream.tokens[3]] == "TEMPO_11"
    assert faster[5:] == list(stream.tokens[5:])


def test_windows_start_with_header_and_at_bar_lines():
    (stream,) = score_streams(read_midi(PROMPTS / "tonal_c_major.mid"))
    ws = list(windows(stream.tokens, 48, stride=16))
    assert len(ws) > 1
    for w in ws:
        assert w.dtype == np.int64 and len(w) == 48
        assert list(w[:5]) == list(stream.tokens[:5]) and w[5] == V.BAR


# ------------------------------------------------------------ sources and styles (issue 18)
def test_sources_label_styles_from_metadata(tmp_path):
    from nomad_muse.training.generator_data import Source

    m21 = Source("music21", tmp_path, "by_folder")
    assert m21.style_of("bach/bwv1.mid") == "classical" and m21.style_of("joplin/maple_leaf_rag.mid") == "popular"
    assert m21.sub_source("bach/bwv1.mid") == "music21/bach"
    blupi = Source("planetblupi", tmp_path, "popular", test=0.2)
    assert blupi.style_of("music000.mid") == "popular" and blupi.sub_source("music000.mid") == "planetblupi"


def test_windows_keep_the_styled_header():
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.tokenizer import score_streams
    from nomad_muse.paths import models_dir
    from nomad_muse.training.generator_data import windows

    toks = score_streams(read_midi(models_dir() / "prompts" / "tonal_c_major.mid"), style="folk")[0].tokens
    ws = list(windows(toks, 32, 16))
    assert ws and all(list(w[:6]) == list(toks[:6]) and w[6] == V.BAR for w in ws)


def test_batches_follow_style_weights_and_style_dropout():
    pytest.importorskip("torch")  # scripts/test.sh installs the training extra; a bare `pip install .[test]` skips
    import numpy as np

    from nomad_muse.training.train_generator import make_batch

    def win(style):
        return np.array([V.BOS, V.track_token("piano"), V.key_token((0, "major")), V.INDEX["TEMPO_6"], V.INDEX["METER_16"],
                         V.style_token(style), V.BAR, V.INDEX["POS_0"], V.INDEX["PITCH_60"], V.INDEX["VEL_8"], V.INDEX["DUR_4"]])

    pool = {"folk": {"tonal": [win("folk")], "drums": []}, "classical": {"tonal": [win("classical")], "drums": []}}
    rng = np.random.default_rng(0)
    x = make_batch(pool, 400, rng, {"folk": 1.0, "classical": 0.0}, 0.3, 0.0, augment=False)
    assert set(x[:, 5].tolist()) == {V.style_token("folk")}
    x = make_batch(pool, 2000, rng, {"folk": 0.5, "classical": 0.5}, 0.3, 0.25, augment=False)
    share = {s: float((x[:, 5] == V.style_token(s)).float().mean()) for s in ("folk", "classical", "any")}
    assert abs(share["any"] - 0.25) < 0.04 and abs(share["folk"] - share["classical"]) < 0.06
