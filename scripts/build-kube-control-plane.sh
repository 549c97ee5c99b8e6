#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, v1.20 as shipped by Debian bookworm) for the Kubernetes tests.
#
#   scripts/build-kube-control-plane.sh [OUT_DIR]
#
# OUT_DIR defaults to ${RUNBOOK_KUBE_CACHE:-/var/cache/runbook-engine/kube-1.20}: a
# cache OUTSIDE the checkout (the binaries are ~240 MB). When the three binaries are
# already there the build is skipped; only the runtime packages are (re)checked.
#
# Debian ships only kubectl as a binary package, but the `kubernetes` *source*
# package's orig tarball is the full upstream tree incl. vendor/, so the build needs
# nothing beyond the machine's own Debian mirror (GOPROXY=off). It takes ~7 minutes
# on 2 cores. Installs: golang-go rsync jq (build) and etcd-server (runtime).
# A separate apt state dir is used for deb-src entries: /etc/apt is not modified.
set -euo pipefail
shopt -s inherit_errexit  # a failing fetch inside $(...) stops the script too

OUT=${1:-${RUNBOOK_KUBE_CACHE:-/var/cache/runbook-engine/kube-1.20}}
WORK=${RUNBOOK_KUBE_BUILD_DIR:-/var/tmp/runbook-engine-kube-build}
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)
APT=(apt-get -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive

have_binaries() {
    local b
    for b in "${BINARIES[@]}"; do [ -x "$OUT/$b" ] || return 1; done
}

install_packages() {
    command -v apt-get >/dev/null 2>&1 || { echo "apt-get not found: install $*" >&2; return 1; }
    "${APT[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

fetch_source() {
    local aptdir=$WORK/apt f
    mkdir -p "$aptdir/lists/partial" "$aptdir/src" "$aptdir/sources.list.d"
    : > "$aptdir/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed 's/^Types: deb$/Types: deb-src/' "$f" > "$aptdir/sources.list.d/$(basename "$f")"
    done
    if [ -f /etc/apt/sources.list ]; then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$aptdir/sources.list"
    fi
    local opts=(-o Dir::Etc::SourceList="$aptdir/sources.list"
                -o Dir::Etc::SourceParts="$aptdir/sources.list.d"
                -o Dir::State::Lists="$aptdir/lists")
    "${APT[@]}" "${opts[@]}" update -qq
    chmod 777 "$aptdir/src"   # apt's _apt sandbox user writes the download here
    if ! ls "$aptdir"/src/kubernetes_*.orig.tar.* >/dev/null 2>&1; then
        (cd "$aptdir/src" && "${APT[@]}" "${opts[@]}" source --download-only kubernetes)
    fi
    ls "$aptdir"/src/kubernetes_*.orig.tar.*
}

build() {
    local orig=$1 top srcdir
    # no `| head -1` on tar: SIGPIPE + pipefail would abort the script
    top=$(tar tf "$orig" | awk -F/ 'NR==1{print $1}')
    srcdir=$WORK/$top
    [ -d "$srcdir" ] || tar xf "$orig" -C "$WORK"
    cd "$srcdir"
    # As debian/rules does: a GOPATH-mode build through a symlinked import path.
    export GOPATH=$srcdir/.go CGO_ENABLED=0 HOME=${HOME:-/root} GOFLAGS= GOPROXY=off
    mkdir -p .go/src/k8s.io
    [ -L .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"
    mkdir -p "$OUT"
    local b
    for b in "${BINARIES[@]}"; do install -m 0755 "_output/bin/$b" "$OUT/$b"; done
    cd / && rm -rf "$srcdir"   # ~2 GB of sources and objects; the downloaded tarball stays
}

main() {
    if have_binaries; then
        echo "kube control plane: cached in $OUT"
        command -v etcd >/dev/null 2>&1 || install_packages etcd-server
        return 0
    fi
    local start orig
    start=$(date +%s)
    echo "kube control plane: building into $OUT (work dir $WORK, ~7 min on 2 cores)"
    install_packages golang-go rsync jq etcd-server
    mkdir -p "$WORK"
    orig=$(fetch_source | tail -n 1)
    build "$orig"
    echo "kube control plane: built in $(( $(date +%s) - start )) s"
    "$OUT/kube-apiserver" --version
}

main
