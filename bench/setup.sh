#!/usr/bin/env bash
# Install what the benchmarks need: wrk (Debian), taskset (util-linux), Go (for the reference
# webhook, expected on PATH), and the Python extras that make the hot path fast (uvloop,
# httptools: project dependencies, so `pip install -e .` brings them).
# Idempotent: does nothing that is already there. Needs root for apt-get.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v taskset >/dev/null || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "bench/setup.sh: need root to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "bench/setup.sh: go is not on PATH (needed to build the reference webhook)" >&2; exit 1; }

if [ ! -x "$repo/.venv/bin/python" ]; then
  python3 -m venv "$repo/.venv"
fi
"$repo/.venv/bin/pip" install --quiet -e "$repo[dev]"
echo "bench/setup.sh: wrk $(command -v wrk), go $(go env GOVERSION), venv $repo/.venv ready"
