#!/usr/bin/env bash
# Start the Ansible EDA peer in the foreground (the bench starts and stops it itself):
# Alertmanager's webhook on http://127.0.0.1:$EDA_PORT/endpoint (default 15051), no auth.
# Each firing `BenchServe` alert runs playbooks/mark.yml, which appends the time it
# started ($EPOCHREALTIME, microseconds) to $EDA_MARKS/<the alert's `id` label>.
# Needs bench/eda/install.sh first (same BASE).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:-${TMPDIR:-/tmp}/eda-peer}
if [ ! -x "$BASE/venv/bin/ansible-rulebook" ]; then
  echo "start.sh: ansible-rulebook is not installed under $BASE: run bench/eda/install.sh" >&2
  exit 3
fi
JAVA_HOME=${JAVA_HOME:-$(cat "$BASE/java-home" 2>/dev/null || echo /usr/lib/jvm/java-17-openjdk-amd64)}
export JAVA_HOME
export PATH="$BASE/venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$BASE/collections" ANSIBLE_HOME="$BASE/ansible-home"
export TMPDIR="$BASE/tmp" EDA_PORT=${EDA_PORT:-15051} EDA_MARKS=${EDA_MARKS:-$BASE/marks}
mkdir -p "$EDA_MARKS" "$TMPDIR"
cd "$HERE"
printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n' \
    "$BASE/venv/bin/python3" >"$BASE/inventory.yml"
exec ansible-rulebook -r rulebook.yml -i "$BASE/inventory.yml" -E EDA_PORT,EDA_MARKS \
     --execution-strategy "${EDA_STRATEGY:-sequential}" -m "${EDA_MAX_CONCURRENT:-4}" "$@"
