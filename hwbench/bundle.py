"""``muse bundle``: everything a rig needs to run offline, in one tar.gz.

Layout inside the archive (one top folder, ``muse-rig/``)::

    install.sh            venv + pip --no-index from wheelhouse/, apply data/, muse certify
    muse-serve.service.in systemd unit for the headless mode (muse serve); install.sh fills in the venv path
    manifest.json         what is inside: versions, Python, platform, SHA-256 of every file
    wheelhouse/*.whl      this project and every runtime dependency (see hwbench.wheelhouse)
    data/profile.json     the machine profile (if calibrated), model paths made relative
    data/models/*         calibrated model variants (INT8 …) the profile names
    data/fftw_wisdom*     FFTW wisdom
    README.txt

``python -m nomad_muse.hwbench.bundle apply DIR`` (run by install.sh with the rig's new
interpreter) copies ``data/`` into the rig's data directory and rewrites the
profile's model paths there.  A rig whose hardware fingerprint differs from
the calibrated machine keeps the profile but the runtime refuses it (and says
so); install.sh then tells the user to run ``muse calibrate`` on the rig.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from nomad_muse.errors import InputError, ParameterError

TOP = "muse-rig"

INSTALL_SH = r"""#!/bin/sh
# Install Nomad Muse Edge on this rig from the bundle, offline, then certify it.
#   sh install.sh                 venv in ./venv next to this script
#   MUSE_PREFIX=/opt/muse sh install.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${MUSE_PREFIX:-$HERE/venv}
PY=${PYTHON:-python3}
want="@PYVER@"
have=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)
if [ "$have" != "$want" ]; then
  echo "error: this bundle was made for Python $want but $PY is $have; install Python $want (or set PYTHON=...) and run again" >&2
  exit 2
fi
arch=$(uname -m)
if [ "$arch" != "@ARCH@" ]; then
  echo "error: this bundle is for @ARCH@ but this machine is $arch; make a bundle on a machine of this architecture" >&2
  exit 2
