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

# The image the example is bumped to, and the manifest of ci-examples/helloworld-ops whose
# image line that bump must change (the one with helloworld:ci-34).
readonly IMAGE=registry.example.com/root/helloworld:ci-99
DEPLOYMENT="$(cd ci-examples/helloworld-ops && {
    grep -rl 'image: registry.example.com/root/helloworld:ci-34 ' --include='*.yml' --include='*.yaml' . ||
        true
} | sed -n '1s|^\./||p')"
if [ -z "$DEPLOYMENT" ]; then
    echo "error: no manifest in ci-examples/helloworld-ops has helloworld:ci-34 any more" >&2
    exit 2
fi
readonly DEPLOYMENT

check_example_bump() { # check_example_bump HOW STATUS REPO: REPO is the bumped copy
    local how="$1" status="$2" file="$3/$DEPLOYMENT"
    if [ "$status" -eq 0 ] && grep -q "image: $IMAGE " "$file" && ! grep -q 'helloworld:ci-34' "$file" &&
        [ "$(diff "ci-examples/helloworld-ops/$DEPLOYMENT" "$file" | grep -c '^[<>]')" -eq 2 ]; then
        pass "$how: bump --local exit 0, $DEPLOYMENT now has :ci-99 (one line changed)"
    else
        fail "$how: bump --local (exit $status; $DEPLOYMENT has $(grep -o 'helloworld:ci-[0-9]*' "$file" || echo '?'))"
    fi
}
