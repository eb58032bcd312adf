# Shared by setup.sh and test.sh: apt packages (when root), the virtualenv.
# shellcheck shell=bash

# Wait until no other process holds apt's or dpkg's lock (a fresh Ubuntu runs
# unattended-upgrades right after boot), at most MUSE_APT_LOCK_TIMEOUT seconds
# (default 600), saying so once. Returns 1 on timeout. The lock files can be
# overridden with MUSE_APT_LOCKS (space-separated; tests use their own).
wait_for_apt_lock() {
  local timeout=${MUSE_APT_LOCK_TIMEOUT:-600}
  local locks=${MUSE_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
  local py
  py=$(command -v python3 || true)
  [ -n "$py" ] || return 0   # no Python yet: apt's own DPkg::Lock::Timeout below still waits
  "$py" - "$timeout" $locks <<'PYEOF'
import fcntl, os, sys, time
timeout, locks = float(sys.argv[1]), sys.argv[2:]
def held():
    for path in locks:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # absent or not ours to open: not a lock we can wait on
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # apt and dpkg take fcntl locks
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            return path
        finally:
            os.close(fd)
    return None
t0, said = time.monotonic(), False
while (path := held()):
    if not said:
        print(f"waiting for another package manager to finish ({path} is locked; up to {timeout:.0f} s) ...", flush=True)
        said = True
    if time.monotonic() - t0 > timeout:
        print(f"error: {path} still locked after {timeout:.0f} s; wait for the other apt/dpkg (e.g. unattended-upgrades) to finish and run this again", file=sys.stderr)
        sys.exit(1)
    time.sleep(1)
if said:
    print(f"lock free after {time.monotonic() - t0:.0f} s", flush=True)
PYEOF
}

# Install the Debian packages in "$@" that are missing (only as root with apt).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: missing system packages ${missing[*]}; install them with your package manager (not root or no apt here)" >&2
    return 0
  fi
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  wait_for_apt_lock || exit 1
  local lock_wait="DPkg::Lock::Timeout=${MUSE_APT_LOCK_TIMEOUT:-600}"
  apt-get -o "$lock_wait" update -qq
  apt-get -o "$lock_wait" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Pick a Python >= 3.10 that can make virtual environments; install Debian's if needed.
find_python() {
  PY=${PYTHON:-python3}
  if ! "$PY" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip
    PY=python3
  fi
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: Python >= 3.10 is needed (found $("$PY" --version 2>&1))" >&2; exit 1; }
}

make_venv() {
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
}

# pip install quietly, without hiding errors (pip's exit code is kept)
pip_install() {
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install -q "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
