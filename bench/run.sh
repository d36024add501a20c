#!/usr/bin/env bash
# gitops-bot benchmark: the single reproducible command. See bench/README.md.
#
#   bash bench/run.sh                          # full run: 10,000 files, ~40 MB
#   BENCH_FILES=500 bash bench/run.sh          # quick smoke run
#   GITOPS_BOT=/path/to/bin bash bench/run.sh  # use that binary, skip cargo build
#
# Environment knobs (defaults in brackets):
#   BENCH_FILES [10000]  BENCH_SEED [42]      size/seed of the synthetic repo
#   BENCH_RUNS [10]      BENCH_WARMUP [2]     hyperfine runs for gitops-bot bump
#   BENCH_RUAMEL_RUNS [3] BENCH_YQ_RUNS [1]   runs of the (slow) peers
#   BENCH_VERSION_RUNS [200]                  runs for the --version cold start
#   BENCH_SKIP_YQ=1 / BENCH_SKIP_RUAMEL=1     leave a peer out
#   BENCH_SKIP_GITLAB=1                       leave out bump --project through the fake GitLab
#   BENCH_SKIP_SERVE=1                        leave out serve under load (wrk)
#   BENCH_SKIP_IDLE=1                         leave out serve against idle connections
#   GITOPS_BOT [target/release/gitops-bot]    binary; when set, no cargo build
# Exit status: 0 if gitops-bot meets the targets (<= 0.5 s median wall,
# <= 150 MB peak RSS), 1 if it misses them, 2 on a setup/run error.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
FILES=${BENCH_FILES:-10000}
SEED=${BENCH_SEED:-42}
RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
RUAMEL_RUNS=${BENCH_RUAMEL_RUNS:-3}
YQ_RUNS=${BENCH_YQ_RUNS:-1}
VERSION_RUNS=${BENCH_VERSION_RUNS:-200}
IMAGE_REPO=registry.example.com/group/helloworld
OLD_TAG=ci-34
NEW_TAG=ci-35
TARGET_WALL_S=0.5
TARGET_RSS_MB=150
RUAMEL_VERSION=0.19.1
PYYAML_VERSION=6.0.3

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }
# any unexpected failure exits 2; only a target miss (MISSED=1) exits 1
# shellcheck disable=SC2154  # rc is assigned inside the trap string
trap 'rc=$?; if [ $rc -ne 0 ] && [ -z "${MISSED:-}" ]; then log "failed (exit $rc)"; exit 2; fi' EXIT

# ---------------------------------------------------------------- 1. tools
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v yq >/dev/null || need+=(yq)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
command -v git >/dev/null || need+=(git)
command -v wrk >/dev/null || need+=(wrk)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt)"
  [ "$(id -u)" = 0 ] && SUDO= || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

VENV=$BENCH/.venv
PY=$VENV/bin/python
if ! "$PY" - "$RUAMEL_VERSION" "$PYYAML_VERSION" 2>/dev/null <<'EOF'
import sys, ruamel.yaml, yaml
sys.exit(ruamel.yaml.__version__ != sys.argv[1] or yaml.__version__ != sys.argv[2])
EOF
then
  log "setting up $VENV (ruamel.yaml==$RUAMEL_VERSION, PyYAML==$PYYAML_VERSION)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "ruamel.yaml==$RUAMEL_VERSION" "PyYAML==$PYYAML_VERSION"
fi

# ---------------------------------------------------------------- 2. binary
if [ -n "${GITOPS_BOT:-}" ]; then
  BIN=$GITOPS_BOT
  log "using GITOPS_BOT=$BIN (no cargo build)"
else
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/gitops-bot
fi
command -v "$BIN" >/dev/null || [ -x "$BIN" ] || die "binary not found or not executable: $BIN"
BIN=$(command -v "$BIN" || echo "$BIN")
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac

# ---------------------------------------------------------------- 3. repo
REPOS=$ROOT/target/bench-repo
REPO=$REPOS/files-$FILES-seed-$SEED
STAMP=$REPO.stamp
SUMMARY=$REPO.summary.json
want_stamp="gen=$(sha256sum "$BENCH/gen_repo.py" | cut -c1-16) files=$FILES seed=$SEED image=$IMAGE_REPO:$OLD_TAG"
if [ -d "$REPO" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] \
   && [ -z "$(git -C "$REPO" status --porcelain 2>/dev/null || echo dirty)" ]; then
  log "reusing $REPO"
else
  log "generating $REPO ($FILES files, seed $SEED)"
  rm -rf "$REPO" "$STAMP" "$SUMMARY"
  mkdir -p "$REPOS"
  "$PY" "$BENCH/gen_repo.py" "$REPO" --files "$FILES" --seed "$SEED" --image "$IMAGE_REPO" \
    --tag "$OLD_TAG" --check --git --summary-json "$SUMMARY"
  echo "$want_stamp" > "$STAMP"
fi
GEN_LINE=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print("files=%d bytes=%d ref_files=%d refs=%d crlf_files=%d near_miss_files=%d large_files=%d" % tuple(s[k] for k in ("files","bytes","ref_files","refs","crlf_files","near_miss_files","large_files")))' "$SUMMARY")

