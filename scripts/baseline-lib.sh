# Sourced by the scripts that compare this tree with an earlier revision
# (scripts/footprint-baseline.sh, scripts/parse-baseline.sh): what they build of that revision
# is built once, in a temporary worktree, and kept under target/baseline-COMMIT/.
#
#   baseline_setup REV   sets root (this tree), commit (REV's short hash: a moving name, such as
#                        a branch, is built again when it moves), dir (target/baseline-COMMIT)
#                        tmp (a temporary directory, removed on any exit with the worktree)
#                        and here (this tree's short hash, "+changes" when it has uncommitted ones)
#   baseline_checkout    makes the worktree $tmp/src of that commit, once, and $dir

baseline_setup() {
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    commit=$(git -C "$root" rev-parse --short "$1^{commit}")
    dir="$root/target/baseline-$commit"
    here="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- . || echo '+changes')"
    # Outside this tree: inside it, cargo would take the old manifest for a workspace member.
    tmp=$(mktemp -d)
    trap 'git -C "$root" worktree remove --force "$tmp/src" 2>/dev/null || true; rm -rf "$tmp"' EXIT
}

baseline_checkout() {
    mkdir -p "$dir"
    [ -d "$tmp/src" ] || git -C "$root" worktree add --detach "$tmp/src" "$commit" >/dev/null
}
