"""Building an engine with its workers from the machine profile: shared by ``muse live`` and ``muse demo``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nomad_muse.engine.config import EngineConfig
from nomad_muse.engine.analyzer_worker import AnalyzerWorker
from nomad_muse.engine.classifier_worker import CaptureWorker, ClassifierWorker
from nomad_muse.engine.core import Engine
from nomad_muse.engine.generator_worker import GeneratorWorker
from nomad_muse.engine.renderer_worker import RenderWorker
from nomad_muse.errors import BackendError

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """An engine, its workers, and what was chosen on the way (backends, notes)."""

    engine: Engine
    generator: GeneratorWorker
    renderer: RenderWorker
    analyzer: AnalyzerWorker
    classifier: ClassifierWorker | None
    capture: CaptureWorker | None = None
    backends: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def captured_input(self):
        """The input audio as the engine received it ``(n, channels)`` (needs ``capture_input=True``)."""
        import numpy as np

        src = self.classifier.captured if self.classifier is not None else (self.capture.captured if self.capture else None)
        if not src:
            return np.zeros((0, self.engine.cfg.channels), np.float32)
        return np.concatenate(src)

    @property
    def workers(self) -> list:
        return [w for w in (self.generator, self.renderer, self.classifier, self.capture, self.analyzer) if w is not None]


def build_pipeline(cfg: EngineConfig, active, *, realtime: bool, prompt=None, backing=None,
                   keep_classifier_results: bool = False, capture_input: bool = False,
                   full_analysis: bool = False) -> Pipeline:
    """Load the models on the profile's backends and wire the workers.

    A classifier model that cannot be loaded (not built yet, corrupt, no
    backend) is not fatal: the engine runs without it, says so in
    ``notes``, and the generator's mode then comes from the prompt or the flag.
    """
    from nomad_muse.analyzer.targets import load_target
    from nomad_muse.engine.synth import make_renderer
    from nomad_muse.generator.engine import Generator
    from nomad_muse.runtime import select

    notes = list(getattr(active, "notes", ()))
    target = load_target(cfg.genre)
    engine = Engine(cfg, realtime=realtime)
    gen = Generator(loaded=select("generator", active=active))
    backends = {"generator": str(gen.loaded.candidate)}
    notes += [f"generator backend fallback: {f}" for f in gen.loaded.fallbacks]
    cw = None
    try:
        loaded = select("classifier", active=active)
        cw = ClassifierWorker(engine, loaded.model, keep_results=keep_classifier_results, capture=capture_input)
        backends["classifier"] = str(loaded.candidate)
        notes += [f"classifier backend fallback: {f}" for f in loaded.fallbacks]
    except BackendError as e:
        notes.append(f"classifier off: {e}")
        backends["classifier"] = "off"
    renderer = make_renderer(cfg.renderer, cfg.sample_rate)
    backends["renderer"] = renderer.name
    from nomad_muse.analyzer import fft

    backends["analyzer"] = fft.backend_name()
    rw = RenderWorker(engine, renderer, backing=backing)
    gw = GeneratorWorker(engine, gen, prompt=prompt, render_pos=lambda: rw.pos)
    rw.attach(gw.render_queue)
    rw._gen_horizon_frame = lambda: engine.clock.frame_at(gw.anchor_beat + gw.horizon) if gw.timeline else -1
    aw = AnalyzerWorker(engine, target=target, full=full_analysis)
    cap = CaptureWorker(engine) if capture_input and cw is None else None
    engine.feed_classifier = cw is not None or cap is not None
    p = Pipeline(engine, gw, rw, aw, cw, capture=cap, backends=backends, notes=notes)
    engine.workers = p.workers
    return p