OUT=$ROOT/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
IMG_ARG=$IMAGE_REPO:$NEW_TAG

# Run "$@" under GNU time; append "wall_s rss_kb" to $1, keep the last stdout in $2.
timed() {
  local rec=$1 outf=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$OUT/.time" "$@" > "$outf" 2> "$outf.err" \
    || { cat "$outf.err" >&2; die "command failed: $*"; }
  cat "$OUT/.time" >> "$rec"
}
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
max_mb() { awk 'BEGIN{m=0} {if ($2>m) m=$2} END{printf "%.1f\n", m/1024}'; }
hf_median() { jq -r '.results[0].median' "$1"; }

# ---------------------------------------------------------------- 4. measure
log "gitops-bot bump --dry-run: hyperfine --warmup $WARMUP --runs $RUNS"
BOT_CMD=("$BIN" bump --local "$REPO" --image "$IMG_ARG" --dry-run)
hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/gitops-bot.json" \
  "${BOT_CMD[*]}" >&2
BOT_WALL=$(hf_median "$OUT/gitops-bot.json")
: > "$OUT/gitops-bot.rss"
for _ in 1 2 3; do timed "$OUT/gitops-bot.rss" "$OUT/gitops-bot.out" "${BOT_CMD[@]}"; done
BOT_RSS=$(max_mb < "$OUT/gitops-bot.rss")

log "gitops-bot --version cold start: hyperfine -N --runs $VERSION_RUNS"
hyperfine -N --style basic --warmup 10 --runs "$VERSION_RUNS" --export-json "$OUT/version.json" \
  "$BIN --version" >&2
VER_WALL=$(hf_median "$OUT/version.json")
: > "$OUT/version.rss"
timed "$OUT/version.rss" "$OUT/version.out" "$BIN" --version
VER_RSS=$(max_mb < "$OUT/version.rss")

RUAMEL_WALL=- RUAMEL_RSS=-
[ -z "${BENCH_SKIP_RUAMEL:-}" ] || RUAMEL_RUNS=skipped
if [ -z "${BENCH_SKIP_RUAMEL:-}" ]; then
  : > "$OUT/ruamel.rec"
  for i in $(seq "$RUAMEL_RUNS"); do
    log "ruamel peer --dry-run: run $i/$RUAMEL_RUNS"
    timed "$OUT/ruamel.rec" "$OUT/ruamel.out" "$PY" "$BENCH/peer_ruamel.py" "$REPO" --image "$IMG_ARG" --dry-run
  done
  RUAMEL_WALL=$(median < "$OUT/ruamel.rec")
  RUAMEL_RSS=$(max_mb < "$OUT/ruamel.rec")
fi

YQ_WALL=- YQ_RSS=-
[ -z "${BENCH_SKIP_YQ:-}" ] || YQ_RUNS=skipped
if [ -z "${BENCH_SKIP_YQ:-}" ]; then
  : > "$OUT/yq.rec"
  for i in $(seq "$YQ_RUNS"); do
    log "yq peer (in place, on a fresh copy): run $i/$YQ_RUNS"
    rm -rf "$OUT/yq-copy"
    cp -a "$REPO" "$OUT/yq-copy"
    timed "$OUT/yq.rec" "$OUT/yq.out" bash "$BENCH/peer_yq.sh" "$OUT/yq-copy" --image "$IMG_ARG"
  done
  rm -rf "$OUT/yq-copy"
  YQ_WALL=$(median < "$OUT/yq.rec")
  YQ_RSS=$(max_mb < "$OUT/yq.rec")
fi

# bump --project through the fake GitLab (issue: requests per bump, wall time vs a clone)
GITLAB_MD=""
if [ -z "${BENCH_SKIP_GITLAB:-}" ]; then
  log "bump --project through the fake GitLab vs clone-based (cargo bench --bench gitlab_bump)"
  (cd "$ROOT" && BENCH_REPO=$REPO GITOPS_BOT=$BIN cargo bench --quiet --bench gitlab_bump) > "$OUT/gitlab.md" \
    || die "gitlab_bump benchmark failed"
  GITLAB_MD=$OUT/gitlab.md
fi

# serve under load from a second process (wrk) on loopback
SERVE_MD=""
if [ -z "${BENCH_SKIP_SERVE:-}" ]; then
  log "serve under load (cargo bench --bench serve_load)"
  (cd "$ROOT" && GITOPS_BOT=$BIN cargo bench --quiet --bench serve_load) > "$OUT/serve.md" \
    || die "serve_load benchmark failed"
  SERVE_MD=$OUT/serve.md
fi

# serve against thousands of idle connections (header/idle timeouts, connection cap)
IDLE_MD=""
if [ -z "${BENCH_SKIP_IDLE:-}" ]; then
  log "serve against idle connections (cargo bench --bench serve_idle)"
  (cd "$ROOT" && GITOPS_BOT=$BIN cargo bench --quiet --bench serve_idle) > "$OUT/idle.md" \
    || die "serve_idle benchmark failed"
  IDLE_MD=$OUT/idle.md
