#!/usr/bin/env bash
# The release, in one command (`npm run release`). From a clean clone of HEAD in a temporary folder, it applies
# the pending changesets (version bump and CHANGELOG.md entry), builds, runs every check, packs, and runs
# `npm publish --dry-run` on the tarball. With --publish it then publishes that same tarball, commits the
# version bump, and tags it here, for the maintainer to push.
#
#   npm run release                  # everything, up to and including `npm publish --dry-run`
#   npm run release -- --publish     # the same, then the real publish (needs `npm login`)
#   scripts/release.sh --ci          # what CI runs: skips build, type-check, lint, tests, coverage and
#                                    # docs, which CI has just run on the same commit, and reuses its
#                                    # node_modules instead of a fresh `npm ci`
#
# It refuses: a working tree with uncommitted changes, a version that CHANGELOG.md already has (or a tag
# that exists), no pending changeset (except with --ci, which then dry-runs the current version), and any
# failing check.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
publish=false
ci=false
for arg in "$@"; do
  case "$arg" in
    --publish) publish=true ;;
    --ci) ci=true ;;
    *) echo "release: unknown argument $arg (expected --publish or --ci)" >&2; exit 2 ;;
  esac
done
if $publish && $ci; then
  echo "release: --ci never publishes" >&2
  exit 2
fi

fail() { echo "release: $*" >&2; exit 1; }
step() { printf '\n== release: %s\n' "$*"; }

cd "$repo"
[ -z "$(git status --porcelain)" ] || fail "the working tree has uncommitted changes: commit or stash them first
$(git status --short | head -20)"
head="$(git rev-parse HEAD)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
clone="$work/karyon-ts"
step "clean clone of $(git rev-parse --short HEAD)"
git clone --quiet --no-local "$repo" "$clone"
git -C "$clone" checkout --quiet "$head"
cd "$clone"

pending="$(find .changeset -maxdepth 1 -name '*.md' ! -name README.md | wc -l)"
if [ "$pending" -eq 0 ] && ! $ci; then
  fail "no pending changeset in .changeset/: nothing to release (add one with npx changeset)"
fi

if $ci; then
  ln -s "$repo/node_modules" node_modules
else
  step "npm ci"
  npm ci --no-audit --no-fund
fi

current="$(node -p 'require("./package.json").version')"
if [ "$pending" -gt 0 ]; then
  step "apply $pending pending changeset(s)"
  npx --no-install changeset version
  version="$(node -p 'require("./package.json").version')"
  [ "$version" != "$current" ] || fail "the changesets do not change the version ($current)"
  # The entry must be new: a version the changelog already had at HEAD was released before.
  if git show HEAD:CHANGELOG.md | grep -qE "^## \[?${version//./\\.}\]?( |$)"; then
    fail "CHANGELOG.md already has an entry for $version: it was released before"
  fi
else
  version="$current"
  echo "no pending changeset: dry-running the current version $version"
fi
if ! $ci && git -C "$repo" rev-parse -q --verify "refs/tags/v$version" >/dev/null; then
  fail "tag v$version exists: $version was released before"
fi
echo "version: $current -> $version"

if ! $ci; then
  step "build, type-check, lint"
  npm run build
  npm run typecheck
  npm run lint
  step "the test suite, with coverage"
  npm run test:coverage
  step "the test suite on Node 22 and 24"
  bash scripts/test-on-node.sh 22 24
  step "API docs"
  npm run docs
  step "runtime dependencies: audit and licences"
  node scripts/audit.mjs --strict
  node scripts/check-licenses.mjs
fi

step "pack"
npm run build >/dev/null
mkdir -p "$work/pack"
tarball="$work/pack/$(npm pack --silent --pack-destination "$work/pack" | tail -1)"
node scripts/check-package.mjs "$tarball"
npx --no-install publint --strict
npx --no-install attw --profile esm-only "$tarball"

step "npm publish --dry-run"
npm publish --dry-run "$tarball"

if ! $publish; then
  step "ready: karyon-ts@$version passed every check (nothing was published; add --publish to publish)"
  exit 0
fi

step "publish karyon-ts@$version"
git add -A
git -c user.name="$(git -C "$repo" config user.name || echo release)" -c user.email="$(git -C "$repo" config user.email || echo release@localhost)" \
  commit --quiet -m "Release $version"
npm publish "$tarball"
cd "$repo"
git fetch --quiet "$clone" HEAD
git merge --quiet --ff-only FETCH_HEAD
git tag -a "v$version" -m "karyon-ts $version"
step "published karyon-ts@$version; push the release commit and the tag: git push --follow-tags"
