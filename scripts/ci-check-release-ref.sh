#!/usr/bin/env bash
# Refuses to deploy a commit that is not on the protected default branch. A pushed `v*` tag
# can name any commit, one never reviewed or merged; branch protection guards `main`, not
# the tags. The deploy jobs run this before any credential is used (.github/workflows/fleet.yml,
# .gitlab-ci.yml): it fetches the default branch from the remote and asks git whether the
# commit being deployed is one of its ancestors (itself included).
#
# Usage: ci-check-release-ref.sh DEFAULT_BRANCH [COMMIT]. COMMIT defaults to HEAD.
# REMOTE (default origin) names the remote to fetch from. FETCH=0 fetches nothing and uses
# refs/remotes/REMOTE/DEFAULT_BRANCH as the checkout fetched it (a full-history checkout that
# holds no credential to fetch again: actions/checkout with fetch-depth 0 and
# persist-credentials false). Exit 0: reachable; 1: not; 2: error.
set -euo pipefail

branch=${1:?usage: ci-check-release-ref.sh DEFAULT_BRANCH [COMMIT]}
commit=${2:-HEAD}
remote=${REMOTE:-origin}
if ! [[ $branch =~ ^[A-Za-z0-9._/-]+$ ]] || [[ $branch == -* ]]; then
    echo "ci-check-release-ref.sh: \"$branch\" is not a branch name" >&2
    exit 2
fi

sha=$(git rev-parse --verify --quiet "$commit^{commit}") || {
    echo "ci-check-release-ref.sh: $commit is not a commit in this checkout" >&2
    exit 2
}
if [ "${FETCH:-1}" = 0 ]; then
    target="refs/remotes/$remote/$branch"
    # A shallow history could hide the commit's ancestry: refuse to decide on one.
    if [ "$(git rev-parse --is-shallow-repository)" = true ] || ! git rev-parse --verify --quiet "$target" >/dev/null; then
        echo "ci-check-release-ref.sh: FETCH=0 needs a full-history checkout with $target (fetch-depth: 0)" >&2
        exit 2
    fi
else
    # CI checkouts are shallow: fetch the branch's whole history, into a ref of our own, so
    # merge-base sees every commit of it; unshallow this checkout for the same reason.
    target="refs/nbf-release-check/$branch"
    unshallow=()
    if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
        unshallow=(--unshallow)
    fi
    if ! git fetch --quiet --no-tags "${unshallow[@]}" "$remote" "+refs/heads/$branch:$target"; then
        echo "ci-check-release-ref.sh: could not fetch $branch from $remote" >&2
        exit 2
    fi
fi

if git merge-base --is-ancestor "$sha" "$target"; then
    echo "$sha is on $branch: deploying"
    exit 0
fi
echo "ci-check-release-ref.sh: refusing to deploy $sha: it is not on $branch (a tag or branch pushed outside review). Tag a commit of $branch instead." >&2
exit 1
