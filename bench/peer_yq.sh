#!/usr/bin/env bash
# Peer for the gitops-bot benchmark: the image-tag bump done with the `yq` that
# Debian ships (kislyuk/yq 3.x: a Python wrapper that converts YAML to JSON with
# PyYAML, pipes it through jq, and dumps the result back with PyYAML).
#
#   bench/peer_yq.sh DIR --image REPO:TAG [--jobs N] [--batch N]
#
# It EDITS DIR IN PLACE (`yq -y -i`): run it on a throw-away copy.
#
# How it runs: yq starts one Python interpreter per invocation and, inside it,
# one `jq` process per file (that is how `yq -i` works; it cannot be avoided).
# To keep the peer fair we do not start one yq per file: files are passed in
# batches of --batch (default 200) to `yq -i`, with --jobs (default nproc)
# batches running in parallel via xargs. The remaining per-file jq process
# start is inherent to the tool.
#
# Correctness is APPROXIMATE, by design of the tool, not of this script:
#   * every file is parsed and re-serialised, changed or not: comments, quote
#     styles, flow style, anchors/aliases (expanded), CRLF line endings, key
#     spacing and document markers are lost in ALL files it is given -- it is
#     not byte-preserving at all, and `git diff` after it touches every file;
#   * unquoted scalars are re-typed by PyYAML's YAML 1.1 rules on output;
#   * the edit itself mirrors peer_ruamel.py: container images (containers /
#     initContainers / ephemeralContainers) whose repository is REPO get :TAG
#     (a @sha256 digest is dropped), Helm {registry?, repository, tag} mappings
#     get tag, kustomize `images:` entries whose newName//name is REPO get
#     newTag, and string entries of `images:` lists (Argo CD) get :TAG;
#   * it reports no exact count: the summary line counts files that mention
#     the new tag afterwards (a grep, approximate).
set -euo pipefail

usage() { echo "usage: $0 DIR --image REPO:TAG [--jobs N] [--batch N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
DIR=$1; shift
IMAGE=""; JOBS=$(nproc); BATCH=200
while [ $# -gt 0 ]; do
  case $1 in
    --image) IMAGE=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --batch) BATCH=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
# shellcheck disable=SC2015
[ -n "$IMAGE" ] && [ -d "$DIR" ] || usage
TAG=${IMAGE##*:}
REPO=${IMAGE%:*}
case $TAG in */*|"") echo "peer_yq: --image must be REPO:TAG" >&2; exit 2 ;; esac
[ "$REPO" != "$IMAGE" ] || { echo "peer_yq: --image must be REPO:TAG" >&2; exit 2; }
# shellcheck disable=SC2015
command -v yq >/dev/null && command -v jq >/dev/null || { echo "peer_yq: needs yq and jq (apt-get install -y yq jq)" >&2; exit 2; }

read -r -d '' PROG <<'JQ' || true
def split_ref:
  (split("@")) as $p | $p[0] as $n
  | ($n | rindex("/") // -1) as $s | ($n | rindex(":") // -1) as $c
  | if $c > $s then [$n[:$c], $n[$c+1:], ($p[1] // "")] else [$n, "", ($p[1] // "")] end;
def bump_ref: if type == "string" and ((split_ref)[0] == $repo) then $repo + ":" + $tag else . end;
  (.. | objects | (.containers?, .initContainers?, .ephemeralContainers?) | arrays | .[] | objects
      | select(has("image")) | .image) |= bump_ref
| (.. | objects | select(has("repository") and has("tag")
      and ((if (.registry | type) == "string" and .registry != "" then .registry + "/" else "" end)
           + (.repository | tostring)) == $repo) | .tag) |= $tag
| (.. | objects | .images? | arrays | .[] | objects | select((.newName // .name) == $repo) | .newTag) |= $tag
| (.. | objects | .images? | arrays | .[] | strings) |= bump_ref
JQ

NFILES=$(find "$DIR" -name .git -prune -o -type f \( -name '*.yaml' -o -name '*.yml' \) -print | wc -l)
# -print0 | xargs -0: safe for any file name; xargs exits 123 if any batch failed
find "$DIR" -name .git -prune -o -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 \
  | xargs -0 -r -n "$BATCH" -P "$JOBS" yq -y -i --arg repo "$REPO" --arg tag "$TAG" "$PROG"

ESC_REPO=$(printf '%s' "$REPO" | sed 's/[.[\*^$/]/\\&/g')
MENTION=$(grep -rlE --include='*.yaml' --include='*.yml' --exclude-dir=.git \
  "(${ESC_REPO}:${TAG}([^0-9A-Za-z_.-]|$)|(tag|newTag): ['\"]?${TAG}(['\"]|[[:space:]]|$))" "$DIR" | wc -l || true)
echo "yq rewrote ${NFILES} files (all of them, in place); ${MENTION} files mention ${TAG} afterwards (approximate)"
