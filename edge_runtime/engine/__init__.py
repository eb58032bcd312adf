"""The real-time engine (issue 8): the integrated pipeline live on audio and MIDI, and offline on files.

Layout (one concern per module):

* :mod:`.config` — :class:`EngineConfig`, frozen, built from the machine profile plus flags.
* :mod:`.ring` — pre-allocated single-producer/single-consumer ring buffers (audio blocks, timed events).
* :mod:`.clock` — the tempo clock (beats ↔ samples) and the MIDI-clock follower.
* :mod:`.synth` — the built-in renderer (drum and tonal voices in numpy) and the optional FluidSynth one.
* :mod:`.timing` — generator tokens → timed note events, incrementally.
* :mod:`.core` — :class:`Engine`: the audio callback, the rings and the state the workers share.
* one file per worker, each with its ``step()`` and fallbacks: :mod:`.generator_worker`,
  :mod:`.renderer_worker`, :mod:`.classifier_worker` (+ the capture worker), :mod:`.analyzer_worker`;
  :mod:`.midi` — python-rtmidi (JACK) MIDI in (polled) and MIDI out (scheduled).
* :mod:`.stats` — :class:`Counters` (fallbacks, misses) and :class:`Timing` (step times vs budget).
* :mod:`.setup` — :func:`build_pipeline`: the engine and its workers from the machine profile.
* :mod:`.live` — sounddevice stream, threads, shutdown; :mod:`.offline` — files in, files out (``muse demo``).
* :mod:`.dashboard` — the rich terminal dashboard; :mod:`.report` — ``out/report.html``.
"""
