# shellcheck shell=bash
# Sourced by scripts/control-plane and scripts/node: builds commands of k8s.io/kubernetes with
# `go build` in a throwaway module. The kubernetes module replaces every k8s.io/* staging module
# with ./staging, which a module fetched through the proxy does not have; each one gets its
# published twin instead (Kubernetes v1.X.Y ships staging modules v0.X.Y). The caller defines
# log() and exports GOFLAGS=-mod=mod and CGO_ENABLED=0.

# kube_module DIR VERSION PACKAGE...: make DIR that module and cd into it; the PACKAGEs (importable
# packages of k8s.io/kubernetes) keep `go mod tidy` from dropping what the builds need.
kube_module() {
  local dir=$1 version=$2 modfile staging_version mod pkg
  shift 2
  mkdir -p "$dir"
  cd "$dir" || return
  go mod init pullpass.local/kube >/dev/null 2>&1
  modfile=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  staging_version="v0.${version#v1.}"
  for mod in $(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$modfile"); do
    go mod edit -replace "$mod=$mod@$staging_version"
  done
  go mod edit -require "k8s.io/kubernetes@$version"
  {
    echo '// Package kube only pins the kubernetes module whose commands are built from it.'
    echo 'package kube'
    echo
    for pkg in "$@"; do echo "import _ \"$pkg\""; done
  } > tools.go
  go mod tidy >&2
}

# kube_build BIN VERSION COMMAND...: build each k8s.io/kubernetes/cmd/COMMAND not yet in BIN, with
# the version stamped in as the release build does, from the module kube_module made (the cwd).
kube_build() {
  local bin=$1 version=$2 ldflags cmd
  shift 2
  ldflags="-s -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)"
  for cmd in "$@"; do
    [[ -x "$bin/$cmd" ]] && continue
    log "go build $cmd"
    go build -trimpath -ldflags="$ldflags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  done
}
