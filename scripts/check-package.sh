#!/usr/bin/env bash
# Checks the package as a user gets it: clones the repository's HEAD afresh, installs it (`npm ci`, which
# builds dist/ so that `npx karyon` works at once), packs it, installs the tarball in a new project, imports
# both entry points, runs the `karyon` bin, and type-checks a consumer (test/package/consumer.ts) against the
# installed .d.ts files with test/package/tsconfig.consumer.json (strict, module nodenext,
# exactOptionalPropertyTypes, skipLibCheck false). Packages come from the npm cache when they are there.
# Then the consumer matrix of test/package/consumers, on the same tarball: an ES module application, a
# CommonJS application that require()s the package, and a TypeScript application compiled with
# moduleResolution nodenext and bundler, on the oldest and the newest TypeScript we support (below, and in
# docs/versioning.md), and a CommonJS TypeScript application on the newest; each is run, and each registers a
# service with a development Eureka server.
# Usage: scripts/check-package.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/karyon-package-XXXXXX")"
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
npm_quiet=(--prefer-offline --no-audit --no-fund --loglevel=error)
say() { printf -- '-- %s\n' "$*"; }
fail() { printf 'check-package: %s\n' "$*" >&2; exit 1; }
# The TypeScript range of docs/versioning.md: its oldest release and the newest one on the registry.
typescript_oldest=5.3.3
typescript_newest=7.0.2

say "a fresh clone of HEAD, installed with npm ci"
git clone --quiet --no-hardlinks "$repo" "$work/clone"
(cd "$work/clone" && npm ci "${npm_quiet[@]}" >/dev/null)
[ -f "$work/clone/dist/cli/main.js" ] || fail "npm ci on a fresh clone did not build dist/"
version="$(cd "$work/clone" && npx --no-install karyon --version)"
say "npx karyon --version right after npm ci: $version"

say "npm pack"
tarball="$(cd "$work/clone" && npm pack --silent --pack-destination "$work" | tail -n 1)"
tarball="$work/$tarball"
listing="$(tar -tzf "$tarball")"
for file in package/dist/index.js package/dist/index.d.ts package/dist/testing/index.js package/dist/testing/index.d.ts \
  package/dist/extend/index.js package/dist/extend/index.d.ts package/dist/sidecar/index.js package/dist/sidecar/index.d.ts \
  package/dist/cli/main.js package/README.md package/LICENSE; do
  grep -qx "$file" <<<"$listing" || fail "the tarball lacks $file"
done
say "the tarball holds $(wc -l <<<"$listing") files"

say "a new project installs the tarball"
mkdir "$work/consumer"
cd "$work/consumer"
printf '{ "name": "consumer", "private": true, "type": "module" }\n' > package.json
ts_version="$(node -p "require('$repo/node_modules/typescript/package.json').version")"
node_types="$(node -p "require('$repo/node_modules/@types/node/package.json').version")"
npm install "${npm_quiet[@]}" "$tarball" "typescript@$ts_version" "@types/node@$node_types" \
  "typescript-oldest@npm:typescript@$typescript_oldest" "typescript-newest@npm:typescript@$typescript_newest" >/dev/null
[ ! -e node_modules/@types/convict ] || fail "@types/convict was installed: the package's types must not need it"

say "the entry points import"
node --input-type=module -e "
  const main = await import('karyon-ts');
  const testing = await import('karyon-ts/testing');
  const extend = await import('karyon-ts/extend');
  const sidecar = await import('karyon-ts/sidecar');
  for (const name of ['createService', 'defineConfig', 'karyonConfigSchema', 'installSignalHandlers', 'KaryonError']) {
    if (main[name] === undefined) throw new Error('karyon-ts does not export ' + name);
  }
  for (const name of ['EurekaServer', 'InMemoryRegistry']) {
    if (testing[name] === undefined) throw new Error('karyon-ts/testing does not export ' + name);
  }
  for (const name of ['createRule', 'configAdminRoutes', 'builtinMetrics']) {
    if (extend[name] === undefined) throw new Error('karyon-ts/extend does not export ' + name);
  }
  for (const name of ['createSidecar', 'loadSidecarConfig']) {
    if (sidecar[name] === undefined) throw new Error('karyon-ts/sidecar does not export ' + name);
  }
"

say "the karyon bin"
[ "$(npx --no-install karyon --version)" = "$version" ] || fail "karyon --version is not $version"
npx --no-install karyon --help >/dev/null
: > registry.out
# The installed bin itself, not through npx: killing npx would leave the registry it started running.
node_modules/.bin/karyon registry --port 0 --host 127.0.0.1 --wait-when-empty 0 > registry.out 2>&1 &
registry_pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -oE 'http://[0-9.:]+/eureka' registry.out | head -n 1 || true)"
  [ -n "$url" ] && break
  kill -0 "$registry_pid" 2>/dev/null || fail "karyon registry exited: $(cat registry.out)"
  sleep 0.1
done
[ -n "$url" ] || fail "karyon registry printed no URL: $(cat registry.out)"
node -e "fetch('$url/apps', { headers: { accept: 'application/json' } }).then(async (r) => { if (r.status !== 200) throw new Error('GET /apps: ' + r.status); console.log('-- karyon registry answers at $url'); })"
kill "$registry_pid"
wait "$registry_pid" 2>/dev/null || true
registry_pid=""

say "a consumer type-checks against the installed .d.ts files"
cp "$repo/test/package/consumer.ts" consumer.ts
node -e "
  const options = require('$repo/test/package/tsconfig.consumer.json');
  require('fs').writeFileSync('tsconfig.json', JSON.stringify({ ...options, include: ['consumer.ts'] }, null, 2));
"
for typescript in typescript typescript-oldest typescript-newest; do
  tsc="node_modules/$typescript/bin/tsc"
  say "  with $("$tsc" --version)"
  "$tsc" -p tsconfig.json
done

# The consumer projects live in folders below this one: Node and TypeScript find the installed package (and
# @types/node, for TypeScript) in ../node_modules, as in a monorepo's workspace.
say "an ES module application imports every entry point and runs"
cp -r "$repo/test/package/consumers/." .
(cd esm && node main.js) || fail "the ES module application failed"
say "a CommonJS application require()s every entry point and runs"
(cd cjs && node main.js) || fail "the CommonJS application failed"
for typescript in typescript-oldest typescript-newest; do
  tsc="../node_modules/$typescript/bin/tsc"
  for resolution in nodenext bundler; do
    say "a TypeScript application, moduleResolution $resolution, $(cd typescript && "$tsc" --version): compiled and run"
    (cd typescript && "$tsc" -p "tsconfig.$resolution.json" --outDir "out-$typescript-$resolution" && node "out-$typescript-$resolution/main.js") ||
      fail "the TypeScript application ($resolution, $typescript) failed"
  done
done
say "a CommonJS TypeScript application (module nodenext), $(cd typescript-cjs && ../node_modules/typescript-newest/bin/tsc --version): compiled and run"
(cd typescript-cjs && ../node_modules/typescript-newest/bin/tsc -p tsconfig.json --outDir out && node out/main.js) ||
  fail "the CommonJS TypeScript application failed"
say "the package is fine as a user gets it ($(basename "$tarball"))"
