"""Mix analyzer: FFTW-planned spectra, BS.1770-4/EBU R128 loudness, true peak, stereo,
dynamics, tonal balance against genre targets, and plain-language suggestions.

Entry points: :func:`analyze_file`, :func:`analyze_array` and the streaming
:class:`Analyzer` (``push(block)`` / ``report()``).
"""

from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig, analyze_array, analyze_file
from nomad_muse.analyzer.suggest import DELIVERY_LUFS, SuggestOptions
from nomad_muse.analyzer.targets import Target, build_target, load_target

__all__ = ["Analyzer", "AnalyzerConfig", "analyze_array", "analyze_file", "SuggestOptions", "DELIVERY_LUFS",
           "Target", "build_target", "load_target"]
