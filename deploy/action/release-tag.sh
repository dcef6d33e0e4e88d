#!/usr/bin/env bash
# The release tag the action installs for REF (its `version` input, else the ref the
# action was used at), from the repository's release tags on standard input, one a line
# (as `gh release list --json tagName --jq '.[].tagName'` prints them):
#   v1.2.3            itself (a release of that tag must exist)
#   v1, v1.2          the newest release v1.x.y, v1.2.y (the release workflow moves the
#                     major tag, but no release is made for it)
#   anything else     (a branch, a commit) the newest release
# Pre-releases (v1.2.3-rc.1) are never picked. Written for bash 3.2 as well (macOS).
set -euo pipefail
ref=${1:-}
prefix=
if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  exact=$ref
elif [[ $ref =~ ^v[0-9]+(\.[0-9]+)?$ ]]; then
  prefix="$ref."
fi
newest=
while IFS= read -r tag; do
  [[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue
  if [ -n "${exact:-}" ]; then
    [ "$tag" = "$exact" ] && newest=$tag
    continue
  fi
  case "$tag" in "$prefix"*) ;; *) continue ;; esac
  if [ -z "$newest" ]; then
    newest=$tag
    continue
  fi
  # Compare as numbers, part by part (no sort -V on macOS).
  IFS=. read -r a1 a2 a3 <<< "${tag#v}"
  IFS=. read -r b1 b2 b3 <<< "${newest#v}"
  if [ "$a1" -gt "$b1" ] || { [ "$a1" -eq "$b1" ] && { [ "$a2" -gt "$b2" ] || { [ "$a2" -eq "$b2" ] && [ "$a3" -gt "$b3" ]; }; }; }; then
    newest=$tag
  fi
done
if [ -z "$newest" ]; then
  echo "::error::perfgate: no release matches ${ref:-(no version)}: give the action a version of a release (v1.2.3) or a major tag (v1)" >&2
  exit 2
fi
echo "$newest"
