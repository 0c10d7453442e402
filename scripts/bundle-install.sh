#!/bin/sh
# Install or upgrade Fangkong from this offline bundle (made by scripts/bundle): no network,
# no package index, only this directory's wheels, each checked against requirements.lock.
#   sh install.sh VENV        e.g. sh install.sh /srv/fangkong/venv
# A new VENV is created with python3 (PYTHON=... for another); an existing one is upgraded
# in place (then run `VENV/bin/fangkong migrate`). Copied into the bundle as install.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:?usage: sh install.sh VENV_DIRECTORY}
PY=${PYTHON:-python3}

(cd "$here" && sha256sum --quiet -c SHA256SUMS) || { echo "the bundle is damaged (SHA256SUMS)" >&2; exit 1; }
read -r want platform < "$here/PYTHON"
if [ ! -x "$venv/bin/python" ]; then
  "$PY" -m venv "$venv" || { echo "could not create $venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
have=$("$venv/bin/python" -c 'import sys, sysconfig; print("%d.%d" % sys.version_info[:2], sysconfig.get_platform())')
if [ "$have" != "$want $platform" ]; then
  echo "this bundle is for Python $want on $platform; $venv has $have" >&2
  exit 1
fi

# Every package index off: no pip.conf, no PIP_* settings from the environment.
for name in $(env | sed -n 's/^\(PIP_[A-Z0-9_]*\)=.*/\1/p'); do unset "$name"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels" \
  --require-hashes -r "$here/requirements.lock"
# The project itself (same version number in a newer bundle: reinstalled all the same).
"$venv/bin/python" -m pip install --quiet --no-index --no-deps --force-reinstall "$here"/wheels/fangkong-*.whl

# The PDF notices' CJK font, where fangkong/documents/pdf.py looks first.
if [ -d "$here/fonts" ]; then
  mkdir -p "$venv/share/fangkong/fonts"
  cp "$here"/fonts/* "$venv/share/fangkong/fonts/"
fi
echo "Fangkong installed in $venv: run $venv/bin/fangkong migrate, then $venv/bin/fangkong run (README: Air-gapped install)"
