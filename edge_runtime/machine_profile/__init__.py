"""The machine profile: what ``muse calibrate`` chose for this machine, and the run history.

Three concerns, one file each:

* :mod:`.profile` — the **profile file** ``profile.json`` in the data
  directory (:func:`nomad_muse.paths.data_dir`): hardware fingerprint, the
  backend/device/precision and model variant (path + SHA-256) per module, the
  tuned sizes, the FFTW wisdom file and the measurements behind each choice;
  read and written atomically.
* :mod:`.resolver` — which configuration applies here (:func:`resolve`):
  the data directory's profile, an explicit ``--profile``, or the defaults,
  refusing foreign or stale profiles.
* :mod:`.history` — ``history.sqlite``, every calibration and benchmark run
  ever made here (:class:`RunStore`), so ``muse bench history`` can show
  change over time.

The names below are re-exported so callers import from the package.
"""

from nomad_muse.machine_profile.history import HISTORY_NAME, HistoryBusyError, RunStore
from nomad_muse.machine_profile.profile import (
    MODULES,
    PROFILE_NAME,
    PROFILE_VERSION,
    MachineProfile,
    ModuleChoice,
    ProfileError,
    TunedConfig,
    default_profile_path,
    model_file_sha256,
    read_profile,
    sha256_file,
)
from nomad_muse.machine_profile.resolver import ActiveConfig, adopt_files, check_paths_inside, check_profile, resolve

__all__ = [
    "HISTORY_NAME", "MODULES", "PROFILE_NAME", "PROFILE_VERSION",
    "ActiveConfig", "HistoryBusyError", "MachineProfile", "ModuleChoice", "ProfileError", "RunStore", "TunedConfig",
    "adopt_files", "check_paths_inside", "check_profile", "default_profile_path", "model_file_sha256", "read_profile", "resolve",
    "sha256_file",
]
