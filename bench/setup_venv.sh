#!/bin/sh
# Create the benchmark venv: runbook-engine (editable, from this checkout) + its peers.
#   sh bench/setup_venv.sh [VENV]        (default /tmp/benchvenv)
set -eu
venv=${1:-/tmp/benchvenv}
repo=$(cd "$(dirname "$0")/.." && pwd)
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e "$repo[bench]"
echo "ready: $venv/bin/python $repo/bench/run.py [--quick]"
