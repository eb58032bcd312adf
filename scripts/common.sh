# Shared by setup.sh and test.sh: apt packages (when root), the virtualenv.
# shellcheck shell=bash

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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