fi
echo "[1/4] creating the virtual environment $PREFIX"
"$PY" -m venv "$PREFIX"
echo "[2/4] installing $(ls "$HERE"/wheelhouse/*.whl | wc -l) wheels offline (about a minute)"
# --no-deps: the wheelhouse is the complete closure, minus what is deliberately not shipped (telemetry)
"$PREFIX/bin/python" -m pip install -q --no-index --no-deps "$HERE"/wheelhouse/*.whl
echo "[3/4] applying the calibrated models, profile and FFTW wisdom"
"$PREFIX/bin/python" -m nomad_muse.hwbench.bundle apply "$HERE"
# the unit is written by Python with systemd's quoting rules (a path may hold spaces, & or |)
"$PREFIX/bin/python" -m nomad_muse.hwbench.bundle unit "$HERE/muse-serve.service.in" "$PREFIX" "$HERE/muse-serve.service"
echo "systemd user unit for the headless mode: $HERE/muse-serve.service"
if ! ldconfig -p 2>/dev/null | grep -q libportaudio; then
  echo "note: libportaudio2 is not installed: muse live/serve need it (apt install libportaudio2 jackd2); files-in/files-out work without it"
fi
echo "installation: OK — $PREFIX/bin/muse"
if [ "${MUSE_SKIP_CERTIFY:-0}" = "1" ]; then exit 0; fi
# Certification is a second, separate result: its verdict is reported (and kept in
# $HERE/certify/), it does not turn a successful installation into a failed one.
echo "[4/4] certifying this rig against the minimum spec (a few minutes; progress below)"
set +e
"$PREFIX/bin/muse" certify --out "$HERE/certify" ${MUSE_CERTIFY_ARGS:-}
rc=$?
set -e
case $rc in
  0) echo "certification: PASS (no FAIL criterion) — $HERE/certify/certificate.html" ;;
  1) echo "certification: FAIL — the rig is installed, but it does not meet the spec; see $HERE/certify/certificate.html" ;;
  *) echo "certification: not run (muse certify exit $rc) — the rig is installed; run \"$PREFIX/bin/muse certify\" to certify" ;;
esac
exit 0
"""

SERVICE = """# A systemd *user* unit (install into ~/.config/systemd/user/, run with systemctl --user).
# LimitRTPRIO/LimitMEMLOCK let the engine ask for real-time scheduling and lock its
# memory; a user manager can only grant them up to the limits PAM gives the user
# (/etc/security/limits.d: e.g. `@audio - rtprio 95` and `@audio - memlock unlimited`,
# with the user in group audio). Without them the engine runs at normal priority.
[Unit]
Description=Nomad Muse Edge headless engine (muse serve)
After=sound.target jack.service
Wants=jack.service

[Service]
Type=simple
ExecStart=@PREFIX@/bin/muse serve --log-file %h/.local/state/muse/serve.log --status-file %h/.local/state/muse/status.json
Restart=on-failure
RestartSec=3
LimitRTPRIO=95
LimitMEMLOCK=infinity

[Install]
WantedBy=default.target
"""

README = """Nomad Muse Edge rig bundle
==========================
Made {created} on {machine} (Python {python}, {arch}).

1. Copy this folder to the rig (same CPU architecture and Python {python}).
2. sh install.sh            installs offline into ./venv and runs `muse certify`
3. ./venv/bin/muse demo     files in, files out, no sound card needed
4. Headless: install.sh wrote muse-serve.service (ExecStart = this venv), then
   cp muse-serve.service ~/.config/systemd/user/ && systemctl --user enable --now muse-serve
Profile: {profile}
"""


def make_bundle(out: Path, *, profile: Path | None = None, target_python: str | None = None, wheels: str = "env",
                progress=None) -> dict:
    """Write the rig bundle to ``out`` (``.tar.gz``); returns the manifest."""
    from nomad_muse import __version__, paths
    from nomad_muse.machine_profile import default_profile_path, read_profile, sha256_file
    from nomad_muse.hwbench import wheelhouse

    out = Path(out)
    if not out.name.endswith((".tar.gz", ".tgz")):
        raise ParameterError(f"out={str(out)!r}: the bundle is a .tar.gz; name it e.g. rig.tar.gz", field="out")
    if not out.parent.exists():
        raise ParameterError(f"out={str(out)!r}: folder {out.parent} does not exist", field="out")
    pyver = "%d.%d" % sys.version_info[:2]
    target_python = target_python or pyver
    if wheels not in ("env", "index"):
        raise ParameterError(f"wheels={wheels!r} must be 'env' (repack this environment, offline) or 'index' (pip download)", field="wheels")
    if wheels == "env" and target_python != pyver:
        raise ParameterError(f"--target-python {target_python}: repacking this environment gives Python {pyver} wheels; "
                             f"use --wheels index to download wheels for {target_python}")
    prof_src = Path(profile) if profile else default_profile_path()
    prof = read_profile(prof_src) if (profile or prof_src.exists()) else None
    if prof is not None:
        from nomad_muse.machine_profile import check_paths_inside

        check_paths_inside(prof, source=f"profile {prof_src}")  # ship only what the product wrote
    notes = []
    with tempfile.TemporaryDirectory(prefix="muse-bundle-") as tmp:
        root = Path(tmp) / TOP
        (root / "data" / "models").mkdir(parents=True)
        wh = root / "wheelhouse"
        if wheels == "env":
            wheelhouse.wheelhouse_from_env(wh, progress=progress)
        else:
            wheelhouse.wheelhouse_from_index(wh, target_python)
        if prof is not None:
            d = prof.to_dict()
            for m, c in d["modules"].items():
                src = Path(c["model"])
                if src.is_absolute():  # a variant in the data dir: ship it, name it relative
                    if not src.is_file():
                        raise InputError(f"profile {prof_src}: {m} model {src} is missing; run `muse calibrate` again")
                    shutil.copy2(src, root / "data" / "models" / src.name)
                    if src.suffix == ".xml" and src.with_suffix(".bin").is_file():
                        shutil.copy2(src.with_suffix(".bin"), root / "data" / "models" / src.with_suffix(".bin").name)
                    c["model"] = f"@DATA@/models/{src.name}"
                srcm = c.get("source_model") or ""
                if Path(srcm).is_absolute():  # never ship a build-machine path; the rig has the shipped model by name
                    c["source_model"] = Path(srcm).name
            w = d.get("fftw_wisdom")
            if w and Path(w).is_file():
                shutil.copy2(w, root / "data" / Path(w).name)
                d["fftw_wisdom"] = f"@DATA@/{Path(w).name}"
            elif w:  # the wisdom directory (the data dir): its files are copied below
                d["fftw_wisdom"] = "@DATA@"
            (root / "data" / "profile.json").write_text(json.dumps(d, indent=2) + "\n")
            notes.extend(f"warning: the shipped profile is partly {n} (the rig runs what was not proven on defaults)"
                         for n in prof.unproven_notes())
        else:
            notes.append("no machine profile here: the rig starts on defaults (run `muse calibrate` on it)")
        for wis in paths.data_dir().glob("fftw_wisdom*"):
            if not (root / "data" / wis.name).exists():
                shutil.copy2(wis, root / "data" / wis.name)
        (root / "install.sh").write_text(INSTALL_SH.replace("@PYVER@", target_python).replace("@ARCH@", platform.machine()))
        (root / "install.sh").chmod(0o755)
        (root / "muse-serve.service.in").write_text(SERVICE)
        created = time.strftime("%Y-%m-%d %H:%M")
        (root / "README.txt").write_text(README.format(
            created=created, machine=f"fingerprint {prof.fingerprint}" if prof else "an uncalibrated machine",
            python=target_python, arch=platform.machine(), profile=Path(prof_src).name if prof else "none"))
        files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
        manifest = {
            "version": __version__,
            "created": created,
            "python": target_python,
            "arch": platform.machine(),
            "platform": sys.platform,
            "fingerprint": prof.fingerprint if prof else None,
            "profile": bool(prof),
            "wheels": sorted(p.name for p in wh.glob("*.whl")),
            "files": files,
            "notes": notes,
        }
        (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        from nomad_muse.paths import atomic_output

        with atomic_output(out, what="-o") as tmp_out:  # temp + rename: a failed run leaves an old bundle intact
            with tarfile.open(tmp_out, "w:gz", compresslevel=1) as tf:
                tf.add(root, arcname=TOP)
    manifest["out"] = str(out)
    manifest["bytes"] = out.stat().st_size
    return manifest


def apply_bundle(bundle_dir: Path) -> list[str]:
    """Copy a bundle's ``data/`` into this machine's data directory; rewrite the profile's paths there."""
    from nomad_muse import paths
    from nomad_muse.machine_profile import MachineProfile, check_paths_inside, default_profile_path

    src = Path(bundle_dir) / "data"
    if not src.is_dir():
        raise InputError(f"{bundle_dir} has no data/ folder: not an unpacked muse bundle")
    dest = paths.data_dir()
    (dest / "models").mkdir(parents=True, exist_ok=True)
    msgs = []
    for f in (src / "models").glob("*"):
        shutil.copy2(f, dest / "models" / f.name)
    for f in src.glob("fftw_wisdom*"):
        shutil.copy2(f, dest / f.name)
    prof_file = src / "profile.json"
    if prof_file.is_file():
        text = prof_file.read_text().replace("@DATA@", str(dest))
        prof = MachineProfile.from_dict(json.loads(text), source=str(prof_file))
        check_paths_inside(prof, source=str(prof_file))
        prof.save(default_profile_path())
        msgs.append(f"profile installed: {default_profile_path()}")
        from nomad_muse.probe import probe

        fp = probe().fingerprint
        if fp != prof.fingerprint:
            msgs.append(f"this rig's hardware fingerprint {fp} differs from the calibrated machine's {prof.fingerprint}: "
                        "the runtime will use defaults until you run `muse calibrate` here")
    else:
        msgs.append("no profile in the bundle: defaults in use until `muse calibrate`")
    return msgs


def systemd_quote(word: str) -> str:
    """One command-line word for a unit's ``ExecStart=`` (systemd.service "Command lines", systemd.unit
    "Specifiers"): double-quoted, ``\\`` and ``"`` escaped, ``%`` doubled (specifier) and ``$`` doubled
    (variable expansion), so a path with spaces, ``&``, ``|`` or quotes stays one literal argument."""
    if any(c in word for c in "\n\r\0"):
        from nomad_muse.errors import ParameterError

        raise ParameterError(f"path {word!r}: a newline or NUL cannot go into a systemd unit")
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$") + '"'


def write_unit(template: Path, prefix: Path, out: Path) -> Path:
    """Fill the unit template: ``@PREFIX@/bin/muse`` becomes the quoted absolute path of this venv's ``muse``."""
    text = Path(template).read_text()
    muse = systemd_quote(str(Path(prefix).absolute() / "bin" / "muse"))
    text = text.replace("@PREFIX@/bin/muse", muse)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m nomad_muse.hwbench.bundle apply BUNDLE_DIR | unit TEMPLATE PREFIX OUT"
    if not ((len(argv) == 2 and argv[0] == "apply") or (len(argv) == 4 and argv[0] == "unit")):
        print(usage, file=sys.stderr)
        return 2
    from nomad_muse.errors import MuseError

    try:
        if argv[0] == "unit":
            print(f"wrote {write_unit(Path(argv[1]), Path(argv[2]), Path(argv[3]))}")
            return 0
        for m in apply_bundle(Path(argv[1])):
            print(m)
    except MuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
