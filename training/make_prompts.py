"""Write the bundled prompts ``models/prompts/*.mid`` (our own material, no third-party data).

* ``tonal_c_major.mid``: 4 bars, piano, a I–vi–IV–V progression in C major
  (block chords on beats 1 and 3) under a stepwise quarter-note melody.
* ``drums_rock.mid``: 2 bars of a basic rock beat on channel 10 (kick on
  1 and 3, snare on 2 and 4, closed hi-hat eighths, a crash on the first beat).

    python -m nomad_muse.training.make_prompts
"""

from pathlib import Path

from nomad_muse.generator.midi_io import Note, Score, write_midi

OUT = Path(__file__).resolve().parents[1] / "models" / "prompts"


def tonal() -> Score:
    chords = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]  # C, Am, F, G
    melody = [64, 65, 67, 65, 64, 62, 60, 62, 65, 64, 62, 60, 59, 62, 67, 65]
    notes = []
    for bar, chord in enumerate(chords):
        for beat in (0, 2):
            notes += [Note(bar * 4 + beat, 2.0, p, 70, 0, 0) for p in chord]
    notes += [Note(i * 1.0, 1.0, p, 90, 0, 0) for i, p in enumerate(melody)]
    return Score(tuple(sorted(notes, key=lambda n: (n.start, n.pitch))), 100.0, ((0.0, 4, 4),))


def drums() -> Score:
    notes = [Note(0.0, 0.25, 49, 110, 9)]
    for bar in range(2):
        b = bar * 4
        notes += [Note(b + x, 0.25, 36, 110, 9) for x in (0, 2, 2.5)]
        notes += [Note(b + x, 0.25, 38, 105, 9) for x in (1, 3)]
        notes += [Note(b + x * 0.5, 0.25, 42, 80 if x % 2 else 95, 9) for x in range(8)]
    return Score(tuple(sorted(notes, key=lambda n: (n.start, n.pitch))), 110.0, ((0.0, 4, 4),))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print(write_midi(tonal(), OUT / "tonal_c_major.mid"))
    print(write_midi(drums(), OUT / "drums_rock.mid"))


if __name__ == "__main__":
    main()
