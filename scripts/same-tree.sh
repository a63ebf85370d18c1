#!/usr/bin/env bash
# Runs a command, then fails if it changed what `git status` shows: every file a run writes
# (build outputs, state folders, venvs, node_modules, the Node link) must be ignored or
# outside the tree, and no run may rewrite a tracked file such as package-lock.json.
#
#   scripts/same-tree.sh WHAT COMMAND [ARGS...]
#
# Work in progress is fine: the status before the run is compared with the status after it,
# and for every path already listed before, its content too (so a rewrite of a file you had
# already changed is caught as well). The changed paths are named. Outside a git checkout
# the command just runs.
set -euo pipefail

what="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# One line per path that git status lists: its status and, for a file, its content hash.
state() {
  git -C "$root" status --porcelain=v1 -z --untracked-files=all |
    while IFS= read -r -d '' entry; do
      local code="${entry:0:2}" path="${entry:3}"
      # A rename or copy is followed by its source path; keep it on the same line.
      if [[ "$code" == R* || "$code" == C* ]]; then
        IFS= read -r -d '' source || true
        path="$path <- $source"
      fi
      local hash="-"
      [[ -f "$root/${path%% <- *}" ]] && hash="$(git -C "$root" hash-object -- "${path%% <- *}")"
      printf '%s %s\t%s\n' "$code" "$hash" "$path"
    done
}

if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  exec "$@"
fi

before="$(state)"
status=0
"$@" || status=$?
after="$(state)"

if [[ "$before" != "$after" ]]; then
  echo "$what changed the working tree (every path it writes must be ignored or outside the tree):" >&2
  # Lines are "XY HASH<tab>PATH"; show "before/after: XY PATH" for those that differ.
  { diff <(echo "$before") <(echo "$after") || true; } | while IFS= read -r line; do
    case "$line" in
      "< "*) echo "  before: ${line:2:2} ${line#*$'\t'}" ;;
      "> "*) echo "  after:  ${line:2:2} ${line#*$'\t'}" ;;
    esac
  done >&2
  ((status != 0)) || status=1
elif ((status == 0)); then
  echo "$what: git status is as it was before the run"
fi
exit "$status"
