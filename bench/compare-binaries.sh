#!/usr/bin/env bash
# Two gitops-bot binaries side by side in one run (e.g. the dist build before and after a
# profile change): stripped size and gzip -9 size, `bump --local --dry-run` on the synthetic
# 10,000-file repository and `--version` cold start, both with hyperfine, in alternating
# rounds (old, new, old, new, ...) so that a change of load on a shared machine hits both.
#
#   bash bench/compare-binaries.sh OLD NEW [REPO]
#
# REPO defaults to target/bench-repo (made with bench/gen_repo.py, seed 42, if missing).
# Prints medians and the NEW/OLD ratio of each; BENCH_RUNS (default 20) and
# BENCH_VERSION_RUNS (default 200) set the number of runs of each, in BENCH_ROUNDS (default
# 5) rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$#" -lt 2 ]; then
    echo "usage: $0 OLD NEW [REPO]" >&2
    exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
repo=${3:-$ROOT/target/bench-repo}
rounds=${BENCH_ROUNDS:-5}
runs=$(( ${BENCH_RUNS:-20} / rounds ))
version_runs=$(( ${BENCH_VERSION_RUNS:-200} / rounds ))
image=registry.example.com/group/helloworld
command -v hyperfine >/dev/null || { echo "error: hyperfine is missing (bench/run.sh installs it)" >&2; exit 2; }
if [ ! -d "$repo" ]; then
    python3 "$ROOT/bench/gen_repo.py" "$repo" --files 10000 --seed 42 --image "$image" --tag ci-34 >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

size() { # size BINARY: stripped bytes and gzip -9 bytes
    strip --strip-all -o "$work/s" "$1"
    echo "$(stat -c %s "$work/s") $(gzip -9 -c "$work/s" | wc -c)"
}
read -r old_size old_gz <<<"$(size "$old")"
read -r new_size new_gz <<<"$(size "$new")"

for round in $(seq "$rounds"); do
    hyperfine -N -w 1 -r "$runs" --export-json "$work/bump-$round.json" \
        -n old "$old bump --local $repo --image $image:ci-35 --dry-run" \
        -n new "$new bump --local $repo --image $image:ci-35 --dry-run" >/dev/null
    hyperfine -N -w 5 -r "$version_runs" --export-json "$work/version-$round.json" \
        -n old "$old --version" -n new "$new --version" >/dev/null
done

python3 - "$work" "$old_size" "$new_size" "$old_gz" "$new_gz" <<'PY'
import glob, json, statistics, sys
work, old_size, new_size, old_gz, new_gz = sys.argv[1], *map(int, sys.argv[2:])
def medians(name):
    times = {"old": [], "new": []}
    for f in glob.glob(f"{work}/{name}-*.json"):
        for x in json.load(open(f))["results"]:
            times[x["command"]] += x["times"]
    return statistics.median(times["old"]), statistics.median(times["new"])
print(f"{'':34} {'old':>12} {'new':>12} {'new/old':>8}")
print(f"{'stripped size (MB)':34} {old_size/1e6:12.2f} {new_size/1e6:12.2f} {new_size/old_size:8.3f}")
print(f"{'gzip -9 size (MB)':34} {old_gz/1e6:12.2f} {new_gz/1e6:12.2f} {new_gz/old_gz:8.3f}")
for name, label in (("bump", "bump --local --dry-run median (s)"), ("version", "--version median (s)")):
    o, n = medians(name)
    print(f"{label:34} {o:12.4f} {n:12.4f} {n/o:8.3f}")
PY
