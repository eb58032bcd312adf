"""What a module's model is, as tensors: one value object per module (like anira's ``InferenceConfig``).

A :class:`ModelSpec` names the shipped model file, its input and output
tensors, the recurrent state pairs the backend carries between calls
(``{input: output}``, e.g. the generator's GRU ``{"h": "h_out"}``) and the
time budget one call must fit in.  Modules declare theirs
(``nomad_muse.generator.engine.SPEC``, ``nomad_muse.classifier.stream.SPEC``);
``nomad_muse.runtime.select`` turns a spec plus the machine profile and the
overrides into a loaded model.  Backends know tensors only, so the spec lives
here and carries no music.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nomad_muse.errors import ParameterError


@dataclass(frozen=True)
class ModelSpec:
    """One module's model contract.

    Attributes
    ----------
    module : str
        Module name ("generator", "classifier").
    filename : str
        The shipped FP32 model, relative to the package's ``models/`` directory.
    inputs, outputs : tuple of str
        Tensor names fed and read on every call (state tensors included).
    state : tuple of (input, output) pairs
        Recurrent state the backend feeds back from ``output`` into ``input``.
    budget_ms : float
        Time one call must fit in (ms): the audio period the profile's budget defaults to.
    """

    module: str
    filename: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    state: tuple[tuple[str, str], ...] = ()
    budget_ms: float = 20.0

    def __post_init__(self) -> None:
        for i, o in self.state:
            if i not in self.inputs or o not in self.outputs:
                raise ParameterError(f"state pair {i}->{o} of the {self.module} spec must name one of its inputs and outputs")
        if self.budget_ms <= 0:
            raise ParameterError(f"budget_ms={self.budget_ms} must be > 0")

    @property
    def state_map(self) -> dict[str, str] | None:
        """The state pairs as the ``state=`` mapping the backends take (None when stateless)."""
        return dict(self.state) or None

    def default_path(self, models_dir: Path) -> Path:
        return Path(models_dir) / self.filename