fi

# sync: healthy -> result comment through the fakes (watch-driven)
SYNC_MD=""
if [ -z "${BENCH_SKIP_SYNC:-}" ]; then
  log "sync latency (cargo bench --bench sync_latency)"
  (cd "$ROOT" && GITOPS_BOT=$BIN cargo bench --quiet --bench sync_latency) > "$OUT/sync.md" \
    || die "sync_latency benchmark failed"
  SYNC_MD=$OUT/sync.md
fi

# the shared tree must be untouched by the dry runs (else the numbers are suspect: exit 2)
DIRTY=""
if [ -n "$(git -C "$REPO" status --porcelain)" ]; then
  rm -f "$STAMP"
  DIRTY="WARNING: a --dry-run modified $REPO (see git -C $REPO status); it will be regenerated next time"
  log "$DIRTY"
fi

# ---------------------------------------------------------------- 5. report
ratio() { if [ "$1" = - ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.1fx\n", a/b; else print "-" }'; fi; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
YQ_VER=$(dpkg-query -W -f='${Version}' yq 2>/dev/null || echo '?')
SMALL=""
[ "$FILES" = 10000 ] || SMALL=" (targets are defined for 10,000 files; this run has $FILES)"
PASS=1
awk -v w="$BOT_WALL" -v t="$TARGET_WALL_S" 'BEGIN{exit !(w<=t)}' || PASS=0
awk -v r="$BOT_RSS" -v t="$TARGET_RSS_MB" 'BEGIN{exit !(r<=t)}' || PASS=0
first_line() { if [ -s "$1" ]; then head -n1 "$1"; else echo "(no output)"; fi; }

{
  echo "## gitops-bot benchmark"
  echo
  echo "Repo: \`$REPO\` ($GEN_LINE, seed $SEED); bump to \`$IMG_ARG\`."
  echo
  echo "| tool | median wall s | peak RSS MB | ratio vs gitops-bot |"
  echo "| --- | ---: | ---: | ---: |"
  printf '| gitops-bot bump --dry-run (%s runs) | %.3f | %s | 1.0x |\n' "$RUNS" "$BOT_WALL" "$BOT_RSS"
  printf '| ruamel.yaml %s rt peer --dry-run, 1 process (runs: %s) | %s | %s | %s |\n' \
    "$RUAMEL_VERSION" "$RUAMEL_RUNS" "$RUAMEL_WALL" "$RUAMEL_RSS" "$(ratio "$RUAMEL_WALL" "$BOT_WALL")"
  printf '| yq %s (kislyuk) peer, in place, %s parallel batches (runs: %s) | %s | %s | %s |\n' \
    "$YQ_VER" "$(nproc)" "$YQ_RUNS" "$YQ_WALL" "$YQ_RSS" "$(ratio "$YQ_WALL" "$BOT_WALL")"
  printf '| gitops-bot --version cold start (%s runs) | %.4f | %s | - |\n' "$VERSION_RUNS" "$VER_WALL" "$VER_RSS"
  echo
  echo "Targets for gitops-bot: <= $TARGET_WALL_S s median wall, <= $TARGET_RSS_MB MB peak RSS -> $([ $PASS = 1 ] && echo PASS || echo FAIL)$SMALL"
  echo
  echo "Outputs (expected: $(jq -r '"\(.refs) references in \(.ref_files) files"' "$SUMMARY")):"
  # bump --dry-run prints a diff first; show its summary line if there is one
  echo "- gitops-bot: $(grep -m1 -E 'references? (updated|changed)' "$OUT/gitops-bot.out" || first_line "$OUT/gitops-bot.out")"
  [ -n "${BENCH_SKIP_RUAMEL:-}" ] || echo "- ruamel peer: $(first_line "$OUT/ruamel.out")"
  [ -n "${BENCH_SKIP_YQ:-}" ] || echo "- yq peer: $(first_line "$OUT/yq.out")"
  echo
  if [ -n "$GITLAB_MD" ]; then cat "$GITLAB_MD"; echo; fi
  if [ -n "$SERVE_MD" ]; then sed '/^raw wrk output/,$d' "$SERVE_MD"; echo; fi
  if [ -n "$IDLE_MD" ]; then cat "$IDLE_MD"; echo; fi
  if [ -n "$SYNC_MD" ]; then cat "$SYNC_MD"; echo; fi
  echo "Machine: nproc=$(nproc), CPU: $CPU, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "Binary: $BIN ($(first_line "$OUT/version.out")); wall = median of hyperfine runs (warm page cache);"
  echo "peak RSS = max 'Maximum resident set size' of GNU time over runs (largest single process)."
  [ -z "$DIRTY" ] || { echo; echo "**$DIRTY**"; }
} | tee "$OUT/results.md"
log "results and raw data in $OUT"
[ -z "$DIRTY" ] || exit 2
[ $PASS = 1 ] || { MISSED=1; exit 1; }
