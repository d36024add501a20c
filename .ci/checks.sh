# Shared by .ci/check-static-binary and .ci/check-image (sourced, from the repo's root):
# the PASS/FAIL/SKIP record, what `--version` must print, and the bump of the bundled
# example both checks run inside their root.

results=()
failed=0
pass() { results+=("PASS  $1"); echo "PASS  $1"; }
fail() { results+=("FAIL  $1"); echo "FAIL  $1"; failed=1; }
skip() { results+=("SKIP  $1"); echo "SKIP  $1"; }
check() { # check NAME COMMAND...: PASS when COMMAND succeeds
    local name="$1"
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# `gitops-bot VERSION (COMMIT DATE)`
readonly VERSION_RE='^gitops-bot [0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)? \(([0-9a-f]{12}|unknown) [0-9]{4}-[0-9]{2}-[0-9]{2}\)$'

# The example is bumped as its app pipeline bumps it: one environment, dev. The image it is
# bumped to, and the one file of ci-examples/helloworld-ops that bump must change: the
# environment's kustomization (the one with `newTag: ci-34` under envs/dev).
readonly IMAGE=registry.example.com/root/helloworld:ci-99
readonly ENVIRONMENT=dev
BUMPED="$(cd ci-examples/helloworld-ops && {
    grep -rl 'newTag: ci-34$' --include='*.yml' --include='*.yaml' "envs/$ENVIRONMENT" ||
        true
} | sed -n '1p')"
if [ -z "$BUMPED" ]; then
    echo "error: no manifest in ci-examples/helloworld-ops/envs/$ENVIRONMENT has newTag: ci-34 any more" >&2
    exit 2
fi
readonly BUMPED

check_example_bump() { # check_example_bump HOW STATUS REPO: REPO is the bumped copy
    local how="$1" status="$2" repo="$3" file="$3/$BUMPED"
    if [ "$status" -eq 0 ] && grep -q "newTag: ${IMAGE##*:}\$" "$file" && ! grep -q 'ci-34' "$file" &&
        [ "$(diff "ci-examples/helloworld-ops/$BUMPED" "$file" | grep -c '^[<>]')" -eq 2 ] &&
        [ "$(diff -rq ci-examples/helloworld-ops "$repo" | wc -l)" -eq 1 ]; then
        pass "$how: bump --local --environment $ENVIRONMENT exit 0, only $BUMPED changed, now :${IMAGE##*:} (one line)"
    else
        fail "$how: bump --local --environment $ENVIRONMENT (exit $status; $BUMPED has $(grep -o 'newTag: ci-[0-9]*' "$file" || echo '?'); changed: $(diff -rq ci-examples/helloworld-ops "$repo" | tr '\n' ' '))"
    fi
}
