#!/usr/bin/env bash
# Install the Ansible EDA peer (ansible-rulebook + the ansible.eda collection) under $BASE,
# for `bench/run.py --only serve`. Nothing is installed in the repository.
#
#   bash bench/eda/install.sh PATH/TO/ansible-eda-X.Y.Z.tar.gz
#   EDA_COLLECTION=PATH/TO/ansible-eda-X.Y.Z.tar.gz bash bench/eda/install.sh
#
# The collection is a tarball (`ansible-galaxy collection build` of the
# ansible/event-driven-ansible repository, or a download from Galaxy); with no tarball
# given, `ansible.eda` is asked of Galaxy. Everything else comes from PyPI. The rule
# engine needs a Java 17 runtime: on Debian/Ubuntu
#   apt-get install -y --no-install-recommends openjdk-17-jre-headless
# BASE defaults to ${TMPDIR:-/tmp}/eda-peer; JAVA_HOME to the Debian JRE 17 folder.
set -euo pipefail
BASE=${BASE:-${TMPDIR:-/tmp}/eda-peer}
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
COLLECTION=${1:-${EDA_COLLECTION:-ansible.eda}}
if ! "$JAVA_HOME/bin/java" -version >/dev/null 2>&1; then
  echo "install.sh: no Java 17 runtime at JAVA_HOME=$JAVA_HOME" >&2
  echo "  install one (Debian: apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME" >&2
  exit 1
fi
if [ "$COLLECTION" != ansible.eda ] && [ ! -f "$COLLECTION" ]; then
  echo "install.sh: no collection tarball at $COLLECTION" >&2
  exit 1
fi
mkdir -p "$BASE"/{marks,tmp,collections,ansible-home}
python3 -m venv "$BASE/venv"
"$BASE/venv/bin/pip" install -q ansible-rulebook==1.3.2 ansible-core==2.19.14 aiohttp==3.14.5 \
    drools_jpy==0.4.1 jpy==2.2.0 ansible-runner==2.4.3 dpath==2.2.0
ANSIBLE_HOME="$BASE/ansible-home" "$BASE/venv/bin/ansible-galaxy" collection install \
    "$COLLECTION" -p "$BASE/collections" >/dev/null
printf '%s\n' "$JAVA_HOME" >"$BASE/java-home"
"$BASE/venv/bin/ansible-rulebook" --version
